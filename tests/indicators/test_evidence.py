"""Evidence before colour: judged levels, minimum evidence and funnel limits, with hand-computed numbers."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from cityvitals.areas import AreaTree
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.store import Sample
from indicators import funnel
from indicators.engine import Engine
from indicators.loader import load_catalog, without_statistics
from indicators.schema import Indicator
from indicators.states import State
from tests.conftest import EVIDENCE_CATALOG
from tests.conftest import TWENTY_GRIDS as GRIDS
from tests.conftest import twenty_grid_tree as tree

NOW = 1_800_000_000.0


@pytest.fixture
def catalog():
    return load_catalog([EVIDENCE_CATALOG])


def scored(catalog, samples: dict[str, dict[str, float]]) -> Engine:
    """One tick over the given metric -> grid -> value (every grid 0 unless given)."""
    engine = Engine(tree(), catalog)
    engine.ingest([Sample(metric, g, NOW - 10, values.get(g, 0.0)) for metric, values in samples.items()
                   for g in GRIDS if metric != "river_level" or g in values])
    engine.tick(NOW)
    return engine


def state(engine: Engine, indicator: str, area: str) -> State:
    level = engine.tree[area].level
    return State(engine.tracks[level].state[engine.ind_ids.index(indicator), engine.tree.ids(level).index(area)])


def test_poisson_and_binomial_tails_by_hand():
    # 3 events where 0.5 are expected: 1 - e^-0.5 (1 + 0.5 + 0.125)
    p = funnel.p_values(np.array([3.0]), np.array([1000.0]), np.array([0.0005]), np.array([False]), np.array([True]))
    assert p[0] == pytest.approx(1 - math.exp(-0.5) * 1.625)
    # 1 closed of 3 where the district closes 90%: 0.1^3 + 3 * 0.9 * 0.1^2
    p = funnel.p_values(np.array([1.0]), np.array([3.0]), np.array([0.9]), np.array([True]), np.array([False]))
    assert p[0] == pytest.approx(0.001 + 0.027)
    # at or below the expectation nothing is computed: it cannot be flagged
    assert funnel.p_values(np.array([0.0, 1.0]), np.array([1000.0, 1000.0]), np.array([0.002, 0.002]),
                           np.array([False, False]), np.array([True, True])).tolist() == [1.0, 1.0]


def test_tails_are_scipys_public_functions_bit_for_bit():
    # p_values calls the distributions' kernels without scipy's argument checks: the same numbers exactly,
    # at the edges too (k below 0, k at or past n, a share of 0 or 1, a negative Poisson mean: NaN)
    from scipy import stats
    rng = np.random.default_rng(3)
    k, mu = np.rint(rng.uniform(-2, 60, 50_000)), rng.uniform(-1, 50, 50_000)
    mu[::7] = 0.0
    assert np.array_equal(funnel._poisson_sf(k, mu), stats.poisson.sf(k, mu), equal_nan=True)
    n, share = np.rint(rng.uniform(1, 80, 50_000)), rng.uniform(0, 1, 50_000)
    share[::5], share[::11] = 0.0, 1.0
    k = np.rint(rng.uniform(-2, 90, 50_000))
    assert np.array_equal(funnel._binom_sf(k, n, share), stats.binom.sf(k, n, share))
    assert np.array_equal(funnel._binom_cdf(k, n, share), stats.binom.cdf(k, n, share))


def test_benjamini_hochberg_by_hand():
    q = funnel.adjust(np.array([0.01, 0.04, 0.03, 0.5]))
    assert q.tolist() == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])  # 0.01*4/1; min(0.03*4/2, 0.04*4/3)
    q = funnel.adjust(np.array([0.01, 0.04, 0.03, 0.5]), m=8)  # four more cells at p = 1
    assert q.tolist() == pytest.approx([0.08, 0.32 / 3, 0.32 / 3, 1.0])


def test_one_fire_in_a_small_grid_is_not_a_warning_but_four_are_red(catalog):
    one = scored(catalog, {"fire_calls_24h": {GRIDS[0]: 1}})
    # district rate 1/20,000: the grid expects 0.05, P(X >= 1) = 1 - e^-0.05 = 0.0488, times 22 cells: not flagged
    assert state(one, "fires", GRIDS[0]) == State.NORMAL
    assert state(without_statistics_engine(catalog, {GRIDS[0]: 1}), "fires", GRIDS[0]) == State.NORMAL  # 1 < 10
    four = scored(catalog, {"fire_calls_24h": {GRIDS[0]: 4}})
    # rate 4/20,000: the grid expects 0.2, P(X >= 4) = 1 - e^-0.2 (1 + 0.2 + 0.02 + 0.00133) = 5.68e-5;
    # Benjamini-Hochberg over the 22 cells (20 grids, 2 communities): 5.68e-5 * 22 = 0.00125 <= 0.002: red
    p = 1 - math.exp(-0.2) * (1 + 0.2 + 0.02 + 0.2 ** 3 / 6)
    assert p * 22 <= 0.002
    assert state(four, "fires", GRIDS[0]) == State.RED
    # the community expects 2.0: P(X >= 4) = 0.143, times 22 / 2: normal; the street by its fixed limits (4 < 10)
    assert state(four, "fires", "d.s1.c") == State.NORMAL
    assert state(four, "fires", "d.s1") == State.NORMAL
    rule = four.rules["fires"][four.limits(NOW)["grid"].source[0, 0]]
    assert rule == ("funnel vs district", "95.0%", "99.8%")


def without_statistics_engine(catalog, fires: dict[str, float]) -> Engine:
    return scored(without_statistics(catalog), {"fire_calls_24h": fires})


def test_a_rate_needs_its_minimum_events_before_it_gets_a_colour(catalog):
    engine = scored(catalog, {"police_calls_1h": {GRIDS[0]: 2, GRIDS[1]: 2}})
    # each grid: 2 events per 1,000 = 20 per 10k, far past red (5), but 2 < 3 events: insufficient evidence
    assert state(engine, "police_rate", GRIDS[0]) == State.INSUFFICIENT
    # 0 events: too few to carry a warning, and none is asked for: a quiet grid is normal, not grey
    assert state(engine, "police_rate", GRIDS[5]) == State.NORMAL
    # the street: 4 events per 10,000 = 4 per 10k >= 3: yellow; the district: 4 per 20,000 = 2 per 10k: normal
    assert state(engine, "police_rate", "d.s1") == State.YELLOW
    assert state(engine, "police_rate", "d") == State.NORMAL
    plain = scored(without_statistics(catalog), {"police_calls_1h": {GRIDS[0]: 2, GRIDS[1]: 2}})
    assert state(plain, "police_rate", GRIDS[0]) == State.RED  # what a plain threshold would have said


def test_a_rate_per_resident_is_not_judged_in_a_special_grid_but_counts_in_its_community(catalog):
    """A hospital grid's police calls come from patients and visitors: per 1,000 residents they mean nothing."""
    hospital = GRIDS[0]
    areas = [replace(tree()[a], kind="special") if a == hospital else tree()[a] for a in ["d", "d.s1", "d.s2",
                                                                                          "d.s1.c", "d.s2.c", *GRIDS]]
    engine = Engine(AreaTree(areas), catalog)
    engine.ingest([Sample("police_calls_1h", g, NOW - 10, {hospital: 4, GRIDS[1]: 4}.get(g, 0.0)) for g in GRIDS])
    engine.tick(NOW)
    assert state(engine, "police_rate", hospital) == State.NOT_JUDGED
    assert state(engine, "police_rate", GRIDS[1]) == State.RED  # the same 4 calls per 1,000 residents: 40 per 10k
    # the street: 8 calls per 10,000 residents, the hospital's among them: red (>= 5)
    assert state(engine, "police_rate", "d.s1") == State.RED


