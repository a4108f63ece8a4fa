"""`cityvitals feeds order-history`: a historical work-order export replayed day by day into the sample history."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from cityvitals.config import load_settings
from cityvitals.metrics import registry
from cityvitals.users import audit
from feeds.ingest import Ingestor
from feeds.reasons import reason_kind
from feeds.replay.mapping import MappingError
from feeds.workorders.history import History, rebuild
from feeds.workorders.mapping import load_order_mapping, order_events
from feeds.workorders.replay import read_events
from wiring.runtime import open_runtime

SHOWN = 10  # refusals printed in full


def add_parser(fsub: argparse._SubParsersAction) -> None:
    """Add ``feeds order-history`` to the ``feeds`` subcommands."""
    p = fsub.add_parser("order-history", help="replay a historical work-order export with its own timeline: the "
                                              "per-grid backlog and closure at the end of each day, into the store")
    p.add_argument("file", type=Path, help="the export (CSV or Parquet with --mapping; else CSV or NDJSON events)")
    p.add_argument("--mapping", type=Path, metavar="YAML", help="the export's work-order mapping file")
    p.add_argument("--timezone", default="Asia/Shanghai", help="the zone whose midnights end the days")
    p.add_argument("--csv", type=Path, metavar="OUT", help="also write the daily table to this CSV file")
    p.add_argument("--dry-run", action="store_true", help="print the daily table; store nothing")
    p.add_argument("--name", default="order-history", help="feed name (health record, dead letters)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Rebuild the export's orders, print each day's figures, and store the per-grid aggregates of each day."""
    rt = open_runtime(load_settings())
    ingestor = Ingestor(rt.client, args.name, registry(), frozenset(rt.tree.ids("grid")))
    try:
        if args.mapping is not None:
            items, bad = order_events(args.file, load_order_mapping(args.mapping), rt.tree.grid_locator())
        else:
            items, bad = read_events(args.file)
    except (OSError, ValueError, MappingError) as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2
    history = rebuild(items, ingestor.grids, clock=ingestor.clock)
    history.refused[:0] = bad
    ends = history.day_ends(args.timezone)
    table = history.daily(ends)
    print(daily_text(table, args.timezone))
    if args.csv is not None:
        daily_frame(table, args.timezone).to_csv(args.csv, index=False)
    print(refusal_text(history))
    if args.dry_run:
        return 0
    ingestor.refuse(history.refused)
    stored = _store(history, ends, ingestor, rt.tree.ids("grid"))
    audit(rt.sql, "cli", "feeds_order_history", file=str(args.file), feed=args.name, days=len(ends), samples=stored)
    print(f"{len(ends)} days replayed into history: {stored} samples stored (feed {args.name})")
    return 0


def _store(history: History, ends: list[float], ingestor: Ingestor, grids: list[str]) -> int:
    """Send each day's aggregates through the ingest path, a day at a time; returns the samples accepted."""
    stored = 0
    for items in history.samples(ends, grids):
        stored += ingestor.submit(items).accepted
    ingestor.drain(30)
    return stored


def daily_frame(table: pd.DataFrame, tz: str) -> pd.DataFrame:
    """The daily table with each day named by its local date (the day that ``end`` closes)."""
    zone = ZoneInfo(tz)
    days = [datetime.fromtimestamp(end - 1, zone).date().isoformat() for end in table.index]
    return table.reset_index(drop=True).assign(day=days)[["day", *table.columns]]


def daily_text(table: pd.DataFrame, tz: str) -> str:
    """The daily table as printed: one line a day, closure as a percentage or "—" when nothing was due."""
    frame = daily_frame(table, tz)
    frame["closure_pct"] = [f"{x:.1f}%" if pd.notna(x) else "—" for x in frame["closure_pct"]]
    return frame.to_string(index=False)


def refusal_text(history: History) -> str:
    """How many orders the history holds and how many events were refused, by kind."""
    kinds = Counter(reason_kind(reason) for reason, _ in history.refused)
    counts = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())
    lines = [f"{len(history.orders)} orders, {len(history.refused)} refused" + (f" ({counts})" if counts else "")]
    lines += [f"  {reason}" for reason, _ in history.refused[:SHOWN]]
    return "\n".join(lines)
