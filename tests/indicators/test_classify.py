"""Thresholds, hysteresis, minimum duration and staleness, on small arrays."""

import numpy as np

from indicators.classify import Limits, Track, UniformRows, advance, severity, wanted
from indicators.states import State

INF = np.inf


def limits(direction: str, yellow, red, n: int = 1) -> Limits:
    def col(x):
        return np.full((1, n), x, dtype=float)

    if direction == "higher_is_worse":
        return Limits(col(-INF), col(yellow), col(-INF), col(red), np.zeros((1, n), int))
    if direction == "lower_is_worse":
        return Limits(col(yellow), col(INF), col(red), col(INF), np.zeros((1, n), int))
    return Limits(col(yellow[0]), col(yellow[1]), col(red[0]), col(red[1]), np.zeros((1, n), int))


N, Y, R = State.NORMAL, State.YELLOW, State.RED


def test_severity_each_direction_and_value_at_threshold_is_a_warning():
    v = np.array([[10.0, 75, 100, 115, 200]])
    assert severity(v, limits("higher_is_worse", 75, 115, 5)).tolist() == [[N, Y, Y, R, R]]
    v = np.array([[99.0, 95, 92, 90, 50]])
    assert severity(v, limits("lower_is_worse", 95, 90, 5)).tolist() == [[N, Y, Y, R, R]]
    v = np.array([[7.0, 6.4, 8.6, 5.0, 10]])
    assert severity(v, limits("band", (6.5, 8.5), (6.0, 9.0), 5)).tolist() == [[N, Y, Y, R, R]]


def test_hysteresis_holds_a_warning_until_the_value_clears_by_the_margin():
    lim = limits("higher_is_worse", 75, 115)
    h = np.array([[5.0]])
    fresh = np.ones((1, 1), bool)
    yellow = np.array([[State.YELLOW]], dtype=np.int8)
    assert wanted(np.array([[72.0]]), fresh, yellow, lim, h)[0, 0] == State.YELLOW  # 72 > 75 - 5
    assert wanted(np.array([[69.0]]), fresh, yellow, lim, h)[0, 0] == State.NORMAL
    red = np.array([[State.RED]], dtype=np.int8)
    assert wanted(np.array([[112.0]]), fresh, red, lim, h)[0, 0] == State.RED
    assert wanted(np.array([[100.0]]), fresh, red, lim, h)[0, 0] == State.YELLOW


def test_value_hovering_at_threshold_does_not_toggle():
    lim = limits("higher_is_worse", 75, 115)
    h = np.array([[2.0]])
    track = Track.new((1, 1), 0.0)
    fresh = np.ones((1, 1), bool)
    changes = 0
    for t, v in enumerate([76, 74, 76, 74.5, 75.5, 74, 76]):
        want = wanted(np.array([[float(v)]]), fresh, track.state, lim, h)
        changes += int(advance(track, want, float(t), np.array([[0.0]])).sum())
    assert changes == 1  # stale -> yellow once, then it holds
    assert track.state[0, 0] == State.YELLOW


def test_minimum_duration_delays_a_change_and_a_blip_resets_it():
    track = Track.new((1, 1), 0.0)
    track.state[:] = State.NORMAL
    md = np.array([[60.0]])
    red = np.array([[State.RED]], dtype=np.int8)
    normal = np.array([[State.NORMAL]], dtype=np.int8)
    assert not advance(track, red, 100.0, md).any()
    assert not advance(track, red, 130.0, md).any()
    assert not advance(track, normal, 140.0, md).any()  # blip back: the pending red is dropped
    assert not advance(track, red, 150.0, md).any()
    assert not advance(track, red, 200.0, md).any()
    assert advance(track, red, 210.0, md).all()
    assert track.state[0, 0] == State.RED and track.since[0, 0] == 210.0


def test_a_value_swinging_between_yellow_and_red_is_yellow_after_the_hold_and_red_once_red_held():
    # min_duration 600 s; the hotline rate of a district asked yellow, red, yellow, then red on.
    track = Track.new((1, 1), 0.0)
    track.state[:] = State.NORMAL
    md = np.array([[600.0]])
    asks = {0: N, 1800: Y, 2220: R, 2340: Y, 2400: R, 2700: R, 2999: R, 3000: R, 3300: R, 3599: R, 3600: R}
    changed = {t: int(track.state[0, 0]) for t, w in asks.items()
               if advance(track, np.array([[w]], dtype=np.int8), float(t), md).any()}
    # At least yellow from 1800 on: yellow at 2400 (not at 3000, as a count restarted by each swing
    # would give). Red asked on every tick from 2400 on: red at 3000.
    assert changed == {2400: Y, 3000: R}
    assert track.since[0, 0] == 3000.0


def test_a_tick_without_a_warning_restarts_the_count_of_a_swinging_value():
    track = Track.new((1, 1), 0.0)
    track.state[:] = State.NORMAL
    md = np.array([[60.0]])
    for t, w in ((0, R), (30, Y), (50, N), (60, Y), (100, R)):
        assert not advance(track, np.array([[w]], dtype=np.int8), float(t), md).any()
    assert track.pending[0, 0] == Y and track.pending_since[0, 0] == 60.0
    assert advance(track, np.array([[R]], dtype=np.int8), 120.0, md).all()
    assert track.state[0, 0] == Y  # red was asked only since 100