def test_an_indicator_is_judged_only_at_its_levels_and_where_it_has_a_source(catalog):
    engine = scored(catalog, {"river_level": {GRIDS[0]: 7.5}})  # one gauge, in the first grid
    assert state(engine, "river", "d") == State.YELLOW
    assert state(engine, "river", "d.s1") == State.YELLOW
    assert state(engine, "river", "d.s2") == State.NOT_JUDGED  # no gauge in the second street: not stale
    assert state(engine, "river", GRIDS[0]) == State.NOT_JUDGED  # not judged at grid level
    nothing = scored(catalog, {"fire_calls_24h": {}})  # no gauge delivered anywhere: a feed that is down
    assert state(nothing, "river", "d") == State.STALE


def test_the_explanation_shows_the_evidence_and_the_funnel_limits(redis_client, catalog):
    from cityvitals import store
    from indicators.explain import explain
    from indicators.service import EngineService

    service = EngineService(redis_client, None, tree(), catalog, consumer="t")
    store.append_samples(redis_client, "fire", [Sample("fire_calls_24h", g, NOW - 10, 4.0 if g == GRIDS[0] else 0.0)
                                                 for g in GRIDS])
    store.append_samples(redis_client, "police", [Sample("police_calls_1h", g, NOW - 10, 2.0 if g == GRIDS[0] else 0.0)
                                                   for g in GRIDS])
    service.tick(NOW)
    why = explain(redis_client, "fires", GRIDS[0], now=NOW)
    assert why["state"] == "red" and why["thresholds"]["source"] == "funnel vs district"
    assert (why["evidence"]["num"], why["evidence"]["den"]) == (4.0, 1000.0)
    f = why["funnel"]
    # the district's rate 4 / 20,000 residents; this grid's 1,000 residents expect 0.2 fires; 22 cells judged
    assert (f["reference"], f["rate"], f["expected"], f["cells"]) == ("d", pytest.approx(2e-4), pytest.approx(0.2), 22)
    # alone at the top of 22 cells, red needs P(X >= k) <= 0.002 / 22: P(X >= 4) = 5.7e-5 yes, P(X >= 3) = 1.15e-3 no
    assert f["red_at"] == 4.0
    rate = explain(redis_client, "police_rate", GRIDS[0], now=NOW)
    assert rate["state"] == "insufficient" and rate["funnel"] is None
    assert rate["evidence"] == {"num": 2.0, "den": 1000.0, "min_events": 3.0, "min_denominator": 0.0}
    warning = json.loads(redis_client.hget(store.WARNINGS, f"fires@{GRIDS[0]}"))
    assert (warning["raised"], warning["peak"], warning["num"], warning["den"]) == (4.0, 4.0, 4.0, 1000.0)


