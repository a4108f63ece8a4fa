"""Measure the warnings a duty officer would get: the simulated city through the real engine on a virtual clock.

``python -m bench.alarms [--seed N] [--hours 24] [--grids 502]`` prints one JSON object.

The simulator (city and work orders, deterministic for the seed) feeds two real engines
(``indicators.runner``), each with an embedded Redis and a SQLite warnings log: one with the
shipped catalog, one with minimum evidence and funnel limits switched off (``baseline``). The clock
starts at midnight of a seeded day of 2026, after a warm-up that is not counted; then a quiet day
(no scenario); then every scenario once, in a seeded order, each at a seeded area of its level,
starting at a seeded minute of its own slot. A feed sends what changed each tick and every
unchanged value again within ``--refresh-seconds`` (as devices reporting on change do). A duty officer
acknowledges each warning once it has stood ``--ack-minutes`` among the ticker's visible lines (0: nobody
does); acknowledged warnings rank below those not yet seen, as on the wall.

Counted as a *new* warning: a transition into yellow or red from a state that is neither
(normal, stale, or any state of its own that is not a warning); a yellow turning red is an
*escalation*, counted apart. ``chattering``: (indicator, area) pairs with more than 3 transitions
of any kind within 10 minutes of the quiet day (``chattering_by_indicator`` names them by indicator and
level). ``flood_share``: share of the quiet day's
10-minute windows with more than 10 new warnings. A scenario's *expected* indicators are those
reading a metric it moves (its effects in ``feeds/simulator/scenarios.py``); its *places* are its
area, everything under it (a street's incident seen in one of its communities is seen in the street)
and its ancestors. A scenario is *detected* when one of its places shows one of its expected
indicators yellow or red in the first three rows of the district's ticker as the overview shows it
(macro indicators, each area's trouble folded into its highest warning ancestor's row:
``dashboard.overview.wall_ticker``); ``detect_ticks`` counts ticks after
onset. ``crossed_ticks`` counts them until the data of an expected macro indicator at one of its places
crossed a limit (the cell turned yellow or red or began its hold towards it), so
``after_crossing_ticks_p95`` is the engine's and the wall's own delay (the ``min_duration`` hold and the
ranking) apart from how fast the incident itself grows; ``warned_ticks`` counts them to the first
such warning at its places in the log, shown or not (so a slow detection tells a late judgement from
a warning ranked off the top rows). ``scenario_false_per_hour``: new warnings while a scenario runs
outside its places (and not the aftermath of the scenarios before it: their expected indicators at
their places), per scenario hour.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import redis

from bench.common import bench_redis
from bench.engine import build_tree
from cityvitals import store
from cityvitals.areas import AreaTree
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import make_engine
from cityvitals.metrics import registry
from cityvitals.redis_server import stop_scratch
from dashboard.overview import wall_ticker
from feeds.simulator.city import SimulatedCity
from feeds.simulator.orders import SimulatedOrders
from feeds.simulator.scenarios import SCENARIOS, ActiveScenario
from feeds.simulator.seasons import flood_season
from indicators.backtest_report import chattering as chattering_cells
from indicators.forecast_report import forecast_figures
from indicators.loader import Catalog, load_catalog, without_statistics
from indicators.runner import ChangeFilter, ClockRunner

TZ = ZoneInfo("Asia/Shanghai")
WARNING = ("yellow", "red")
NEW_WARNING = "into yellow or red from a state that is neither; yellow to red counted apart as an escalation"
SCENARIO_MINUTES = 90  # a scenario runs at most this long here (detection is in its first minutes)
SLOT_MINUTES = 120  # each scenario's slot: it starts at a seeded minute of the slot's first half hour


@dataclass
class Run:
    """One scenario as played: where, when, and what the ticker showed."""

    scenario: ActiveScenario
    places: frozenset[str]  # its area, the area's ancestors and every area under it
    expected: frozenset[str]  # the indicators it moves (see :func:`expected_indicators`)
    detected: int | None = None  # ticks after onset of the first detection
    crossed: int | None = None  # ticks after onset until an expected macro cell's data crossed a limit


def crossed(client: redis.Redis, run: Run, defs: dict[str, dict]) -> bool:
    """Whether an expected macro indicator's data crossed a limit at one of the run's places.

    Crossed: the cell is yellow or red, or on its way there (held for its ``min_duration``).
    """
    expected = [i for i in run.expected if defs.get(i, {}).get("tier") == "macro"]
    return any(r.get("s") in WARNING or r.get("p") in WARNING
               for area in run.places for r in store.read_states(client, area, expected).values())


class DutyOfficer:
    """Acknowledges each warning episode once it has stood ``after_s`` among the ticker's visible lines.

    What is folded into a row is not shown, so it is not acknowledged: it surfaces again if its row clears.
    """

    def __init__(self, client: redis.Redis, tree: AreaTree, defs: dict[str, dict], after_s: float) -> None:
        self.client, self.tree, self.defs, self.after_s = client, tree, defs, after_s
        self.seen: dict[tuple[str, str, float], float] = {}  # episode -> when it was first on screen
        self.acks = 0

    def look(self, now: float) -> None:
        """Read the district's ticker as the wall shows it; acknowledge what has been on it long enough."""
        if self.after_s <= 0:
            return
        for w in wall_ticker(self.client, self.tree, self.tree.root.id, self.defs):
            episode = (w["i"], w["a"], w["since"])
            if not w.get("ack") and now - self.seen.setdefault(episode, now) >= self.after_s:
                self.acks += store.rank_acknowledged(self.client, self.tree, *episode)


