"""The state timeline of every (indicator, area) at every level: one row per change, read off the engine's tracks.

Every cell starts ``stale`` (as the engine does: nothing is known until data arrives) and changes
are recorded at the tick that made them, so a cell's state at any time is its last row's
``to_state`` before it. This records every change, also the ones the warnings log leaves out (a
cell's first judgement, ``stale`` to ``normal``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cityvitals.areas import LEVELS, AreaTree
from indicators.states import State

COLUMNS = ["at", "indicator", "level", "area", "from_state", "to_state"]
LABELS = [s.label for s in State]


class Timeline:
    """Collect the state changes of an engine tick by tick."""

    def __init__(self, tree: AreaTree) -> None:
        self.tree = tree
        self._before: dict[str, np.ndarray] = {}
        self._parts: list[tuple[float, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.indicators: list[str] = []

    def record(self, now: float, indicators: list[str], states: dict[str, np.ndarray],
               rows: Mapping[str, np.ndarray] | None = None) -> int:
        """Note the cells of ``states`` (level -> indicators x areas) that changed since the last call.

        ``rows``: per level, the rows (sorted) outside which no state changed since the last call, as
        an engine's tick tells (``LevelResult.rows``); None: any row may have.
        """
        if indicators != self.indicators:  # a new catalog: its rows start over from stale
            self.indicators, self._before = list(indicators), {}
        changed = 0
        for k, level in enumerate(LEVELS):
            state = states[level]
            before = self._before.get(level)
            if before is None:
                before = self._before[level] = np.full(state.shape, State.STALE, dtype=np.int8)
                at = slice(None)
            else:
                at = slice(None) if rows is None else rows[level]
            sub_rows, cols = np.nonzero(state[at] != before[at])
            if sub_rows.size:
                r = sub_rows if isinstance(at, slice) else at[sub_rows]
                self._parts.append((now, k, r, cols, before[r, cols], state[r, cols].copy()))
                changed += r.size
                before[r, cols] = state[r, cols]
        return changed

    def frame(self) -> pd.DataFrame:
        """The changes so far as rows: at (Unix s), indicator, level, area, from_state, to_state."""
        if not self._parts:
            return pd.DataFrame({c: pd.Series([], dtype=float if c == "at" else object) for c in COLUMNS})
        at = np.concatenate([np.full(p[2].size, p[0]) for p in self._parts])
        level = np.concatenate([np.full(p[2].size, p[1]) for p in self._parts])
        rows, cols = (np.concatenate([p[i] for p in self._parts]) for i in (2, 3))
        before, after = (np.concatenate([p[i] for p in self._parts]).astype(np.int64) for i in (4, 5))
        ids = {k: np.array(self.tree.ids(lv), dtype=object) for k, lv in enumerate(LEVELS)}
        area = np.empty(at.size, dtype=object)
        for k, names in ids.items():
            mine = level == k
            area[mine] = names[cols[mine]]
        labels = np.array(LABELS, dtype=object)
        return pd.DataFrame({"at": at, "indicator": np.array(self.indicators, dtype=object)[rows],
                             "level": np.array(LEVELS, dtype=object)[level], "area": area,
                             "from_state": labels[before], "to_state": labels[after]})
