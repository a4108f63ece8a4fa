"""`cityvitals feeds replay`: a file through a mapping into the store, or a dry run that stores nothing."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime
from itertools import islice

from pydantic import ValidationError

from cityvitals.config import load_settings
from cityvitals.users import audit
from feeds.reasons import reason_kind
from feeds.replay.adapter import replay_feed
from feeds.replay.apply import Long
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from wiring.runtime import open_runtime

SHOWN = 10  # samples a dry run prints


def replay(args: argparse.Namespace) -> int:
    """Replay (or dry-run) the file of ``args``; print what became of every row; return the exit code."""
    cfg = _config(args)
    if cfg is None:
        return 2
    rt = open_runtime(load_settings())
    feed = replay_feed(rt, cfg)
    try:
        if args.dry_run:
            return _dry_run(feed)
        rows = feed.run()
    except (OSError, ValueError) as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2
    feed.ingestor.drain(30)
    h = feed.ingestor.health
    audit(rt.sql, "cli", "feeds_replay", file=str(args.file), feed=args.name, rows=rows, accepted=h["accepted"])
    if feed.report is not None:
        print(feed.report.text(args.name))
    print(f"{rows} rows replayed: {h['accepted']} samples stored, {h['refused']} refused (dead-letter stream)")
    return 0


def _config(args: argparse.Namespace) -> ReplayFeedConfig | None:
    """The feed's configuration from the options, or None after saying in plain words what is missing."""
    column_map = dict(m.split("=", 1) for m in args.map if "=" in m)
    try:
        return ReplayFeedConfig(type="replay", name=args.name, file=args.file, metric=args.metric,
                                map=None if args.mapping else column_map, mapping=args.mapping,
                                time_format=args.time_format, timezone=args.timezone,
                                speed=args.speed if args.speed == "max" else float(args.speed))
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            option = f"--map {where.removeprefix('map.')}=COLUMN" if where.startswith("map.") else where or "options"
            reason = err["msg"].removeprefix("Value error, ")
            print(f"cityvitals: {option}: {reason}", file=sys.stderr)
        return None
    except ValueError as exc:  # the speed
        print(f"cityvitals: {exc}", file=sys.stderr)
        return None


def _dry_run(feed: ReplayFeed) -> int:
    """Print the first samples as they would be stored and the refusal counts by reason; store nothing.

    The file is checked a chunk at a time: only the counts and the first lines shown are kept.
    """
    shown: list[str] = []
    first_refused: list[str] = []
    kinds: Counter[str] = Counter()
    samples = empty = 0
    for long, checked in feed.dry_run():
        refused = dict(checked.refused)
        good = (i for i in range(len(long)) if i not in refused)
        shown += [_sample_text(long, i) for i in islice(good, SHOWN - len(shown))]
        more = checked.refused[: SHOWN - len(first_refused)]
        first_refused += [f"row {long.line[i]}: {reason}" for i, reason in more]
        kinds.update(reason_kind(reason) for reason in refused.values())
        samples, empty = samples + len(long), empty + long.empty
    print(f"first {len(shown)} samples as they would be stored:")
    for line in shown:
        print("  " + line)
    refusals = sum(kinds.values())
    counts = ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())
    empty_text = f", {empty} empty cells not sent" if empty else ""
    print(f"{samples} samples{empty_text}: {samples - refusals} would be stored, {refusals} refused"
          + (f" ({counts})" if counts else ""))
    for line in first_refused:
        print("  " + line)
    return 0


def _sample_text(long: Long, i: int) -> str:
    """One sample as a line: row, metric, where, time (UTC) and value."""
    where = long.area[i] if long.area is not None else f"({long.lon[i]}, {long.lat[i]})"  # type: ignore[index]
    when = datetime.fromtimestamp(long.ts[i], UTC).isoformat()
    return f"row {long.line[i]}: {long.metric[i]} {where} {when} {long.values(i, i + 1)[0]}"