def test_leaving_stale_for_a_warning_is_normal_while_it_waits_out_the_minimum_duration():
    track = Track.new((1, 1), 0.0)  # stale, as after a start
    md = np.array([[300.0]])
    red = np.array([[State.RED]], dtype=np.int8)
    # start-up noise is not red at once; its data is current, so it no longer shows stale either
    assert advance(track, red, 10.0, md).all()
    assert track.state[0, 0] == State.NORMAL and track.pending[0, 0] == State.RED
    assert (track.since[0, 0], track.pending_since[0, 0]) == (10.0, 10.0)
    assert not advance(track, red, 300.0, md).any()
    assert advance(track, red, 310.0, md).all()  # held 300 s
    normal = np.array([[State.NORMAL]], dtype=np.int8)
    track2 = Track.new((1, 1), 0.0)
    assert advance(track2, normal, 10.0, md).all()  # good news (or no news) is not held back


def test_a_noisy_tick_does_not_restart_the_countdown_to_clear():
    # Red, then clear (want normal) every minute but one: clear_after 300 s.
    track = Track.new((1, 1), 0.0)
    track.state[:] = State.RED
    md, clear = np.array([[60.0]]), np.array([[300.0]])
    red = np.array([[State.RED]], dtype=np.int8)
    normal = np.array([[State.NORMAL]], dtype=np.int8)
    advance(track, red, 0.0, md, clear)
    wants = {60: normal, 120: normal, 180: normal, 240: red, 300: normal, 360: normal, 420: normal, 480: normal}
    changed_at = [t for t, w in wants.items() if advance(track, w, float(t), md, clear).any()]
    # 180 s clear (60..240); the relapse tick (240..300) does not count and takes 60 s off: 120 s;
    # 300..480 adds 180 s: 300 s at 480. A restarted countdown would clear at 600.
    assert changed_at == [480]
    assert track.state[0, 0] == State.NORMAL


def test_a_long_relapse_drops_the_countdown():
    track = Track.new((1, 1), 0.0)
    track.state[:] = State.RED
    md, clear = np.array([[60.0]]), np.array([[300.0]])
    red = np.array([[State.RED]], dtype=np.int8)
    normal = np.array([[State.NORMAL]], dtype=np.int8)
    advance(track, red, 0.0, md, clear)
    advance(track, normal, 60.0, md, clear)  # countdown starts
    advance(track, red, 120.0, md, clear)  # 60 s counted clear, minus this tick's 60 s: nothing left
    assert track.pending[0, 0] == -1
    assert not advance(track, normal, 180.0, md, clear).any()  # starts again from 180
    assert not advance(track, normal, 420.0, md, clear).any()
    assert advance(track, normal, 480.0, md, clear).all()


def test_not_judged_stale_and_insufficient_come_before_any_colour():
    lim = limits("higher_is_worse", 1, 2, 4)
    v = np.array([[5.0, 5.0, 5.0, 5.0]])
    fresh = np.array([[True, False, True, True]])
    judged = np.array([[False, True, True, True]])
    enough = np.array([[True, True, False, True]])
    prev = np.full((1, 4), State.NORMAL, dtype=np.int8)
    got = wanted(v, fresh, prev, lim, np.zeros((1, 1)), judged, enough)
    assert got.tolist() == [[State.NOT_JUDGED, State.STALE, State.INSUFFICIENT, State.RED]]


def test_stale_is_immediate_and_never_normal():
    lim = limits("higher_is_worse", 75, 115)
    track = Track.new((1, 1), 0.0)
    track.state[:] = State.RED
    want = wanted(np.array([[np.nan]]), np.zeros((1, 1), bool), track.state, lim, np.array([[0.0]]))
    assert want[0, 0] == State.STALE
    assert advance(track, want, 5.0, np.array([[600.0]])).all()
    assert track.state[0, 0] == State.STALE


def test_uniform_rows_hold_what_a_full_matrix_holds_through_any_reads_and_writes():
    rng = np.random.default_rng(7)
    full = np.full((6, 9), 100.0)
    rows = UniformRows.full(full.shape, 100.0)
    for step in range(300):
        r = np.sort(rng.choice(6, size=rng.integers(1, 7), replace=False))
        kind = step % 5
        if kind == 0:  # whole rows, some of one time throughout, some not
            x = np.where(rng.random((r.size, 1)) < 0.5, rng.choice([5.0, -0.0, 0.0]), rng.random((r.size, 9)))
            full[r], rows[r] = x, x
        elif kind == 1:  # one cell, as a warning taken back
            c = int(rng.integers(9))
            full[r[0], c] = rows[r[0], c] = float(rng.choice([100.0, 7.5]))
        elif kind == 2:
            c = rng.integers(9, size=r.size)
            np.testing.assert_array_equal(rows[r, c], full[r, c])
            np.testing.assert_array_equal(rows[r[:, None], np.arange(9)[None, :]], full[r[:, None], np.arange(9)])
        elif kind == 3:  # cells by arrays, as judging the moved cells alone writes them back
            c = rng.integers(9, size=r.size)
            x = rng.choice([100.0, 7.5, -0.0], size=r.size)
            full[r, c] = rows[r, c] = x
        else:
            np.testing.assert_array_equal(rows[r], full[r])
        assert np.asarray(rows).view(np.int64).tolist() == full.view(np.int64).tolist(), step  # -0.0 kept too
    parts = rows.parts()
    again = UniformRows.of_parts(parts["uniform"], parts["rows"], parts["own"], 9)
    np.testing.assert_array_equal(np.asarray(again), full)
    assert rows.nbytes == 6 * 8 + 9 * 8 * len(rows.own)


def test_uniform_rows_keep_one_number_for_a_row_of_one_time():
    rows = UniformRows.full((3, 1000), 5.0)
    rows[np.array([0, 2])] = np.vstack([np.full(1000, 6.0), np.arange(1000.0)])
    assert set(rows.own) == {2} and rows[0, 999] == 6.0 and rows[2, 999] == 999.0
    rows[2] = 6.0  # back to one time throughout: its array goes
    assert not rows.own and rows.nbytes == 3 * 8
