"""`cityvitals archive status|compact|expire`: what the sample archive holds, and its upkeep by hand."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import UTC, datetime

from cityvitals.archive.files import expire
from cityvitals.archive.status import archive_status, compact_finished
from cityvitals.config import load_settings


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``archive`` sub-commands on the top-level sub-command parsers."""
    archive = subparsers.add_parser("archive", help="the sample archive ($CITYVITALS_ARCHIVE_DIR): status, upkeep")
    commands = archive.add_subparsers(dest="archive_command", required=True)
    status = commands.add_parser("status", help="days, files, bytes, samples, oldest and newest sample")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(func=run_status)
    commands.add_parser("compact", help="merge each finished day's partition into one file (today's are "
                        "left to the archiver)").set_defaults(func=run_compact)
    expiring = commands.add_parser("expire", help="delete the days past retention")
    expiring.add_argument("--days", type=float, default=None,
                          help="keep this many days (default: $CITYVITALS_ARCHIVE_DAYS, 90)")
    expiring.set_defaults(func=run_expire)


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def run_status(args: argparse.Namespace) -> int:
    """Print what the archive holds."""
    s = archive_status(load_settings().archive_path)
    if args.json:
        print(json.dumps({**asdict(s), "root": str(s.root)}))
        return 0
    print(f"archive {s.root}: {s.days} day(s), {s.partitions} partition(s), {s.files} file(s), "
          f"{s.bytes / 1e6:.1f} MB, {s.rows:,} samples")
    print(f"oldest sample {_when(s.oldest)}, newest {_when(s.newest)}")
    for level, rows in sorted(s.rows_by_level.items()):
        print(f"  {level:<10} {rows:>14,}")
    return 0


def run_compact(args: argparse.Namespace) -> int:
    """Compact the finished days' partitions."""
    root = load_settings().archive_path
    print(f"{compact_finished(root)} partition(s) of finished days compacted in {root}")
    return 0


def run_expire(args: argparse.Namespace) -> int:
    """Delete the days older than the retention."""
    settings = load_settings()
    keep = settings.archive_days if args.days is None else args.days
    if keep <= 0:
        print("cityvitals: --days must be more than 0", file=sys.stderr)
        return 2
    gone = expire(settings.archive_path, keep, datetime.now(UTC))
    print(f"{len(gone)} day(s) older than {keep:g} days deleted" + (f": {', '.join(gone)}" if gone else ""))
    return 0
