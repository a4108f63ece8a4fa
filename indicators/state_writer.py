"""The states of each tick into the store: latest values, state cells, and area summaries with the counts below."""

from __future__ import annotations

import numpy as np
import redis

from cityvitals import store
from cityvitals.areas import LEVELS, AreaTree
from indicators import health
from indicators.engine import Engine, LevelResult, TickResult, cells_at


class StateWriter:
    """Queue what moved since the last tick, remembering which packed rows exist in Redis already."""

    def __init__(self, tree: AreaTree) -> None:
        self._latest_head = store.latest_head(tree.ids("grid"))  # names the grid list of latest rows
        self._feed_names: list[str] = []  # the feed names last published
        self._latest_rows: set[int] = set()  # metric rows whose latest row exists in Redis (written or restored)
        self._value_levels: set[str] = set()  # levels whose value rows this engine wrote whole once
        self._ancestors: dict[tuple[str, str], np.ndarray] | None = None  # (level, above) -> ancestor index
        self._below: dict[str, np.ndarray] = {}  # per level: red/yellow areas below each area, as last written

    def restored(self, metric_rows: set[int]) -> None:
        """Remember the metric rows whose latest row a restart found in Redis (the others are written whole)."""
        self._latest_rows = set(metric_rows)

    def resumed(self, levels: set[str], below: dict[str, np.ndarray]) -> None:
        """Remember the levels whose value rows a restart found whole in Redis (they are patched, not rewritten).

        ``below``: per level whose summaries were found whole, the counts below each area they hold.
        """
        self._value_levels |= levels
        self._below.update(below)

    @property
    def latest_rows(self) -> set[int]:
        """The metric rows whose latest row exists in Redis."""
        return self._latest_rows

    @property
    def below(self) -> dict[str, np.ndarray]:
        """Per level, the red/yellow counts below each area as last written (see :meth:`mark_below`)."""
        return self._below

    def queue_feed_names(self, pipe: redis.client.Pipeline, engine: Engine) -> None:
        """Name a new feed before any packed row uses its code."""
        if engine.feeds != self._feed_names:
            store.write_feed_names(pipe, engine.feeds)
            self._feed_names = list(engine.feeds)

    def queue_latest(self, pipe: redis.client.Pipeline, engine: Engine) -> None:
        """Persist the latest values that changed (read back on restart)."""
        rows, cols = engine.take_touched()
        head = self._latest_head
        known = np.zeros(len(engine.metric_ids), dtype=bool)
        known[list(self._latest_rows)] = True
        store.queue_latest(pipe, head, engine.metric_ids, rows, cols, len(engine.grid_ids), lambda r, c: {
                               "v": engine.values[r, c], "ts": engine.ts[r, c], "src": engine.feed[r, c]}, known)
        self._latest_rows.update(rows.tolist())
        for level, own in engine.own.items():  # a level's own statistics: short rows, rewritten whole when they move
            rows, cols = own.take_touched()
            store.queue_latest(pipe, store.latest_head(own.area_ids), own.metric_ids, rows, cols, len(own.area_ids),
                               lambda r, c, own=own: {"v": own.values[r, c], "ts": own.ts[r, c], "src": own.feed[r, c]},
                               np.zeros(len(own.metric_ids), dtype=bool), level)

    def mark_below(self, engine: Engine, result: TickResult) -> None:
        """Count the red and yellow areas below every area; an area whose counts moved has its summary rewritten."""
        macro = engine.compiled.tiers == "macro"
        worst = {level: health.worst(lv.state[macro]) for level, lv in result.levels.items()}
        if self._ancestors is None:
            self._ancestors = {(lower, level): engine._ancestor(lower, level)
                               for k, level in enumerate(LEVELS) for lower in LEVELS[k + 1:]}
        below = health.below_counts(worst, self._ancestors)
        for level, lv in result.levels.items():
            old = self._below.get(level)
            if old is not None:
                lv.dirty_areas |= (old != below[level]).any(axis=(1, 2))
        self._below = below

    def queue_values(self, pipe: redis.client.Pipeline, engine: Engine, lv: LevelResult,
                     sending: store.Sending | None = None) -> int:
        """Queue the state cells that moved (every row exists once the first tick wrote it); returns how many.

        ``sending`` hears of each part of a big level sent on its own (see ``store.queue_values``).
        """
        rows, cols = (None, None) if lv.fresh_start else lv.cells(lv.dirty)  # a start: every cell moved
        store.queue_values(pipe, lv.level, engine.ind_ids, rows, cols, len(lv.area_ids), lambda r, c: {
                               "v": lv.value[r, c], "ts": lv.ts[r, c], "since": lv.since[r, c],
                               "ps": lv.pending_since[r, c], "cov": lv.coverage[r, c],
                               "num": lv.num[r, c], "den": lv.den[r, c],
                               "src": engine.source_codes(lv.level, r, c), "rule": cells_at(lv.limits.source, r, c),
                               "s": lv.state[r, c], "p": lv.pending[r, c], "j": lv.judged[r, c]},
                           np.array([lv.level in self._value_levels] * len(engine.ind_ids)), sending)
        self._value_levels.add(lv.level)
        return lv.dirty.size if rows is None else int(rows.size)

    def queue_summaries(self, pipe: redis.client.Pipeline, engine: Engine, lv: LevelResult, now: float) -> None:
        """Queue the summaries of the areas whose summary moved (all of them on a first tick, as one row)."""
        columns = store.summary_positions(lv.dirty_areas, lv.fresh_start)
        if not columns.size:
            return
        c = engine.compiled
        fields = health.summary_fields(lv.state, lv.judged, c.tiers, c.groups, c.weights, columns)
        oldest = lv.oldest[:, columns]
        store.queue_summaries(pipe, lv.level, columns, len(lv.area_ids), {
            **fields, "below": self._below[lv.level][columns], "data_ts": oldest[0], "domain_ts": oldest[1:].T,
            "updated": np.full(columns.size, now)})
