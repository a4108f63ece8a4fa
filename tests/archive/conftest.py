"""Helpers of the archive tests: the tiny tree's levels, and counting what the archive holds."""

from __future__ import annotations

from pathlib import Path

from cityvitals.archive import read_samples
from tests.conftest import tiny_tree

LEVELS = {a: level for level in ("district", "street", "community", "grid") for a in tiny_tree().ids(level)}


def archived(root: Path) -> tuple[int, int]:
    """Samples in the archive, and distinct (metric, area, ts) among them."""
    frame = read_samples(root, 0.0, 4e9)
    return len(frame), len(frame.drop_duplicates(["metric", "area", "ts"]))
