"""``wanted`` and ``advance`` work out only the cells that can change: the same tracks as the whole-matrix rules.

The plain computations below are the rules as they were written before (every cell, every tick);
random values, limits and durations drive both over many ticks, and every field must stay identical.
"""

import copy

import numpy as np
import pytest

from indicators.classify import NO_PENDING, Limits, Track, advance, gate, severity, wanted
from indicators.states import State


def _plain_wanted(values, fresh, prev, lim, hysteresis, judged, enough, few):
    plain = severity(values, lim)
    sticky = severity(values, lim, shift=hysteresis)
    relaxing = (plain < prev) & (prev >= State.YELLOW)
    held = np.where(relaxing, np.maximum(plain, np.minimum(prev, sticky)), plain)
    return gate(held, fresh, judged, enough & ~(few & (held >= State.YELLOW)))


def _plain_advance(track, want, now, min_duration, clear_after):
    state, pending = track.state, track.pending
    raising = (want > state) & (want >= State.YELLOW)
    clearing = (state >= State.YELLOW) & (want < state) & (want != State.STALE)
    was_clearing = (pending != NO_PENDING) & (pending < state)
    was_raising = (pending != NO_PENDING) & (pending > state)
    relapse = (want == state) & was_clearing
    restart = (raising & ~was_raising) | (clearing & ~was_clearing)
    asked, want = want, np.where(raising & was_raising, np.minimum(want, pending), want).astype(np.int8)
    since = np.where(restart, now, track.pending_since)
    since = np.where(relapse, since + 2 * (now - track.last_now), since)
    held = now - since
    paused = relapse & (held > 0)
    ripe = (raising & (held >= min_duration)) | (clearing & (held >= clear_after))
    ripe |= (want != state) & ~raising & ~clearing
    track.state = np.where(ripe, want, state).astype(np.int8)
    track.since = np.where(ripe, now, track.since)
    waiting = (raising | clearing) & ~ripe
    judged_again = waiting & raising & ((state == State.STALE) | (state == State.INSUFFICIENT))
    track.state = np.where(judged_again, State.NORMAL, track.state).astype(np.int8)
    track.since = np.where(judged_again, now, track.since)
    ripe |= judged_again
    higher = ripe & raising & (asked > want)
    track.pending_since = np.where(higher, now, since)
    pending = np.where(waiting, want, np.where(paused, pending, NO_PENDING))
    track.pending = np.where(higher, asked, pending).astype(np.int8)
    judged_now = (track.state == State.NORMAL) | (track.state >= State.YELLOW)
    track.judged = np.where(judged_now, track.state, track.judged).astype(np.int8)
    track.last_now = now
    return ripe


@pytest.mark.parametrize("seed", range(4))
def test_the_cells_that_can_change_give_the_tracks_of_the_whole_matrix(seed):
    rng = np.random.default_rng(seed)
    rows, cols = 12, 40
    yellow, red = rng.uniform(40, 60, (rows, 1)), rng.uniform(60, 90, (rows, 1))
    per_area = rng.uniform(0, 5, (rows, cols))  # overrides: limits that differ per area
    lim = Limits(np.full((rows, cols), -np.inf), yellow + per_area, np.full((rows, cols), -np.inf), red + per_area,
                 np.zeros((rows, cols), dtype=np.int64))
    hysteresis, min_duration = rng.uniform(0, 8, (rows, 1)), rng.choice([0.0, 60.0, 180.0, 600.0], (rows, 1))
    clear_after = rng.choice([0.0, 120.0, 300.0], (rows, 1))
    mine, plain = Track.new((rows, cols), 0.0), Track.new((rows, cols), 0.0)
    value = rng.uniform(20, 100, (rows, cols))
    changes = holding = 0
    for tick in range(1, 400):
        value += rng.normal(0, 6, value.shape)  # values wander across the limits, back and forth
        fresh = rng.random(value.shape) > 0.03
        enough, few = rng.random(value.shape) > 0.02, rng.random(value.shape) < 0.02
        judged = np.ones((rows, 1), dtype=bool)
        judged[0] = False
        now = 60.0 * tick
        want = wanted(value, fresh, mine.state, lim, hysteresis, judged, enough, few)
        np.testing.assert_array_equal(want, _plain_wanted(value, fresh, plain.state, lim, hysteresis, judged, enough,
                                                          few), strict=True)
        before = copy.deepcopy(plain)
        got = advance(mine, want, now, min_duration, clear_after)
        np.testing.assert_array_equal(got, _plain_advance(plain, want, now, min_duration, clear_after), strict=True)
        for name in ("state", "since", "pending", "pending_since", "judged"):
            np.testing.assert_array_equal(getattr(mine, name), getattr(plain, name), strict=True, err_msg=name)
        assert mine.last_now == plain.last_now
        changes += int(got.sum())
        holding += int(((want == before.state) & (before.pending == NO_PENDING)).sum())
    assert holding > 0.5 * 399 * value.size  # most cells hold with nothing pending: the shortcut matters
    assert changes > 200  # raises, clears, relapses and stale cells all happened