def test_a_funnel_warning_keeps_firing_a_quarter_hour_unless_told_otherwise(catalog):
    # its limits move with the whole Benjamini-Hochberg family: a clear needs 15 min clear, as keep_firing_for
    assert catalog.by_id["fires"].clear_s == 900.0
    assert catalog.by_id["police_rate"].clear_s == 0.0  # no funnel: clear_after defaults to min_duration (0)
    fires = catalog.by_id["fires"].model_dump(exclude={"clear_after"})
    assert Indicator.model_validate({**fires, "min_duration": "30m"}).clear_s == 1800.0  # a longer hold wins
    assert Indicator.model_validate({**fires, "clear_after": "5m"}).clear_s == 300.0  # said in the YAML: as said
    assert load_catalog([DEFAULT_CATALOG]).by_id["rental_registration_rate"].clear_s == 900.0


def test_a_district_feeding_one_count_flags_only_the_improbable_grid():
    # Of the shipped catalog's 226 funnel rows only those reading fire_calls_24h have data: a family of 22 cells
    # (20 grids, 2 communities) in levels of 106 x 20 grid and 120 x 2 community cells. Padding the family with
    # the cells without data (p = 1) once capped every q at 22 / 2,120 and turned every grid yellow.
    engine = Engine(tree(), load_catalog([DEFAULT_CATALOG]))
    counts = dict(zip(GRIDS, [0, 1, 0, 2, 1, 12, 0, 1, 3, 0, 1, 0, 0, 2, 1, 0, 1, 0, 0, 1], strict=True))
    for k in range(3):  # past the five-minute hold a state needs to leave stale
        engine.ingest([Sample("fire_calls_24h", g, NOW + 300 * k, float(v)) for g, v in counts.items()])
        engine.tick(NOW + 300 * k + 10)
    assert engine.funnel_cells == 22
    # 27 fires among 20,000 residents: 1.35 expected in a grid of 1,000; 12 there is improbable (P ~ 1e-8), 3 is not
    shown = {g: state(engine, "fires_per_10k", g) for g in GRIDS}
    assert shown.pop(GRIDS[5]) == State.RED
    assert set(shown.values()) == {State.NORMAL}
