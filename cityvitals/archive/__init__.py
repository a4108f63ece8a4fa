"""The sample archive: every accepted sample in Parquet, by day and level, for history and backtests."""

from cityvitals.archive.files import UNKNOWN_LEVEL
from cityvitals.archive.reader import read_samples
from cityvitals.archive.writer import ArchiveJob, Archiver, RoundReport

__all__ = ["UNKNOWN_LEVEL", "ArchiveJob", "Archiver", "RoundReport", "read_samples"]
