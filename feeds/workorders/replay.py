"""Read work-order events from a CSV or NDJSON file, to replay them into the pipeline.

Deliberately small: columns are the event's own field names, ``ts`` in Unix seconds or ISO 8601.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from cityvitals.areas.model import GridLocator
from feeds.ingest import IngestResult, Refusal
from feeds.replay.reader import CHUNK_BYTES
from feeds.workorders.mapping import OrderMapping, order_event_chunks
from feeds.workorders.pipeline import WorkOrderPipeline

CHUNK_LINES = 5000  # of a file of events read a part at a time
BOOLEANS = {"true": True, "1": True, "false": False, "0": False, "": None}


def _csv_item(row: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {k: v for k, v in row.items() if k is not None}
    try:
        item["ts"] = float(item.get("ts", ""))
    except ValueError:
        pass  # an ISO time, or garbage the pipeline will refuse with a reason
    if "satisfied" in item:
        item["satisfied"] = BOOLEANS.get(item["satisfied"].strip().lower(), item["satisfied"])
    if not item.get("resolved"):
        item.pop("resolved", None)
    return item


def read_events(path: Path) -> tuple[list[Any], list[tuple[str, str]]]:
    """The events of a ``.csv`` or ``.ndjson``/``.jsonl`` file, and its unreadable lines with reasons."""
    items: list[Any] = []
    bad: list[tuple[str, str]] = []
    for part_items, part_bad in event_chunks(path):
        items += part_items
        bad += part_bad
    return items, bad


def event_chunks(path: Path, lines: int = CHUNK_LINES) -> Iterator[tuple[list[Any], list[tuple[str, str]]]]:
    """The events and unreadable lines of :func:`read_events`, ``lines`` lines of the file at a time."""
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            rows = map(_csv_item, csv.DictReader(fh))
            while part := list(islice(rows, lines)):
                yield part, []
            return
        numbered = enumerate(fh, start=1)
        while part := list(islice(numbered, lines)):
            items, bad = [], []
            for n, line in part:
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    bad.append((f"{path}:{n}: not valid JSON at column {exc.colno}: {exc.msg}", line))
            yield items, bad


def replay_events(pipeline: WorkOrderPipeline, path: Path, batch: int = 5000,
                  mapping: OrderMapping | None = None, locator: GridLocator | None = None,
                  chunk_bytes: int = CHUNK_BYTES) -> IngestResult:
    """Feed every event of a file through the pipeline in batches; the result counts the whole file.

    With a ``mapping`` the file is a platform's export, one row per order (feeds/workorders/mapping.py),
    read ``chunk_bytes`` at a time; else ``batch`` lines at a time. Memory holds one part of the file.
    """
    parts = order_event_chunks(path, mapping, locator, chunk_bytes) if mapping is not None \
        else event_chunks(path, batch)
    total, start = IngestResult(), 0  # events of the file before the part in hand
    for items, bad in parts:
        pipeline.refuse(bad)
        total.refused += [Refusal(-1, reason) for reason, _ in bad]
        for first in range(0, len(items), batch):
            part = pipeline.submit(items[first : first + batch])
            total.accepted += part.accepted
            total.refused += [Refusal(r.index + start + first, r.reason) for r in part.refused]
        start += len(items)
    return total
