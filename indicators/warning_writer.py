"""The warnings of each tick into the store: records with the value that raised them and their peak, ticker ranks."""

from __future__ import annotations

import math

import numpy as np
import redis

from cityvitals import store
from cityvitals.areas import LEVELS, AreaTree
from cityvitals.vocabulary import STATE_NAMES
from indicators.compiled import CompiledCatalog
from indicators.engine import Engine, LevelResult, cells_of
from indicators.states import State


class WarningWriter:
    """Queue the warning records that moved and drop those that cleared, with their ticker sets."""

    def __init__(self, client: redis.Redis, tree: AreaTree) -> None:
        self.client, self.tree = client, tree
        self._residents = {level: tree.population(level) for level in LEVELS}
        self._peaks: dict[str, tuple[float, float]] = {}  # warning key -> (value that raised it, worst value since)
        self._rules: tuple[CompiledCatalog | None, dict] = (None, {})  # (row, rule code) -> thresholds' JSON

    def restore(self, warnings: list[dict]) -> None:
        """Take back the raised and peak values of the warnings a previous engine wrote."""
        self._peaks = {str(store.WarningKey.of(w)): (w["raised"], w["peak"]) for w in warnings
                       if w.get("raised") is not None and w.get("peak") is not None}

    def queue(self, pipe: redis.client.Pipeline, engine: Engine, lv: LevelResult) -> None:
        """Queue every moved warning cell's full record; drop only the cells that left a warning."""
        ids, areas = engine.ind_ids, lv.area_ids
        if lv.fresh_start:  # every cell is dirty: no list of them all (50 million at province scale)
            rows, cols = np.nonzero(lv.state >= State.YELLOW)
        else:
            dirty_rows, dirty_cols = lv.cells(lv.dirty)
            warn = lv.state[dirty_rows, dirty_cols] >= State.YELLOW
            rows, cols = dirty_rows[warn], dirty_cols[warn]
        keys = [store.warning_key(ids[r], areas[c]) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
        records = self._records(engine, lv, rows, cols, self._peak_values(engine, lv, keys, rows, cols))
        raised = dict(zip(keys, records, strict=True))
        # a warning's rank in the ticker moves only with its state (and so its since); an episode an operator
        # acknowledged keeps its place below the unacknowledged when a restarted engine ranks it again
        macro, residents = engine.compiled.tiers == "macro", self._residents[lv.level]
        moved = [(k, r, c, s, t) for k, r, c, s, t, m in zip(
            keys, rows.tolist(), cols.tolist(), lv.state[rows, cols].tolist(), lv.since[rows, cols].tolist(),
            lv.changed[rows, cols].tolist(), strict=True) if m]
        acked = store.read_acked(self.client, [m[0] for m in moved])
        ranked = {k: store.ticker_score(STATE_NAMES[s], lv.level, t, macro[r], residents[c],
                                        abs(acked.get(k, -1.0) - t) < 0.001)
                  for k, r, c, s, t in moved}
        if lv.fresh_start:  # drop what an earlier engine left for this level and is no warning now
            mine = set(areas)
            gone = [k for k in store.warning_keys(self.client)
                    if store.WarningKey.parse(k).area in mine and k not in raised]
        else:
            left = lv.cleared[dirty_rows, dirty_cols]
            gone_rows, gone_cols = dirty_rows[left], dirty_cols[left]
            gone = [store.warning_key(ids[r], areas[c])
                    for r, c in zip(gone_rows.tolist(), gone_cols.tolist(), strict=True)]
        for key in gone:
            self._peaks.pop(key, None)
        store.update_warnings(pipe, raised, ranked, gone, self.tree)

    def _peak_values(self, engine: Engine, lv: LevelResult, keys: list[str], rows: np.ndarray,
                     cols: np.ndarray) -> tuple[list, list]:
        """The value that raised each warning (when it took its state) and its worst value since."""
        values, changed = lv.value[rows, cols].tolist(), lv.changed[rows, cols].tolist()
        higher = engine.compiled.higher[rows].tolist()
        raised, peak = [], []
        for key, v, new, up in zip(keys, values, changed, higher, strict=True):
            was = self._peaks.get(key)
            if was is None or (new and not lv.fresh_start):  # a start marks every cell new: keep what was restored
                was = (v, v)
            elif math.isfinite(v):
                was = (was[0], max(was[1], v) if up else min(was[1], v))
            self._peaks[key] = was
            raised.append(was[0])
            peak.append(was[1])
        return raised, peak

    def _records(self, engine: Engine, lv: LevelResult, rows: np.ndarray, cols: np.ndarray,
                 peaks: tuple[list, list]) -> list[str]:
        """JSON records of the given cells (``store.encode_warnings``): enough to explain each on screen."""
        ids, rules = engine.ind_ids, self._rule_texts(engine)
        return store.encode_warnings(lv.level, engine.feeds, store.WarningCells(
            [ids[r] for r in rows.tolist()], [lv.area_ids[c] for c in cols.tolist()], lv.state[rows, cols],
            lv.value[rows, cols], lv.ts[rows, cols], lv.since[rows, cols],
            [rules[r][k] for r, k in zip(rows.tolist(), cells_of(lv.limits.source, rows, cols), strict=True)],
            engine.source_codes(lv.level, rows, cols), lv.coverage[rows, cols], lv.num[rows, cols],
            lv.den[rows, cols], np.array(peaks[0], dtype=float), np.array(peaks[1], dtype=float),
            lv.pending[rows, cols], lv.pending_since[rows, cols]))

    def _rule_texts(self, engine: Engine) -> dict[int, dict[int, str]]:
        """Per indicator row and rule code, the ``"y","r","rule"`` part of a record (built once per catalog)."""
        if self._rules[0] is not engine.compiled:
            self._rules = (engine.compiled, {row: store.rule_fragments(engine.rules[ind])
                                             for row, ind in enumerate(engine.ind_ids)})
        return self._rules[1]
