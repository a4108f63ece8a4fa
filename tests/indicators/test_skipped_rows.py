"""Rows whose judgement or delivery cannot move are skipped: the states stay those of computing them all."""

import dataclasses

import numpy as np

from cityvitals.areas import LEVELS, AreaTree, province_demo
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity
from indicators.compiled import compile_catalog
from indicators.engine import Engine, TickResult
from indicators.loader import Catalog, load_catalog
from indicators.states import State
from tests.indicators.test_incremental import T0, _feed  # a random share of fresh values, some far off

FIELDS = ("state", "since", "pending", "pending_since", "judged", "dirty", "changed", "cleared", "dirty_areas")


def _assert_same(a: TickResult, b: TickResult, step: int) -> TickResult:
    """The two ticks logged the same transitions and hold the same states and records; returns the first."""
    assert [(t.indicator, t.level, t.area, t.from_state, t.to_state) for t in a.transitions] == [
        (t.indicator, t.level, t.area, t.from_state, t.to_state) for t in b.transitions], f"step {step}"
    for level in LEVELS:
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(a.levels[level], name), getattr(b.levels[level], name),
                                          err_msg=f"step {step}, {level}, {name}")
    return a


def _not_at_grids(catalog: Catalog) -> tuple[Catalog, list[str]]:
    """The catalog with its plain threshold indicators judged at grids no longer judged there."""
    plain = [i.id for i in catalog.indicators
             if "grid" in i.levels and len(i.levels) > 1 and i.funnel is None and i.forecast is None]
    indicators = tuple(i.model_copy(update={"levels": tuple(lv for lv in i.levels if lv != "grid")})
                       if i.id in plain else i for i in catalog.indicators)
    return dataclasses.replace(catalog, indicators=indicators, version=catalog.version + "-no-grid"), plain


def test_skipping_rows_not_judged_gives_the_states_of_judging_every_row():
    tree = AreaTree(province_demo(grids=400, seed=3))
    catalog = load_catalog([DEFAULT_CATALOG])
    narrowed, plain = _not_at_grids(catalog)
    fast, full = Engine(tree, catalog), Engine(tree, catalog)
    full._may_change = lambda level, track, rows: np.ones(rows.size, dtype=bool)  # the reference: judge every row
    city = SimulatedCity(tree, registry(), seed=4)
    metrics = [m for m in fast.metric_ids if m in city.character]
    grids, rng, now = tree.ids("grid"), np.random.default_rng(4), T0
    warned_before_narrowing = 0
    # A full feed, small slices, then the grid level dropped for some indicators (their warnings there go
    # to not judged) and given back (judged again from not judged), then a silence that makes data stale.
    for step, (share, gap, swap) in enumerate([(1.0, 0, None), (0.05, 60, None), (0.05, 60, None),
                                               (0.05, 60, narrowed), (0.05, 60, None), (0.05, 60, catalog),
                                               (0.05, 60, None), (0.0, 7200, None), (0.3, 60, None)]):
        now += gap
        if swap is narrowed:
            rows = [fast.ind_ids.index(i) for i in plain]
            warned_before_narrowing = int((fast.tracks["grid"].state[rows] >= State.YELLOW).sum())
        samples = _feed(city, metrics, grids, now, rng, share)
        for engine in (fast, full):
            if swap is not None:
                engine.set_catalog(compile_catalog(swap), now)
            engine.ingest(samples, "sim")
        _assert_same(fast.tick(now), full.tick(now), step)
    assert warned_before_narrowing > 0, "the narrowed rows must hold warnings at grids, or no held state was dropped"
    grid = fast.tracks["grid"].state[[fast.ind_ids.index(i) for i in plain]]
    assert (grid != State.NOT_JUDGED).any(), "judged at grids again, the rows must take states there again"


def test_grids_delivering_for_the_first_time_are_seen_as_a_full_recomputation_sees_them():
    tree = AreaTree(province_demo(grids=400, seed=3))
    catalog = load_catalog([DEFAULT_CATALOG])
    fast, full = Engine(tree, catalog), Engine(tree, catalog)
    city = SimulatedCity(tree, registry(), seed=5)
    metrics = [m for m in fast.metric_ids if m in city.character]
    grids, rng, now = tree.ids("grid"), np.random.default_rng(5), T0
    delivered = []
    for step, share in enumerate([0.3, 0.3, 0.6, 0.9]):  # each slice reaches grids no sample came from before
        now += 60
        samples = _feed(city, metrics, grids, now, rng, share)
        for engine in (fast, full):
            engine.ingest(samples, "sim")
        full.recompute_all()  # "ever delivered" computed anew from every row
        fast.tick(now), full.tick(now)
        for level in LEVELS:
            np.testing.assert_array_equal(fast.delivered(level), full.delivered(level), err_msg=f"step {step}, {level}")
            np.testing.assert_array_equal(fast.tracks[level].state, full.tracks[level].state,
                                          err_msg=f"step {step}, {level}")
        delivered.append(int(fast.delivered("grid").sum()))
    assert delivered[0] < delivered[-1] < fast.delivered("grid").size, "later slices must reach new grids, not all"


def test_judging_only_the_cells_that_moved_gives_the_states_of_judging_whole_rows():
    """The cells whose values, counts or freshness held are not judged again: the states stay those of whole rows.

    Values far off raise warnings that wait out their durations and clear through hysteresis; values
    sent again unchanged (a feed's refresh) move data times only; a silence makes data stale.
    """
    tree = AreaTree(province_demo(grids=400, seed=6))
    catalog = load_catalog([DEFAULT_CATALOG])
    fast, full = Engine(tree, catalog), Engine(tree, catalog)
    full._inputs_moved = lambda could_move, flips: None  # the reference: every row that moved judged whole
    taken = []
    inputs_moved = fast._inputs_moved

    def counted(could_move, flips):
        cells = inputs_moved(could_move, flips)
        taken.append(sum(int(m.sum()) for m in cells.values()))
        return cells

    fast._inputs_moved = counted
    city = SimulatedCity(tree, registry(), seed=6)
    metrics = [m for m in fast.metric_ids if m in city.character]
    grids, rng, now = tree.ids("grid"), np.random.default_rng(6), T0
    samples, warned = [], 0
    for step, (share, gap) in enumerate([(1.0, 0)] + [(0.03, 60)] * 12 + [(None, 60), (0.0, 7200), (0.3, 60)]
                                        + [(0.03, 60)] * 6):
        now += gap
        if share is None:  # the last slice sent again unchanged, at a new time
            samples = [s._replace(ts=now) for s in samples]
        else:
            samples = _feed(city, metrics, grids, now, rng, share)
        for engine in (fast, full):
            engine.ingest(samples, "sim")
        warned += len(_assert_same(fast.tick(now), full.tick(now), step).transitions)
    cells = sum(fast.tracks[level].state.size for level in LEVELS)
    assert taken and max(taken) < cells / 2, "later ticks must judge some cells alone, or no cell was skipped"
    assert warned > 0, "warnings must be raised and cleared, or no held state was compared"