def expected_indicators(catalog: Catalog, scenario: str) -> frozenset[str]:
    """The indicators a scenario is expected to raise: those reading a metric it moves.

    Directly or through other indicators (its effects in ``feeds/simulator/scenarios.py``), so the list
    follows the catalog.
    """
    moved = {e.metric for e in SCENARIOS[scenario].effects}
    reads: dict[str, set[str]] = {}
    for ind in catalog.indicators:  # in dependency order: what an indicator reads comes before it
        reads[ind.id] = catalog.metric_inputs(ind).union(*(reads[i] for i in catalog.indicator_inputs(ind)))
    return frozenset(i for i, metrics in reads.items() if metrics & moved)


def places(tree: AreaTree, area: str) -> frozenset[str]:
    """Where a scenario in ``area`` shows: the area, everything under it and its ancestors."""
    under, todo = [], [area]
    while todo:
        under.append(todo.pop())
        todo.extend(child.id for child in tree.children(under[-1]))
    return frozenset([*under, *(a.id for a in tree.ancestors(area))])


def plan(tree: AreaTree, catalog: Catalog, rng: np.random.Generator, first: float, tick_s: float,
         ids: list[str]) -> list[Run]:
    """Each scenario once, in a seeded order, each in its slot at a seeded area and minute."""
    runs = []
    for k, sid in enumerate(rng.permutation(sorted(ids)).tolist()):
        scenario = SCENARIOS[sid]
        area = str(rng.choice(tree.ids(scenario.level)))
        start = first + k * SLOT_MINUTES * 60 + round(rng.integers(0, 30) * 60 / tick_s) * tick_s
        running = ActiveScenario(sid, area, start, min(scenario.minutes, SCENARIO_MINUTES))
        runs.append(Run(running, places(tree, area), expected_indicators(catalog, sid)))
    return runs


def shows(rows: list[dict], run: Run) -> bool:
    """Whether the ticker rows show the scenario: an expected indicator, warning, at one of its places."""
    return any(r["i"] in run.expected and r["a"] in run.places and r["s"] in WARNING for r in rows)


def catalogs() -> dict[str, Catalog]:
    """The shipped catalog, and the baseline without minimum evidence and funnel limits."""
    catalog = load_catalog([DEFAULT_CATALOG])
    return {"catalog": catalog, "baseline": without_statistics(catalog)}


