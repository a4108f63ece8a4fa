"""Read work-order events from a CSV or NDJSON file, to replay them into the pipeline.

Deliberately small: columns are the event's own field names, ``ts`` in Unix seconds or ISO 8601.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from cityvitals.areas.model import GridLocator
from feeds.ingest import IngestResult, Refusal
from feeds.workorders.mapping import OrderMapping, order_events
from feeds.workorders.pipeline import WorkOrderPipeline

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
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            return [_csv_item(row) for row in csv.DictReader(fh)], []
        items, bad = [], []
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                bad.append((f"{path}:{n}: not valid JSON at column {exc.colno}: {exc.msg}", line))
        return items, bad


def replay_events(pipeline: WorkOrderPipeline, path: Path, batch: int = 5000,
                  mapping: OrderMapping | None = None, locator: GridLocator | None = None) -> IngestResult:
    """Feed every event of a file through the pipeline in batches; the result counts the whole file.

    With a ``mapping`` the file is a platform's export, one row per order (feeds/workorders/mapping.py).
    """
    items, bad = order_events(path, mapping, locator) if mapping is not None else read_events(path)
    pipeline.refuse(bad)
    total = IngestResult(refused=[Refusal(-1, reason) for reason, _ in bad])
    for start in range(0, len(items), batch):
        part = pipeline.submit(items[start : start + batch])
        total.accepted += part.accepted
        total.refused += [Refusal(r.index + start, r.reason) for r in part.refused]
    return total
