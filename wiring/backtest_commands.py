"""`cityvitals backtest`: what a catalog would have warned over archived or replayed samples, and versus another.

The samples come from the archive (``--source archive``, the default) or from an export read with
a replay mapping (``--source FILE --mapping MAP``); each catalog runs through the real engine on a
virtual clock (``indicators.backtest``), on a Redis and SQLite of its own: nothing live is touched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from cityvitals.archive.files import days
from cityvitals.archive.status import day_chunks
from cityvitals.areas import AreaTree, load_areas, pukou_demo
from cityvitals.config import Settings, load_settings
from cityvitals.db import connect_database
from indicators import backtest_report as report
from indicators.backtest import backtest
from indicators.compiled import compile_catalog
from indicators.loader import Catalog, CatalogInvalid, load_catalog
from indicators.runner import RunReport
from indicators.schema import parse_duration

TZ = "Asia/Shanghai"  # of --from and --to written without an offset (the engine's zone)
STOPPED = 130  # exit status of a run stopped by Ctrl-C (as a shell reports SIGINT)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``backtest`` on the top-level sub-command parsers."""
    p = subparsers.add_parser("backtest", help="run a catalog over past samples: the warnings it would have raised")
    p.add_argument("--catalog", type=Path, required=True, help="the catalog to try (file or directory)")
    p.add_argument("--against", type=Path, help="the catalog to compare with (e.g. the live one)")
    p.add_argument("--from", dest="start", required=True, help="start: 2026-11-01 or 2026-11-01T08:00 (+08:00 "
                   "unless an offset is given)")
    p.add_argument("--to", dest="end", required=True, help="end (a date alone: the end of that day)")
    p.add_argument("--source", default="archive", help="archive (default) or a CSV/Parquet export")
    p.add_argument("--mapping", type=Path, help="a file's column mapping (YAML: map, metric, time_format, timezone)")
    p.add_argument("--area", help="report this area and the areas below it only")
    p.add_argument("--tick", default="60s", help="tick length: 60s, 5m... (default 60s)")
    p.add_argument("--profile", action="append", default=[], help="a profile switched on throughout (repeat)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--csv", type=Path, help="write the state timeline (every change) to this CSV file")
    p.set_defaults(func=run_backtest)


class Refused(Exception):
    """Input the backtest cannot run with; the message says what and where."""


def parse_time(text: str, end: bool = False) -> float:
    """Unix seconds of an ISO date or time (+08:00 unless given); a date alone as ``--to`` is the day's end."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TZ)).timestamp()
        when = datetime.fromisoformat(text)
    except ValueError:
        raise Refused(f"{text!r} is not a date or time like 2026-11-01 or 2026-11-01T08:00") from None
    return (when if when.tzinfo else when.replace(tzinfo=ZoneInfo(TZ))).timestamp()


def _catalog(path: Path, flag: str) -> Catalog:
    try:
        return load_catalog([path])
    except CatalogInvalid as exc:
        raise Refused(f"{flag} {path} fails `catalog check`:\n" + "\n".join(map(str, exc.errors))) from None


def _tree(settings: Settings) -> AreaTree:
    """The installation's areas, read only (the demo district where none were imported)."""
    areas = load_areas(connect_database(settings.database_url))
    return AreaTree(areas or pukou_demo())


