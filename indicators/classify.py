"""Pure, vectorised state logic: thresholds to severity, hysteresis and minimum duration.

Every direction is expressed as an allowed range per state: ``higher_is_worse`` has only
upper limits, ``lower_is_worse`` only lower limits, ``band`` both. A value *at* a limit is
already in the warning state. Arrays are (indicators x areas); per-indicator settings are
(indicators x 1) columns so they broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indicators.states import Code, State

NO_PENDING = -1


@dataclass
class Limits:
    """Yellow and red limits for every (indicator, area) of one level."""

    yellow_low: np.ndarray
    yellow_high: np.ndarray
    red_low: np.ndarray
    red_high: np.ndarray
    source: np.ndarray  # int codes into the rule labels ("default", "override 2: level=street", ...)


def severity(values: np.ndarray, lim: Limits, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """NORMAL/YELLOW/RED per cell; ``shift`` narrows the allowed ranges (for hysteresis)."""
    with np.errstate(invalid="ignore"):
        red = (values <= lim.red_low + shift) | (values >= lim.red_high - shift)
        yellow = (values <= lim.yellow_low + shift) | (values >= lim.yellow_high - shift)
    # int8 all the way: at province scale int64 temporaries would cost more than the comparisons
    return np.where(red, np.int8(State.RED), np.where(yellow, np.int8(State.YELLOW), np.int8(State.NORMAL)))


class UniformRows:
    """A (rows x areas) matrix of times whose rows mostly hold one time throughout, kept as that one number.

    A row takes its own array only once its areas differ. The times since which each cell held its
    state and its pending state are such matrices: an indicator not judged at a level is "not judged"
    in every area since one tick (at a province's grids, 251 of 389 rows), and a judged one in a quiet
    district has held its state everywhere since the same tick. Float64 throughout a province's grids
    they would be 16 bytes a cell. Indexing gives what the full matrix would hold, always a copy.
    """

    def __init__(self, uniform: np.ndarray, own: dict[int, np.ndarray], width: int) -> None:
        """Rows of ``uniform`` (one number each), but those in ``own`` (row -> its ``width`` cells)."""
        self.uniform, self.own, self.shape = uniform, own, (uniform.size, width)

    @classmethod
    def full(cls, shape: tuple[int, int], x: float) -> UniformRows:
        """Every cell ``x``."""
        return cls(np.full(shape[0], float(x)), {}, shape[1])

    @classmethod
    def of_parts(cls, uniform: np.ndarray, rows: np.ndarray, own: np.ndarray, width: int) -> UniformRows:
        """From :meth:`parts` (arrays kept as they are, such as mapped from a file); ValueError if they do not fit."""
        if uniform.ndim != 1 or own.shape != (rows.size, width) or ((rows < 0) | (rows >= uniform.size)).any():
            raise ValueError(f"uniform rows {uniform.shape}, own rows {rows.shape} {own.shape} over {width} areas")
        return cls(uniform, dict(zip(rows.tolist(), own, strict=True)), width)

    def parts(self) -> dict[str, np.ndarray]:
        """The numbers of uniform rows, the indices of the others and their cells (for :meth:`of_parts`)."""
        rows = np.array(sorted(self.own), dtype=np.int64)
        own = np.array([self.own[r] for r in rows.tolist()]).reshape(rows.size, self.shape[1])
        return {"uniform": self.uniform, "rows": rows, "own": own}

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return self.uniform.nbytes + sum(a.nbytes for a in self.own.values())

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        """The full matrix (a copy)."""
        full = self[:]
        return full if dtype is None else full.astype(dtype)

    def _row_index(self, rows: object) -> np.ndarray:
        return np.arange(self.shape[0])[rows]

    def __getitem__(self, key: object) -> np.ndarray:
        """Rows (an index, indices or a slice), or cells at broadcastable (rows, columns) indices."""
        if not isinstance(key, tuple):
            r = self._row_index(key)
            out = np.repeat(self.uniform[np.atleast_1d(r)][:, None], self.shape[1], axis=1)
            for k, row in enumerate(np.atleast_1d(r).tolist()):
                if row in self.own:
                    out[k] = self.own[row]
            return out[0] if np.ndim(r) == 0 else out
        rows, cols = key
        r = self._row_index(rows)
        c = np.arange(self.shape[1])[cols] if isinstance(cols, slice) else np.asarray(cols)
        if isinstance(rows, slice):
            r = r[:, None]
        r, c = np.broadcast_arrays(r, c)
        out = np.array(self.uniform[r], dtype=float)
        for row in set(np.unique(r).tolist()) & self.own.keys():
            at = r == row
            out[at] = self.own[row][c[at]]
        return out

    def __setitem__(self, key: object, x: np.ndarray | float) -> None:
        """Set rows (an index, indices or a slice) or cells (row and column numbers, broadcast together)."""
        if isinstance(key, tuple):
            r, c = np.broadcast_arrays(*(np.asarray(k) for k in key))
            x = np.broadcast_to(np.asarray(x, dtype=float), r.shape)
            r, c, x = r.ravel(), c.ravel(), x.ravel()
            for row in np.unique(r).tolist():
                at = r == row
                if row not in self.own:
                    if (_bits(x[at]) == _bits(self.uniform[row])).all():
                        continue
                    self.own[row] = np.full(self.shape[1], self.uniform[row])
                self.own[row][c[at]] = x[at]
            return
        r = np.atleast_1d(self._row_index(key))
        x = np.broadcast_to(np.asarray(x, dtype=float), (r.size, self.shape[1]))
        same = (_bits(x) == _bits(x[:, :1])).all(axis=1)  # bit for bit: -0.0 is no 0.0, a NaN its own
        self.uniform[r[same]] = x[same, 0]
        for k, row in enumerate(r.tolist()):
            if same[k]:
                self.own.pop(row, None)
            else:
                self.own[row] = x[k].copy()


@dataclass
class Track:
    """States of all indicators across the areas of one level, carried from tick to tick."""

    state: np.ndarray
    since: np.ndarray | UniformRows
    pending: np.ndarray
    pending_since: np.ndarray | UniformRows
    judged: np.ndarray  # the last of NORMAL/YELLOW/RED the cell held (NOT_JUDGED: none yet): what a stale cell scores
    last_now: float  # time of the last tick that judged this level: how long a relapse paused a countdown

    @classmethod
    def new(cls, shape: tuple[int, int], now: float) -> Track:
        """Start STALE everywhere: nothing is known until data arrives."""
        return cls(
            state=np.full(shape, State.STALE, dtype=np.int8),
            since=UniformRows.full(shape, now),
            pending=np.full(shape, NO_PENDING, dtype=np.int8),
            pending_since=UniformRows.full(shape, now),
            judged=np.full(shape, State.NOT_JUDGED, dtype=np.int8),
            last_now=now,
        )


def wanted(values: np.ndarray, fresh: np.ndarray, prev: np.ndarray, lim: Limits, hysteresis: np.ndarray,
           judged: np.ndarray | bool = True, enough: np.ndarray | bool = True,
           few: np.ndarray | bool = False) -> np.ndarray:
    """Return the state the data asks for now, before the minimum-duration rule.

    A warning relaxes only once the value has cleared its limit by ``hysteresis``. Where the
    indicator is not ``judged`` the cell is NOT_JUDGED; then where its data is not ``fresh``, STALE;
    then where the evidence is not ``enough``, INSUFFICIENT. Cells with ``few`` events cannot carry
    a warning: they are INSUFFICIENT where the value asks for one, and NORMAL where it does not (so
    a quiet night with two calls in a street is normal, not a grey cell flickering with each call).
    """
    plain = severity(values, lim)
    relaxing = (plain < prev) & (prev >= Code.YELLOW)
    held = plain
    if relaxing.any():  # few cells hold a warning: the narrowed ranges are worked out for those alone
        at = np.nonzero(relaxing)
        sticky = severity(values[at], Limits(*(_at(a, at, values.shape) for a in _bounds(lim)), lim.source),
                          shift=_at(hysteresis, at, values.shape))
        held = plain.copy()
        held[at] = np.maximum(plain[at], np.minimum(prev[at], sticky))
    return gate(held, fresh, judged, enough & ~(few & (held >= Code.YELLOW)))


def gate(severity_now: np.ndarray, fresh: np.ndarray, judged: np.ndarray | bool = True,
         enough: np.ndarray | bool = True) -> np.ndarray:
    """Put the states that are no judgement over a severity: not judged, then stale, then insufficient."""
    out = np.where(enough, severity_now, np.int8(State.INSUFFICIENT))
    out = np.where(fresh, out, np.int8(State.STALE))
    return np.where(judged, out, np.int8(State.NOT_JUDGED)).astype(np.int8)


def advance(track: Track, want: np.ndarray, now: float, min_duration: np.ndarray,
            clear_after: np.ndarray | None = None) -> np.ndarray:
    """Move ``track`` toward ``want``; returns the mask of cells whose state changed.

    Like Prometheus's ``for`` and ``keep_firing_for``:

    - a warning is raised only once a warning above the state held has been asked for on every tick
      for ``min_duration`` seconds, from any state, stale included, and it is raised at the lowest
      severity asked in that time: a value that swings between yellow and red for ten minutes is
      yellow after ten minutes (it was at least yellow throughout), and red only after red alone has
      held as long. A swing does not restart the count; a tick that asks for no warning above the
      state held does;
    - a warning clears (to a lower state) only once its value has been clear for ``clear_after``
      seconds. A tick back at the warning does not restart that count: it takes its own length off the
      time counted clear (a leaky bucket), and only when nothing is left is the countdown dropped. So
      a value that is clear on most ticks clears, a little later than ``clear_after``, and one noisy
      tick costs one tick, not the whole wait. A relapse to a *higher* state than the one held is a
      new warning and raises as above;
    - going stale, and any change that neither raises nor clears a warning, is immediate (missing
      data is a fact, not a trend). So is being judged again: a stale (or insufficient) cell whose
      current data asks for a warning is normal at once while the raise holds, as a normal one would be.

    ``clear_after`` defaults to ``min_duration``.
    """
    clear_after = min_duration if clear_after is None else clear_after
    # A cell asking for the state it holds with nothing pending keeps it (only ``judged`` may
    # move): the rest, a few cells a tick, are worked out alone, one value per cell.
    at = np.nonzero((want != track.state) | (track.pending != NO_PENDING))
    shape = want.shape
    state, pending, want = track.state[at], track.pending[at], want[at]
    min_duration, clear_after = _at(min_duration, at, shape), _at(clear_after, at, shape)
    raising = (want > state) & (want >= Code.YELLOW)
    clearing = (state >= Code.YELLOW) & (want < state) & (want != Code.STALE)
    was_clearing = (pending != NO_PENDING) & (pending < state)
    was_raising = (pending != NO_PENDING) & (pending > state)
    relapse = (want == state) & was_clearing
    # A clear keeps its countdown while it goes on (to whichever lower state), and so does a raise.
    restart = (raising & ~was_raising) | (clearing & ~was_clearing)
    # A raise goes to the severity asked on every tick of its count: the lowest one asked.
    asked, want = want, np.where(raising & was_raising, np.minimum(want, pending), want).astype(np.int8)
    since = np.where(restart, now, track.pending_since[at])
    # A relapse tick of length dt: the clock ran dt, and dt more is taken off the time counted clear.
    since = np.where(relapse, since + 2 * (now - track.last_now), since)
    held = now - since
    paused = relapse & (held > 0)
    ripe = (raising & (held >= min_duration)) | (clearing & (held >= clear_after))
    ripe |= (want != state) & ~raising & ~clearing
    new_state = np.where(ripe, want, state).astype(np.int8)
    new_since = np.where(ripe, now, track.since[at])
    waiting = (raising | clearing) & ~ripe
    # Current data asking for a warning from stale or insufficient evidence is judged now: normal until the
    # raise has held (as a value crossing from normal waits), not "stale" with data seconds old.
    judged_again = waiting & raising & ((state == Code.STALE) | (state == Code.INSUFFICIENT))
    new_state = np.where(judged_again, Code.NORMAL, new_state).astype(np.int8)
    new_since = np.where(judged_again, now, new_since)
    ripe |= judged_again
    # Raised to yellow while red is asked: red's own count starts now.
    higher = ripe & raising & (asked > want)
    pending = np.where(waiting, want, np.where(paused, pending, NO_PENDING))
    track.state, track.since = _put(track.state, at, new_state), _put(track.since, at, new_since)
    track.pending_since = _put(track.pending_since, at, np.where(higher, now, since))
    track.pending = _put(track.pending, at, np.where(higher, asked, pending).astype(np.int8))
    judged_now = (track.state == Code.NORMAL) | (track.state >= Code.YELLOW)
    track.judged = np.where(judged_now, track.state, track.judged).astype(np.int8)
    track.last_now = now
    changed = np.zeros(shape, dtype=bool)
    changed[at] = ripe
    return changed


def _bits(x: np.ndarray | float) -> np.ndarray:
    """The bits of float64 numbers, to compare them exactly."""
    return np.asarray(x, dtype=np.float64).view(np.int64)


def _bounds(lim: Limits) -> tuple[np.ndarray, ...]:
    """The four limits, in the order of the fields of :class:`Limits`."""
    return lim.yellow_low, lim.yellow_high, lim.red_low, lim.red_high


def _at(column: np.ndarray, at: tuple[np.ndarray, np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The cells ``at`` of a matrix of ``shape``, or of a column (or a number) that broadcasts to it."""
    return np.broadcast_to(column, shape)[at]


def _put(matrix: np.ndarray | UniformRows, at: tuple[np.ndarray, np.ndarray], cells: np.ndarray) -> np.ndarray:
    """A copy of ``matrix`` with ``cells`` put ``at`` (the caller's arrays are not changed)."""
    out = np.array(matrix)
    out[at] = cells
    return out
