"""The incremental tick (keeps what no sample moved) and a restarted engine score exactly as a full recomputation."""

import numpy as np
import pytest

from cityvitals import store
from cityvitals.areas import LEVELS, AreaTree, province_demo
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from cityvitals.store import Sample
from feeds.simulator.city import SimulatedCity
from indicators import funnel, health
from indicators.engine import TS_TOLERANCE_S, VALUE_TOLERANCE, Engine, TickResult
from indicators.loader import load_catalog
from indicators.service import EngineService

T0 = 1_800_000_000.0
FIELDS = ("value", "ts", "coverage", "num", "den", "state", "since", "pending", "pending_since", "judged", "oldest")


@pytest.fixture(scope="module")
def province():
    return AreaTree(province_demo(grids=600, seed=11))


def _feed(city: SimulatedCity, metrics: list[str], grids: list[str], now: float, rng, share: float) -> list[Sample]:
    """Fresh values for a random share of (metric, grid) pairs, some far off to raise warnings."""
    values = city.values(now)
    samples = []
    for m in metrics:
        pick = np.flatnonzero(rng.random(len(grids)) < share)
        v = values[m][pick] * np.where(rng.random(pick.size) < 0.05, rng.uniform(0, 20, pick.size), 1.0)
        samples += [
            Sample(m, grids[c], now, float(x)) for c, x in zip(pick.tolist(), v.tolist(), strict=True) if x == x
        ]
    return samples


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_ticks_equal_full_recomputation(province, seed):
    catalog = load_catalog([DEFAULT_CATALOG])
    fast, full = Engine(province, catalog), Engine(province, catalog)
    city = SimulatedCity(province, registry(), seed=seed)
    metrics = [m for m in fast.metric_ids if m in city.character]
    grids = province.ids("grid")
    rng = np.random.default_rng(seed)
    now = T0
    compared = moved = 0
    # A full feed, then small slices (most rows kept), then a silence long enough for data to go stale.
    for step, (share, gap) in enumerate(
        [(1.0, 0), (0.02, 60), (0.0, 60), (0.05, 60), (0.01, 60), (0.0, 7200), (0.3, 60), (0.001, 60)]
    ):
        now += gap
        samples = _feed(city, metrics, grids, now, rng, share)
        for engine in (fast, full):
            engine.ingest(samples, "sim")
        full.recompute_all()  # no row kept: grid values, roll-ups, seen and funnels all computed anew
        a, b = fast.tick(now), full.tick(now)
        assert [(t.indicator, t.area, t.to_state) for t in a.transitions] == [
            (t.indicator, t.area, t.to_state) for t in b.transitions
        ], f"step {step}"
        for level in LEVELS:
            for name in FIELDS:
                np.testing.assert_array_equal(
                    getattr(a.levels[level], name),
                    getattr(b.levels[level], name),
                    err_msg=f"step {step}, {level}, {name}",
                )
            compared += a.levels[level].state.size
            np.testing.assert_array_equal(
                a.levels[level].dirty, b.levels[level].dirty, err_msg=f"step {step}, {level}, dirty"
            )
            moved += int(a.levels[level].dirty.sum()) if step else 0
    assert moved > 0, "later ticks must move some cells, or nothing incremental was compared"
    states = np.concatenate([fast.tracks[level].state.ravel() for level in LEVELS])
    assert len(np.unique(states)) >= 3, "the random province must hold several states"
    assert compared > 0


TRACKED = ("state", "since", "pending", "pending_since", "judged")