def _source(args: argparse.Namespace, settings: Settings, tree: AreaTree, start: float, end: float,
            metrics: set[str]) -> tuple[Callable[[], Iterable[tuple[pd.DataFrame, float]]], str]:
    """A way to read the samples again for each catalog (of ``metrics`` only), and what they are, for the report."""
    if args.source == "archive":
        root = settings.archive_path
        first, last = (datetime.fromtimestamp(t, ZoneInfo("UTC")).strftime("%Y-%m-%d") for t in (start, end - 1e-6))
        if not any(first <= d <= last for d in days(root)):
            raise Refused(f"the archive {root} has no samples from {_shown(start)} to {_shown(end)} "
                          f"(it holds {_span(days(root))})")
        return lambda: day_chunks(root, start, end, metrics), f"archive {root}"
    from feeds.replay.mapping import MappingError
    from feeds.replay.samples import read_file_samples

    if args.mapping is None:
        raise Refused("--source FILE needs --mapping MAP (which columns hold time, value, metric and area)")
    try:
        read = read_file_samples(Path(args.source), Path(args.mapping), tree)
    except MappingError as exc:
        raise Refused(f"--mapping {args.mapping} has errors:\n{exc}") from None
    except (OSError, ValueError) as exc:
        raise Refused(str(exc)) from None
    for line, reason in read.refused[:20]:
        print(f"{args.source}:{line}: {reason}", file=sys.stderr)
    frame = read.frame[(read.frame["ts"] >= start) & (read.frame["ts"] < end)]
    if frame.empty:
        raise Refused(f"{args.source}: no usable samples from {_shown(start)} to {_shown(end)} "
                      f"({read.rows} rows, {len(read.refused)} refused)")
    return lambda: [(frame, end)], f"file {args.source} ({len(frame)} samples, {len(read.refused)} rows refused)"


def _shown(t: float) -> str:
    return datetime.fromtimestamp(t, ZoneInfo(TZ)).isoformat(timespec="minutes")


def _span(held: list[str]) -> str:
    return f"days {held[0]} to {held[-1]}" if held else "no days at all"


def _progress(label: str, total: int) -> Callable[[RunReport], None]:
    began = time.monotonic()

    def say(done: RunReport) -> None:
        print(f"backtest {label}: {_shown(done.last)}, {done.ticks:,}/{total:,} ticks ({done.ticks / total:.0%}), "
              f"{done.samples:,} samples, {time.monotonic() - began:.0f} s", file=sys.stderr)
    return say


def run_backtest(args: argparse.Namespace) -> int:
    """Run the catalog (and the one to compare with) and print the figures; 130 if stopped by Ctrl-C."""
    try:
        return _run(args)
    except Refused as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while reading the catalogs or a file, before any tick: nothing to report
        print("cityvitals: stopped before the first tick", file=sys.stderr)
        return STOPPED


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    start, end = parse_time(args.start), parse_time(args.end, end=True)
    tick_s = _tick(args.tick)
    if end <= start:
        raise Refused(f"--to ({_shown(end)}) must be after --from ({_shown(start)})")
    new = _catalog(args.catalog, "--catalog")
    current = _catalog(args.against, "--against") if args.against else None
    unknown = [p for p in args.profile if p not in new.profiles or (current and p not in current.profiles)]
    if unknown:
        raise Refused(f"--profile {unknown[0]}: not a profile of both catalogs (--catalog has "
                      f"{', '.join(new.profiles) or 'none'})")
    tree = _tree(settings)
    if args.area and args.area not in tree:
        raise Refused(f"unknown area {args.area!r}")
    areas = report.subtree(tree, args.area) if args.area else None
    metrics = {m for c in (new, current) if c is not None for m in compile_catalog(c).metrics}
    chunks, described = _source(args, settings, tree, start, end, metrics)
    total = max(int((end - start) // tick_s), 1)
    every = max(500, total // 50)
    began = time.monotonic()
    runs = {"new": backtest(tree, new, chunks(), start, end, tick_s, args.profile, _progress("new", total), every)}
    if current is not None and not runs["new"].run.stopped:
        runs["current"] = backtest(tree, current, chunks(), start, runs["new"].end, tick_s, args.profile,
                                   _progress("current", total), every)
    stopped = any(o.run.stopped for o in runs.values())
    result = report.as_json(runs, areas, described, time.monotonic() - began)
    if args.csv:
        report.timeline_csv(runs, areas, args.csv)
    print(json.dumps(result, ensure_ascii=False) if args.json else report.as_text(result))
    if stopped:
        print(f"cityvitals: stopped at {_shown(min(o.end for o in runs.values()))}; the figures cover the time "
              "until then", file=sys.stderr)
    return STOPPED if stopped else 0


def _tick(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise Refused(f"--tick: {exc}") from None
    if seconds <= 0:
        raise Refused("--tick must be longer than 0 s")
    return seconds
