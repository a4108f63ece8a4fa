"""A believable simulated city, deterministic for a seed: every metric for every grid."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from cityvitals.areas import AreaTree
from cityvitals.metrics import Metric
from cityvitals.store import Sample
from feeds.simulator import scenarios
from feeds.simulator.models import MODELS, RHYTHMS, MetricModel
from feeds.simulator.scenarios import ActiveScenario


class SimulatedCity:
    """Generate samples of all modelled metrics for all grids at a given time."""

    def __init__(self, tree: AreaTree, metrics: dict[str, Metric], seed: int = 7, tz: str = "Asia/Shanghai",
                 models: tuple[MetricModel, ...] = MODELS) -> None:
        self.tree = tree
        self.grid_ids = tree.ids("grid")
        self.metrics, self.seed, self.tz, self.models = metrics, seed, ZoneInfo(tz), models
        self.categories = np.array([tree[g].category or "residential" for g in self.grid_ids])
        self.population_k = tree.population("grid") / 1000.0
        rng = np.random.default_rng(seed)
        # Each grid keeps its own character per metric (a busy crossroads, a quiet lane).
        self.character = {m.metric: rng.lognormal(0.0, m.spread, len(self.grid_ids)) for m in models}

    def values(self, now: float, active: Sequence[ActiveScenario] = ()) -> dict[str, np.ndarray]:
        """Values of every modelled metric for every grid at ``now``, bent by the active scenarios."""
        local = datetime.fromtimestamp(now, self.tz)
        rng = np.random.default_rng([self.seed, int(now)])
        out: dict[str, np.ndarray] = {}
        for model in self.models:
            out[model.metric] = self._one(model, local, rng, out)
        bounds = {m: (self.metrics[m].min, self.metrics[m].max) for m in out}
        for scenario in active:
            scenarios.apply(out, scenario, self.grids_under(scenario.area), now, bounds)
        return out

    def grids_under(self, area_id: str) -> np.ndarray:
        """Mask of the grids in ``area_id`` (the grid itself for a grid)."""
        return scenarios.grids_under(self.tree, self.grid_ids, area_id)

    def _one(self, model: MetricModel, local: datetime, rng: np.random.Generator,
             done: dict[str, np.ndarray]) -> np.ndarray:
        if model.kind == "share":
            return rng.binomial(done[model.of].astype(np.int64), model.p).astype(float)
        shape, weekend = RHYTHMS[model.rhythm]
        factor = shape[local.hour] * (weekend if local.weekday() >= 5 else 1.0)
        mean = model.typical(self.categories) * self.character[model.metric]
        if model.per_1k:
            mean = mean * self.population_k
        if model.fixed:
            return np.round(mean)
        mean = mean * factor
        if model.kind == "count":
            return rng.poisson(mean).astype(float)
        value = (mean * (1 + model.noise * rng.standard_normal(mean.size))
                 + model.extra.get("sd", 0.0) * rng.standard_normal(mean.size))
        m = self.metrics[model.metric]
        return np.clip(value, m.min, m.max)

    def samples(self, now: float, active: Sequence[ActiveScenario] = ()) -> list[Sample]:
        """All samples for ``now``, as the feed sends them."""
        return [
            Sample(metric, grid, now, float(v))
            for metric, values in self.values(now, active).items()
            for grid, v in zip(self.grid_ids, values.tolist(), strict=True)
        ]