def simulate(args: argparse.Namespace, which: str) -> dict:
    """Run the simulated city through one engine (``catalog`` or ``baseline``); return its figures."""
    rng = np.random.default_rng(args.seed)
    tree = build_tree(args.grids)
    day = date(2026, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
    midnight = datetime(day.year, day.month, day.day, tzinfo=TZ).timestamp()
    tick = args.tick_seconds
    quiet = (midnight, midnight + args.hours * 3600)
    catalog = catalogs()[which]
    runs = plan(tree, catalog, rng, quiet[1], tick, args.scenarios)
    client, server = bench_redis(None)
    if flood_season(datetime.fromtimestamp(midnight, TZ)):
        store.switch_profile(client, "flood_season", True)  # as a command centre does from June
    with tempfile.TemporaryDirectory(prefix="cv-alarms-") as keep:
        runner = ClockRunner(client, make_engine(f"sqlite:///{Path(keep) / which}.sqlite"), tree, catalog)
        city, orders = SimulatedCity(tree, registry(), seed=args.seed), SimulatedOrders(tree, seed=args.seed)
        feed = ChangeFilter(tree.ids("grid"), args.refresh_seconds, seed=args.seed)
        defs = {i.id: {"tier": i.tier} for i in catalog.indicators}
        officer = DutyOfficer(client, tree, defs, args.ack_minutes * 60)
        now, end = midnight - args.warmup_minutes * 60, runs[-1].scenario.start + SLOT_MINUTES * 60
        while now < end:
            active = [r.scenario for r in runs if r.scenario.start <= now < r.scenario.end]
            orders.surge(now - tick, now, active)
            runner.step(now, feed.samples(now, city.values(now, active) | orders.metrics(now)))
            officer.look(now)
            rows = wall_ticker(client, tree, tree.root.id, defs, 3)
            for run in runs:
                if not run.scenario.start < now < run.scenario.end:
                    continue
                if run.crossed is None and crossed(client, run, defs):
                    run.crossed = round((now - run.scenario.start) / tick)
                if run.detected is None and shows(rows, run):
                    run.detected = round((now - run.scenario.start) / tick)
            now += tick
        log, early = runner.transitions(), runner.early.frame()
    stop_scratch(client)  # a pool's worker ends without exit handlers
    del server
    hours = (end - midnight) / 3600
    return {"day": day.isoformat(), **figures_of(log, quiet, runs, tick),
            "acks_per_hour": round(officer.acks / hours, 2),
            "forecasts": forecast_figures(catalog, early, log, midnight, end)}


def figures_of(log: pd.DataFrame, quiet: tuple[float, float], runs: list[Run], tick: float) -> dict:
    """The quiet day's alarm figures and the scenarios' from one engine's warnings log."""
    new = log[log["to_state"].isin(WARNING) & ~log["from_state"].isin(WARNING)]
    escalations = log[(log["from_state"] == "yellow") & (log["to_state"] == "red")]
    hours = (quiet[1] - quiet[0]) / 3600
    in_quiet = new[(new["at"] >= quiet[0]) & (new["at"] < quiet[1])]
    windows = np.bincount(((in_quiet["at"] - quiet[0]) // 600).astype(int), minlength=int(hours * 6))
    quiet_log = log[(log["at"] >= quiet[0]) & (log["at"] < quiet[1])]
    detected = [r.detected for r in runs]
    ticks = [d for d in detected if d is not None]
    late = [r.detected - r.crossed for r in runs if r.detected is not None and r.crossed is not None]
    false = [false_warnings(new, runs, k) for k in range(len(runs))]
    scenario_hours = sum(r.scenario.minutes for r in runs) / 60
    return {
        "quiet_alarms_per_hour": round(len(in_quiet) / hours, 2),
        "quiet_escalations_per_hour": round(len(escalations[(escalations["at"] >= quiet[0])
                                                           & (escalations["at"] < quiet[1])]) / hours, 2),
        "quiet_by_level": in_quiet["level"].value_counts().to_dict(),
        "quiet_top_indicators": in_quiet["indicator"].value_counts().head(12).to_dict(),
        "chattering": chattering(quiet_log),
        "chattering_by_indicator": {f"{i}@{lvl}": int(n) for (i, lvl), n in chattering_cells(quiet_log).items()},
        "flood_share": round(float((windows > 10).mean()), 3),
        "scenario_recall": round(len(ticks) / len(runs), 3),
        "detect_ticks_p95": float(np.percentile(ticks, 95)) if ticks else None,
        "after_crossing_ticks_p95": float(np.percentile(late, 95)) if late else None,
        "scenario_false_per_hour": round(sum(false) / scenario_hours, 2),
        "scenarios": [{"scenario": r.scenario.scenario, "area": r.scenario.area,
                       "start": datetime.fromtimestamp(r.scenario.start, TZ).isoformat(timespec="minutes"),
                       "crossed_ticks": r.crossed, "detect_ticks": d, "warned_ticks": warned(new, r, tick),
                       "false_warnings": f}
                      for r, d, f in zip(runs, detected, false, strict=True)],
    }


def warned(new: pd.DataFrame, run: Run, tick: float) -> int | None:
    """Ticks after onset to the first new warning of an expected indicator at one of the run's places."""
    s = run.scenario
    hits = new[(new["at"] > s.start) & (new["at"] <= s.end) & new["area"].isin(run.places)
               & new["indicator"].isin(run.expected)]
    return round((hits["at"].min() - s.start) / tick) if len(hits) else None


def false_warnings(new: pd.DataFrame, runs: list[Run], k: int) -> int:
    """New warnings while scenario ``k`` runs outside its places.

    The aftermath of the scenarios before it (their expected indicators at their places: events still in
    their windows) is not counted either.
    """
    s = runs[k].scenario
    during = new[(new["at"] > s.start) & (new["at"] <= s.end)]
    return sum(not any(area in r.places and (r is runs[k] or indicator in r.expected) for r in runs[: k + 1])
               for indicator, area in zip(during["indicator"], during["area"], strict=True))


def chattering(log: pd.DataFrame) -> int:
    """Pairs (indicator, area) with more than 3 transitions within any 10 minutes (as the backtest counts them)."""
    return int(chattering_cells(log).sum())


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.alarms", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--hours", type=float, default=24.0, help="length of the quiet day")
    parser.add_argument("--grids", type=int, default=502)
    parser.add_argument("--tick-seconds", type=float, default=60.0)
    parser.add_argument("--warmup-minutes", type=float, default=60.0, help="run before the quiet day, not counted")
    parser.add_argument("--refresh-seconds", type=float, default=1500.0,
                        help="an unchanged value is sent again after this long")
    parser.add_argument("--ack-minutes", type=float, default=5.0,
                        help="a warning on the wall is acknowledged after this long (0: never)")
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=sorted(SCENARIOS),
                        help="comma-separated scenario ids (default: all)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:  # the two engines are independent: one process each
        figures = dict(zip(("catalog", "baseline"), pool.map(simulate, [args] * 2, ("catalog", "baseline")),
                           strict=True))
    day = figures["catalog"].pop("day")
    figures["baseline"].pop("day")
    print(json.dumps({"seed": args.seed, "day": day, "grids": args.grids, "tick_seconds": args.tick_seconds,
                      "warmup_minutes": args.warmup_minutes, "quiet_hours": args.hours,
                      "refresh_seconds": args.refresh_seconds, "ack_minutes": args.ack_minutes,
                      "new_warning": NEW_WARNING, **figures["catalog"],
                      "baseline": figures["baseline"], "wall_seconds": round(time.perf_counter() - t0, 1)},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