def _assert_written(client, engine: Engine, want: TickResult, step: int) -> None:
    """The state rows in Redis hold the plain engine's states exactly, its values and data times as records do."""
    for level in LEVELS:
        track = want.levels[level]
        width = len(track.area_ids)
        rows = dict(store.read_state_rows(client, level, engine.ind_ids, width))
        assert rows.keys() == set(range(len(engine.ind_ids))), f"step {step}, {level}: rows missing"
        cells = np.stack([rows[k] for k in range(len(engine.ind_ids))])
        for field, expected in (("s", track.state), ("p", track.pending), ("since", track.since),
                                ("ps", track.pending_since), ("j", track.judged)):
            np.testing.assert_array_equal(cells[field], expected, err_msg=f"step {step}, {level}, {field}")
        np.testing.assert_allclose(cells["v"], track.value, rtol=2 * VALUE_TOLERANCE, err_msg=f"step {step}, {level}")
        np.testing.assert_allclose(store.cell_times(cells["ts"]), track.ts, atol=TS_TOLERANCE_S + 1,
                                   err_msg=f"step {step}, {level}")


def _assert_summaries(client, engine: Engine, want: TickResult, step: int) -> None:
    """The area summaries in Redis are those of the plain engine's states, with the counts below each area."""
    c = engine.compiled
    worst = {level: health.worst(want.levels[level].state[c.tiers == "macro"]) for level in LEVELS}
    below = health.below_counts(worst, {(lower, level): engine._ancestor(lower, level)
                                        for k, level in enumerate(LEVELS) for lower in LEVELS[k + 1:]})
    for level in LEVELS:
        lv = want.levels[level]
        cells = store.read_summary_cells(client, level, lv.area_ids)
        assert cells is not None, f"step {step}, {level}: summaries missing"
        fields = health.summary_fields(lv.state, lv.judged, c.tiers, c.groups, c.weights, np.arange(len(lv.area_ids)))
        for name, expected in [*fields.items(), ("below", below[level])]:
            np.testing.assert_array_equal(cells[name], np.asarray(expected).astype(cells[name].dtype),
                                          err_msg=f"step {step}, {level}, {name}")


@pytest.mark.parametrize("snapshots", [False, True], ids=["from-redis", "from-snapshot"])
def test_a_restarted_engine_goes_on_as_a_full_recomputation(province, redis_client, tmp_path, snapshots):
    """An engine restarted mid-way takes back its states and scores on exactly as a plain recomputation.

    From Redis, or from the snapshot the engine before saved as it stopped (its grid values, roll-ups
    and states: the first tick then computes only what arrived since). Its first tick writes only what
    moved: the since of a normal cell and the countdown of a pending one go on from before the
    restart, and the rows and area summaries in Redis end where the plain engine is.
    """
    catalog = load_catalog([DEFAULT_CATALOG])
    plain = Engine(province, catalog)
    directory = tmp_path / "snapshot" if snapshots else None
    service = EngineService(redis_client, None, province, catalog, consumer="engine", snapshot_dir=directory)
    city = SimulatedCity(province, registry(), seed=3)
    metrics = [m for m in plain.metric_ids if m in city.character]
    grids = province.ids("grid")
    rng = np.random.default_rng(3)
    now, restarted_cells, pending_at_restart = T0, None, 0
    for step, slice_ in enumerate([(1.0, 0), (0.05, 60), (0.3, 60), None, (0.02, 60), (0.0, 60), (0.05, 7200),
                                   None, (0.2, 900)]):
        if slice_ is None:  # a restart: a new engine on the same store and stream
            pending_at_restart += sum(int((service.engine.tracks[lv].pending >= 0).sum()) for lv in LEVELS)
            assert (service.save_snapshot() is not None) == snapshots
            service = EngineService(redis_client, None, province, catalog, consumer="engine", snapshot_dir=directory)
            assert service.snapshot_taken == snapshots
            np.testing.assert_array_equal(service.engine.values, plain.values)  # from Redis, or as kept
            np.testing.assert_array_equal(service.engine.ts, plain.ts)
            restarted_cells = 0
            continue
        share, gap = slice_
        now += gap
        samples = _feed(city, metrics, grids, now, rng, share)
        store.append_samples(redis_client, "sim", samples)
        plain.ingest(samples, "sim")
        plain.recompute_all()
        report, want = service.tick(now), plain.tick(now)
        assert report.transitions == len(want.transitions), f"step {step}"
        for level in LEVELS:
            for name in TRACKED:
                np.testing.assert_array_equal(getattr(service.engine.tracks[level], name),
                                              getattr(want.levels[level], name), err_msg=f"step {step}, {level}")
        _assert_written(redis_client, service.engine, want, step)
        _assert_summaries(redis_client, service.engine, want, step)
        if restarted_cells == 0:  # the first tick after a restart writes what an uninterrupted engine writes
            if snapshots:  # and computes anew only the grid values whose inputs arrived since
                assert 0 < service.engine._regrid.sum() < len(plain.ind_ids)
            restarted_cells = report.cells
            moved = sum(int(want.levels[lv].dirty.sum()) for lv in LEVELS)
            assert report.cells == moved > 0, "a restarted engine rewrites what moved, not every record"
    assert pending_at_restart > 0, "some countdown must be running across a restart, or none was carried"
    states = np.concatenate([plain.tracks[level].state.ravel() for level in LEVELS])
    assert len(np.unique(states)) >= 3, "the random province must hold several states"


