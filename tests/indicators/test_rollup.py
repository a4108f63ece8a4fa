"""Rollup rules checked against numbers computed by hand."""

import numpy as np
import pytest

from indicators.rollup import GridParts, roll

# Four grids: grids 0,1 in parent 0; grids 2,3 in parent 1.
PARENT = np.array([0, 0, 1, 1])
POP = np.array([1000.0, 3000.0, 2000.0, 2000.0])
FRESH = np.ones((1, 4), dtype=bool)
TS = np.array([[100.0, 90.0, 80.0, 120.0]])


def parts(value, num=None, den=None):
    value = np.array([value], dtype=float)
    den = np.array([den], float) if den else np.ones_like(value)
    return GridParts(value, np.array([num], float) if num else value, den, TS)


def test_sum_adds_counts():
    r = roll("sum", parts([1, 2, 3, 4]), FRESH, PARENT, 2, POP, np.array([[1.0]]))
    assert r.value.tolist() == [[3, 7]]
    assert r.ts.tolist() == [[90, 80]]  # the oldest contributing sample
    assert r.coverage.tolist() == [[1, 1]]


def test_mean_is_population_weighted():
    r = roll("mean", parts([10, 20, 30, 50]), FRESH, PARENT, 2, POP, np.array([[1.0]]))
    # (10*1000 + 20*3000) / 4000 = 17.5 ; (30*2000 + 50*2000) / 4000 = 40
    assert r.value.tolist() == [[17.5, 40.0]]


def test_ratio_recomputed_from_sums_not_averaged():
    # closed / due: grid rates 1/1 = 100% and 90/100 = 90%; the average of rates would be 95%
    r = roll("ratio", parts([100, 90, 0, 0], num=[1, 90, 5, 0], den=[1, 100, 10, 0]), FRESH, PARENT, 2, POP,
             np.array([[100.0]]))
    assert r.value[0, 0] == pytest.approx(91 / 101 * 100)
    assert r.value[0, 1] == pytest.approx(50.0)


def test_rate_per_10k_uses_summed_population():
    counts = [2, 0, 1, 1]
    r = roll("rate_per_10k", parts([0, 0, 0, 0], num=counts, den=POP.tolist()), FRESH, PARENT, 2, POP,
             np.array([[1e4]]))
    assert r.value.tolist() == [[pytest.approx(2 / 4000 * 1e4), pytest.approx(2 / 4000 * 1e4)]]


def test_max_and_min_take_the_worst_grid():
    p = parts([1, 9, 4, 3])
    assert roll("max", p, FRESH, PARENT, 2, POP, np.array([[1.0]])).value.tolist() == [[9, 4]]
    assert roll("min", p, FRESH, PARENT, 2, POP, np.array([[1.0]])).value.tolist() == [[1, 3]]


def test_only_fresh_grids_count_and_all_stale_gives_no_value():
    fresh = np.array([[True, False, False, False]])
    r = roll("sum", parts([1, 2, 3, 4]), fresh, PARENT, 2, POP, np.array([[1.0]]))
    assert r.value[0, 0] == 1
    assert np.isnan(r.value[0, 1])  # nothing fresh: no value, which the engine shows as stale
    assert r.coverage.tolist() == [[0.5, 0.0]]


def test_several_indicators_in_one_pass():
    p = GridParts(np.array([[1.0, 2, 3, 4], [10, 20, 30, 40]]), np.zeros((2, 4)), np.ones((2, 4)), np.vstack([TS, TS]))
    r = roll("sum", p, np.ones((2, 4), bool), PARENT, 2, POP, np.ones((2, 1)))
    assert r.value.tolist() == [[3, 7], [30, 70]]



@pytest.mark.parametrize("rule", ["sum", "mean", "ratio", "rate_per_10k", "max", "min"])
def test_level_by_level_aggregates_equal_rolling_from_grids_including_empty_areas(rule):
    from indicators.rollup import Segments, combine, finish, start

    rng = np.random.default_rng(3)
    community = np.array([0, 0, 0, 2, 2, 3, 5, 5])  # communities 1 and 4 have no grids, 6 neither (at the end)
    street_of_community = np.array([0, 0, 1, 1, 1, 2, 2])
    pop = rng.integers(0, 3000, 8).astype(float)
    p = GridParts(*(rng.random((3, 8)) * 100 for _ in range(4)))
    fresh = rng.random((3, 8)) > 0.3
    fresh[:, 3:5] = False  # community 2 wholly stale
    scale = np.array([[1.0], [100.0], [1e4]])
    partial = combine(rule, start(rule, p, fresh, pop), Segments.of(community, 7))
    for parent, n in ((community, 7), (street_of_community[community], 3)):
        want = roll(rule, p, fresh, parent, n, pop, scale)
        got = finish(rule, partial, np.bincount(parent, minlength=n), scale)
        for field in ("value", "ts", "coverage"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-12, equal_nan=True)
        partial = combine(rule, partial, Segments.of(street_of_community, 3))
    assert Segments.of(np.array([1, 0]), 2) is None  # children not grouped by parent: roll from grids instead
