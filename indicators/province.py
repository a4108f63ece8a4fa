"""A province over several engines: each scores one city's subtree, the province level combines their summaries.

Every engine publishes the aggregates of its tree's top area with each tick (:func:`root_summary`, ``cv:root``
in its own Redis). :class:`Province` merges those of every city as one engine over the whole province would
roll its grids up (sums and extremes of the same aggregates), and judges the province with the same catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cityvitals.areas import LEVELS, Area, AreaTree
from indicators import rollup
from indicators.compiled import CompiledCatalog
from indicators.engine import Engine, LevelResult, TickResult


def root_summary(engine: Engine, result: TickResult) -> dict[str, Any]:
    """The aggregates of every indicator at the top area of ``engine``'s tree after the tick ``result``."""
    lv = result.levels[LEVELS[0]]
    return {"area": lv.area_ids[0], "catalog": engine.catalog.version, "indicators": engine.ind_ids,
            "grids": len(engine.grid_ids), "num": lv.num[:, 0].tolist(), "den": lv.den[:, 0].tolist(),
            "cov": lv.coverage[:, 0].tolist(), "ts": lv.ts[:, 0].tolist(),
            "seen": engine.delivered(LEVELS[0])[:, 0].tolist()}


class Province:
    """Judge a province's own indicators from the summaries its cities' engines publish."""

    def __init__(self, root: Area, compiled: CompiledCatalog) -> None:
        self.root = root
        self.engine = Engine(_skeleton(root), compiled)

    def tick(self, summaries: Sequence[Mapping[str, Any]], now: float) -> LevelResult:
        """Merge the cities' ``summaries`` (one per engine, each of its own grids) and judge the province at ``now``."""
        c, n = self.engine.compiled, len(self.engine.ind_ids)
        for s in summaries:
            if s["indicators"] != self.engine.ind_ids:
                raise ValueError(f"city {s['area']}: scored with catalog {s['catalog']}, "
                                 f"the province with {c.catalog.version}")
        grids = np.array([[float(sum(s["grids"] for s in summaries))]])
        rolled = tuple(np.full((n, 1), np.nan) for _ in range(5))
        for rule, rows in c.rule_rows.items():
            if not rows.size:
                continue
            parts = [rollup.partial_of(rule, _rolled(s, rows), np.array([float(s["grids"])])) for s in summaries]
            done = rollup.finish(rollup.Mix.one(rule, rows.size), rollup.merge(rule, parts), grids[0],
                                 c.scale[rows])
            for target, source in zip(rolled, (done.value, done.ts, done.coverage, done.num, done.den), strict=True):
                target[rows] = source
        seen = np.any([s["seen"] for s in summaries], axis=0)[:, None]
        return self.engine.score_root(rolled, seen, now).levels[LEVELS[0]]


def _rolled(summary: Mapping[str, Any], rows: np.ndarray) -> rollup.Rolled:
    """One city's published aggregates of ``rows`` as a one-column roll-up."""
    col = {k: np.array(summary[k], dtype=float)[rows, None] for k in ("num", "den", "cov", "ts")}
    return rollup.Rolled(value=col["num"], ts=col["ts"], coverage=col["cov"], num=col["num"], den=col["den"])


def _skeleton(root: Area) -> AreaTree:
    """The province's root over one stand-in street, community and grid: all the levels a tree must have."""
    chain, parent = [root], root.id
    for level in LEVELS[1:]:
        chain.append(Area(f"{root.id}/{level}", parent, level, level, level, 0, 0.0, root.geometry))
        parent = chain[-1].id
    return AreaTree(chain)
