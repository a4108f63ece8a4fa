"""Rollup rules checked against numbers computed by hand."""

import numpy as np
import pytest

from indicators.rollup import GridParts, OnlyFresh, grid_pieces, roll

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
    from indicators.rollup import Mix, Segments, combine, finish, start

    rng = np.random.default_rng(3)
    community = np.array([0, 0, 0, 2, 2, 3, 5, 5])  # communities 1 and 4 have no grids, 6 neither (at the end)
    street_of_community = np.array([0, 0, 1, 1, 1, 2, 2])
    pop = rng.integers(0, 3000, 8).astype(float)
    p = GridParts(*(rng.random((3, 8)) * 100 for _ in range(4)))
    fresh = rng.random((3, 8)) > 0.3
    fresh[:, 3:5] = False  # community 2 wholly stale
    scale = np.array([[1.0], [100.0], [1e4]])
    mix = Mix.one(rule, 3)
    partial = combine(mix, start(mix, p, np.arange(3), fresh, pop), Segments.of(community, 7))
    for parent, n in ((community, 7), (street_of_community[community], 3)):
        want = roll(rule, p, fresh, parent, n, pop, scale)
        got = finish(mix, partial, np.bincount(parent, minlength=n), scale)
        for field in ("value", "ts", "coverage"):
            np.testing.assert_allclose(getattr(got, field), getattr(want, field), rtol=1e-12, equal_nan=True)
        partial = combine(mix, partial, Segments.of(street_of_community, 3))
    assert Segments.of(np.array([1, 0]), 2) is None  # children not grouped by parent: roll from grids instead


def test_rules_rolled_in_one_pass_equal_each_rule_rolled_alone_bit_for_bit():
    from indicators.rollup import RULES, Mix, Segments, combine, finish, grid_pieces, start

    rng = np.random.default_rng(5)
    community, street_of_community = np.array([0, 0, 0, 2, 2, 3, 5, 5]), np.array([0, 0, 1, 1, 1, 2, 2])
    rules = ["max", "ratio", "sum", "min", "rate_per_10k", "mean", "ratio", "sum", "max"]  # in no order
    value, pop = rng.random((9, 8)) * 100, rng.integers(0, 3000, 8).astype(float)
    num, den = grid_pieces(rules, value, pop)
    num[np.arange(9)], den[np.arange(9)] = rng.random((9, 8)) * 50, rng.random((9, 8)) * 80  # kept where own
    p = GridParts(value, num, den, rng.random((9, 8)) * 1e3)
    fresh, scale = rng.random((9, 8)) > 0.3, rng.choice([1.0, 100.0, 1e4], (9, 1))
    by_rule = [(rule, np.array([r for r, x in enumerate(rules) if x == rule], dtype=int)) for rule in RULES]
    rows = np.concatenate([r for _, r in by_rule])
    mix = Mix.of([(rule, r.size) for rule, r in by_rule])
    together = start(mix, p, rows, fresh[rows], pop)
    alone = {rule: start(Mix.one(rule, r.size), p, r, fresh[r], pop) for rule, r in by_rule}
    for seg, total in ((Segments.of(community, 7), np.bincount(community, minlength=7)),
                       (Segments.of(street_of_community, 3), np.bincount(street_of_community[community], minlength=3))):
        together = combine(mix, together, seg)
        got = finish(mix, together, total, scale[rows])
        for rule, r in by_rule:
            alone[rule] = combine(Mix.one(rule, r.size), alone[rule], seg)
            want = finish(Mix.one(rule, r.size), alone[rule], total, scale[r])
            at = np.flatnonzero(np.isin(rows, r))
            for field in ("value", "ts", "coverage", "num", "den"):
                np.testing.assert_array_equal(getattr(got, field)[at], getattr(want, field), strict=True)


KEYS = [slice(None), np.array([0, 3, 5]), 2, slice(1, 4), (np.array([[1], [4]]), np.arange(9)[None, :]),
        (np.array([0, 2, 6]), np.array([1, 5, 8])), (slice(None), np.array([3, 1])), (3, np.array([1, 2])),
        (np.array([[0], [6]]), np.array([[2, 3]])), (np.array([1, 3]), slice(2, 5))]


def test_shared_rows_index_as_the_full_matrices_of_numerators_and_denominators():
    rng = np.random.default_rng(1)
    rules = ["ratio", "sum", "max", "rate_per_10k", "mean", "ratio", "min"]
    value, population = rng.random((7, 9)), rng.random(9) * 100
    num, den = grid_pieces(rules, value, population)
    want_num, want_den = value.copy(), np.ones((7, 9))
    for k, rule in enumerate(rules):
        n, d = rng.random(9), rng.random(9)
        num[k], den[k] = n, d  # kept only where the row has its own
        if rule in ("ratio", "rate_per_10k"):
            want_num[k] = n
        if rule == "ratio":
            want_den[k] = d
        elif rule in ("sum", "rate_per_10k"):
            want_den[k] = population
    for shared, full in ((num, want_num), (den, want_den)):
        np.testing.assert_array_equal(np.asarray(shared), full)
        for key in KEYS:
            np.testing.assert_array_equal(shared[key], full[key], err_msg=str(key))


def test_only_fresh_is_the_grid_values_where_fresh_and_the_coverage():
    rng = np.random.default_rng(2)
    value, fresh = rng.random((7, 9)), rng.random((7, 9)) > 0.4
    for lazy, full in ((OnlyFresh(fresh, value), np.where(fresh, value, np.nan)),
                       (OnlyFresh(fresh), fresh.astype(np.float32))):
        np.testing.assert_array_equal(np.asarray(lazy), full)
        for key in KEYS:
            np.testing.assert_array_equal(lazy[key], full[key], err_msg=str(key))


def test_shared_rows_taken_for_reading_are_the_rows_of_the_full_matrix():
    rng = np.random.default_rng(3)
    rules = ["max", "sum", "ratio", "mean", "sum", "min"]
    value, population = rng.random((6, 5)), rng.random(5) * 100
    num, den = grid_pieces(rules, value, population)
    num[2], den[2] = rng.random(5), rng.random(5)
    for rows in (np.array([0, 3, 5]), np.array([1, 4]), np.array([2]), np.array([0, 1, 2])):
        for shared in (num, den):
            np.testing.assert_array_equal(shared.take(rows, value[rows]), np.asarray(shared)[rows])