def _plain_bh(p: np.ndarray, m: int | None) -> np.ndarray:
    """Benjamini–Hochberg over every cell, sorting them all: what ``funnel.adjust`` must equal."""
    flat = p.ravel()
    m = flat.size if m is None else m
    order = np.argsort(flat, kind="stable")
    ranked = np.minimum.accumulate((flat[order] * m / np.arange(1, flat.size + 1))[::-1])[::-1]
    q = np.empty_like(flat)
    q[order] = np.minimum(ranked, 1.0)
    return q.reshape(p.shape)


def test_adjust_sorting_only_cells_below_one_equals_plain_benjamini_hochberg():
    rng = np.random.default_rng(5)
    for _ in range(2000):
        n = int(rng.integers(1, 60))
        p = np.where(rng.random(n) < 0.6, 1.0, rng.random(n) ** rng.uniform(1, 8))
        p[rng.random(n) < 0.1] = rng.choice([0.0, 0.5])  # ties
        # m below the cell count too: the p = 1 cells then pull every q down to m / n at most.
        m = None if rng.random() < 0.3 else int(rng.integers(n // 3, 2 * n + 2))
        if rng.random() < 0.05:
            p[0] = np.nan
        np.testing.assert_array_equal(
            funnel.adjust(p.reshape(-1, 3) if n % 3 == 0 else p, m), _plain_bh(p.reshape(-1, 3) if n % 3 == 0 else p, m)
        )


def test_family_severity_equals_severity_of_adjusted_p_values():
    rng = np.random.default_rng(8)
    cut_used = 0
    for _ in range(1000):
        rows, cols = int(rng.integers(1, 6)), int(rng.integers(1, 40))
        p = np.where(rng.random((rows, cols)) < 0.5, 1.0, rng.random((rows, cols)) ** rng.uniform(1, 12))
        p[rng.random((rows, cols)) < 0.1] = rng.choice([0.0, 1e-4, 0.003])  # ties, some at the levels' edges
        if rng.random() < 0.03:
            p[0, 0] = np.nan
        valid = rng.random((rows, cols)) < 0.8
        m = int(valid.sum()) + int(rng.integers(0, 3 * cols))  # a family spanning other levels too
        yellow = rng.choice([0.9, 0.95, 0.99], size=(rows, 1))
        red = np.maximum(yellow, rng.choice([0.99, 0.999], size=(rows, 1)))
        q = np.ones_like(p)
        q[valid] = funnel.adjust(p[valid], m)
        np.testing.assert_array_equal(funnel.family_severity(p, valid, m, yellow, red),
                                      funnel.severity(q, yellow, red))
        cut_used += funnel.step_up_cuts(p[valid], m, np.array([0.05])) is not None
    assert cut_used > 900, "the step-up cuts must be what is compared, not the fallback"
