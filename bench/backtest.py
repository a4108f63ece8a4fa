"""Measure the backtest runner: simulated days through the engine on a virtual clock, against the live engine.

``python -m bench.backtest [--grids 502] [--days 0.25] [--tick-seconds 60]`` prints one JSON object.

The simulated city (deterministic for the seed) sends what changed each tick and every unchanged
value again within ``--refresh-seconds``, a few hours at a time, as the archive gives a backtest
its samples; generating them is timed apart and not counted, and they are kept under
``--samples-cache`` (default: the XDG cache directory; about 1.7 MB per 31 ticks at 502 grids) for
the next run with the same arguments (``ticks_generated``: 0 when every chunk was read). The
runner (``indicators.runner`` without Redis, as ``cityvitals backtest`` runs it) goes through every
tick; ``runner_seconds`` is its time alone (``runner_cpu_ms_per_tick``: its CPU time, which the
machine's other load moves less). ``speedup_vs_realtime``: simulated time over runner time. The
baseline, in the same run but in a process of its own (before the runner, so neither takes the other's memory or
CPU), is the live engine (the engine service with its Redis, stream and history as in production)
fed the same samples one tick at a time for the first ``--live-ticks`` ticks (0: none);
``speedup_vs_live_engine``: its mean time per tick over the runner's on those same ticks;
``states_identical_to_live_engine``: whether both engines held the same states after each of them.
``peak_rss_mb``: the runner process's peak resident memory (``live_peak_rss_mb``: the baseline's).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

import cityvitals.metrics
import feeds.simulator
import feeds.workorders
from bench.engine import build_tree
from cityvitals.areas import LEVELS
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import make_engine
from cityvitals.metrics import registry
from cityvitals.redis_server import scratch_redis
from feeds.simulator.city import SimulatedCity
from feeds.simulator.orders import SimulatedOrders
from indicators.loader import load_catalog
from indicators.runner import ChangeFilter, ClockRunner
from indicators.ticks import tick_batches

START = datetime(2026, 11, 2, tzinfo=UTC).timestamp()  # a Monday in November: no flood season
CHUNK_SAMPLES = 400_000  # about this many samples generated at once (an archive backtest reads a day at a time)
SAMPLES_PER_GRID = 25  # per tick, about, from the simulated city through the change filter (12.3k at 502 grids)


class Generated:
    """The simulated feed's samples, a chunk of ticks at a time, timing its own work.

    Generating is slow (the work orders' aggregates over their nine days of lookback, about 0.2 s a
    tick at 502 grids: 40 minutes for a week) and not what is measured, so with a ``cache`` directory
    the chunks are kept there as Parquet files under a key of everything they depend on (the
    arguments, the hierarchy, the simulator's code) and read back by later runs.
    """

    def __init__(self, args: argparse.Namespace, grids: list[str], tree, cache: Path | None = None) -> None:  # noqa: ANN001
        self.args, self.grids, self.tree = args, grids, tree
        self.tick, self.seconds, self.samples, self.generated = args.tick_seconds, 0.0, 0, 0
        self.chunk = max(1, CHUNK_SAMPLES // (SAMPLES_PER_GRID * len(grids)))  # ticks: 31 at 502 grids, 1 at 100k
        self.cache = None if cache is None else cache / _cache_key(args, tree, self.chunk)

    def chunks(self, ticks: int) -> Iterator[tuple[pd.DataFrame, float]]:
        """(frame of samples, end of its span) for ticks 1..``ticks`` after START."""
        firsts = range(1, ticks + 1, self.chunk)
        cached = self.cache is not None and all(self._file(first).exists() for first in firsts)
        made = (self._read(first) for first in firsts) if cached else self._generate(firsts)
        end = START + ticks * self.tick
        for first in firsts:
            t0 = time.perf_counter()
            frame = next(made)
            frame = frame[frame["ts"].to_numpy() <= end]  # whole chunks are kept: a longer run reads them too
            self.samples += len(frame)
            self.seconds += time.perf_counter() - t0
            yield frame, START + (min(first + self.chunk, ticks + 1) - 0.5) * self.tick

    def _generate(self, firsts: range) -> Iterator[pd.DataFrame]:
        """Simulate the chunks from the first tick on (the feed remembers what it sent), keeping them if cached."""
        args = self.args
        city, orders = SimulatedCity(self.tree, registry(), seed=args.seed), SimulatedOrders(self.tree, seed=args.seed)
        feed = ChangeFilter(self.grids, args.refresh_seconds, seed=args.seed)
        if self.cache is not None:
            self.cache.mkdir(parents=True, exist_ok=True)
        for first in firsts:
            rows = []
            for k in range(first, first + self.chunk):
                now = START + k * self.tick
                orders.surge(now - self.tick, now, [])
                rows += feed.samples(now, city.values(now, []) | orders.metrics(now))
            frame = pd.DataFrame(rows, columns=["metric", "area", "ts", "value"])
            self.generated += self.chunk
            if self.cache is not None:
                part = self._file(first).with_suffix(".part")
                frame.astype({"metric": "category", "area": "category"}).to_parquet(part, index=False)
                part.rename(self._file(first))  # whole or not there: a stopped run leaves no half chunk
            yield frame

    def _file(self, first: int) -> Path:
        assert self.cache is not None
        return self.cache / f"{first:08d}.parquet"

    def _read(self, first: int) -> pd.DataFrame:
        return pd.read_parquet(self._file(first))


def _cache_key(args: argparse.Namespace, tree, chunk: int) -> str:  # noqa: ANN001
    """A name for the samples of these arguments, this hierarchy and this simulator's code."""
    h = hashlib.blake2b(digest_size=12)
    h.update(json.dumps([args.seed, args.tick_seconds, args.refresh_seconds, chunk, START]).encode())
    for level in LEVELS:
        h.update("\n".join(tree.ids(level)).encode())
        h.update(tree.population(level).tobytes())
    code = [*sorted(Path(feeds.simulator.__file__).parent.glob("*.py")),
            *sorted(Path(feeds.workorders.__file__).parent.glob("*.py")), Path(cityvitals.metrics.__file__)]
    for path in code:
        h.update(path.read_bytes())
    h.update(inspect.getsource(ChangeFilter).encode())
    return h.hexdigest()


def measure(args: argparse.Namespace) -> dict:
    """Run the live engine over the first ticks in a process of its own, then the runner over every tick."""
    live = _live_baseline(args) if args.live_ticks else None
    tree = build_tree(args.grids)
    catalog = load_catalog([DEFAULT_CATALOG])
    ticks = int(args.days * 86400 / args.tick_seconds)
    source = Generated(args, tree.ids("grid"), tree, args.samples_cache)
    runner_times: list[float] = []
    runner_cpu: list[float] = []
    digests: list[str] = []
    transitions = 0
    with tempfile.TemporaryDirectory(prefix="cv-bench-backtest-") as scratch:
        runner = ClockRunner(None, make_engine(f"sqlite:///{scratch}/runner.sqlite"), tree, catalog, source="bench",
                             timeline=True)
        for k, (now, cols) in enumerate(tick_batches(source.chunks(ticks), START, START + ticks * args.tick_seconds,
                                                     args.tick_seconds)):
            t0, c0 = time.perf_counter(), time.process_time()
            transitions += runner.step(now, cols).transitions
            runner_times.append(time.perf_counter() - t0)
            runner_cpu.append(time.process_time() - c0)
            if live is not None and k < len(live["digests"]):
                digests.append(_digest(runner.engine.tracks))
        warnings = runner.transitions()
    runner_s = float(np.sum(runner_times))
    new = warnings["to_state"].isin(["yellow", "red"]) & ~warnings["from_state"].isin(["yellow", "red"])
    figures = {
        "grids": args.grids, "days": args.days, "tick_seconds": args.tick_seconds, "ticks": len(runner_times),
        "indicators": len(catalog.indicators), "samples": source.samples,
        "samples_per_tick": round(source.samples / max(len(runner_times), 1)),
        "runner_seconds": round(runner_s, 2), "runner_ms_per_tick": round(1000 * runner_s / len(runner_times), 2),
        "runner_cpu_ms_per_tick": round(1000 * float(np.mean(runner_cpu)), 2),
        # the first tick takes every cell anew: over a few ticks (a province) it is most of the time
        "first_tick_ms": round(1000 * runner_times[0], 1),
        "runner_ms_per_tick_after_first": _ms(runner_times[1:]),
        "runner_cpu_ms_per_tick_after_first": _ms(runner_cpu[1:]),
        "generate_seconds": round(source.seconds, 2), "ticks_generated": source.generated,
        "speedup_vs_realtime": round(ticks * args.tick_seconds / runner_s, 1),
        "transitions": transitions, "new_warnings": int(new.sum()),
        "timeline_rows": len(runner.timeline.frame()) if runner.timeline else 0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if live is None:
        return figures
    same = float(np.mean(runner_times[: len(live["times"])]))
    return {**figures, "live_ticks": len(live["times"]), "live_ms_per_tick": _ms(live["times"]),
            "runner_ms_per_tick_same_ticks": round(1000 * same, 2),
            "speedup_vs_live_engine": round(float(np.mean(live["times"])) / same, 2),
            "states_identical_to_live_engine": digests == live["digests"],
            "live_peak_rss_mb": live["peak_rss_mb"]}


def _ms(seconds: list[float]) -> float | None:
    """The mean in milliseconds (None: no tick)."""
    return round(1000 * float(np.mean(seconds)), 2) if seconds else None


def _live_baseline(args: argparse.Namespace) -> dict:
    """The live engine's time per tick and states over the first ``--live-ticks`` ticks, in a process of its own.

    Apart, so that its memory (Redis, records, history: most of 22 GB at 100,000 grids beside the
    runner) and its time are not the runner's; the process ends before the runner starts.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_run_live, args).result()


def _run_live(args: argparse.Namespace) -> dict:
    """In the baseline's process: the engine service with its Redis, stream and history, fed tick by tick."""
    tree = build_tree(args.grids)
    ticks = min(args.live_ticks, int(args.days * 86400 / args.tick_seconds))
    source = Generated(args, tree.ids("grid"), tree, args.samples_cache)
    times, digests = [], []
    with tempfile.TemporaryDirectory(prefix="cv-bench-backtest-live-") as scratch:
        client, server = scratch_redis(Path(scratch))
        try:
            live = ClockRunner(client, make_engine(f"sqlite:///{scratch}/live.sqlite"), tree,
                               load_catalog([DEFAULT_CATALOG]), source="bench", history_levels=("district", "street"))
            for now, cols in tick_batches(source.chunks(ticks), START, START + ticks * args.tick_seconds,
                                          args.tick_seconds):
                t0 = time.perf_counter()
                live.step(now, cols)
                times.append(time.perf_counter() - t0)
                assert live.service is not None
                digests.append(_digest(live.service.engine.tracks))
        finally:
            server.shutdown(nosave=True)
    return {"times": times, "digests": digests,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _digest(tracks: dict) -> str:
    """One text for the states and pending states of every level: equal exactly when they all are."""
    h = hashlib.blake2b(digest_size=16)
    for level in sorted(tracks):
        h.update(level.encode())
        h.update(tracks[level].state.tobytes())
        h.update(tracks[level].pending.tobytes())
    return h.hexdigest()


def default_samples_cache() -> Path:
    """Where generated samples are kept between runs (the XDG cache directory)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cityvitals" / "backtest-samples"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.backtest", description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=502)
    parser.add_argument("--days", type=float, default=0.25, help="simulated days (the issue's figure: 7)")
    parser.add_argument("--tick-seconds", type=float, default=60.0)
    parser.add_argument("--refresh-seconds", type=float, default=600.0,
                        help="an unchanged value is sent again after this long")
    parser.add_argument("--live-ticks", type=int, default=30, help="ticks the live engine baseline runs (0: none)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples-cache", type=Path, default=default_samples_cache(),
                        help="keep the generated samples here for later runs (default: %(default)s; '' : do not)")
    args = parser.parse_args(argv)
    args.samples_cache = args.samples_cache if str(args.samples_cache) not in ("", ".") else None
    t0 = time.perf_counter()
    figures = measure(args)
    print(json.dumps({**figures, "wall_seconds": round(time.perf_counter() - t0, 1)}))


if __name__ == "__main__":
    main()
