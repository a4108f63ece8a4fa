"""Where the push API puts what each source sends, made on a source's first request and kept.

Samples go to an Ingestor of feed ``push:<source>`` (grids, or any area of the tree for its own-level
statistics); work-order events to a pipeline of feed ``events:<source>`` (orders at grids, or above them
on behalf of the grids below).
"""

from __future__ import annotations

import redis

from cityvitals.areas import AreaTree
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.workorders.aggregate import grids_below
from feeds.workorders.pipeline import WorkOrderPipeline


class SourceSinks:
    """One sample ingestor and one work-order pipeline per pushing source, over one Redis and area tree."""

    def __init__(self, client: redis.Redis, tree: AreaTree) -> None:
        self.client, self.tree = client, tree
        self.grids, self.locator, self.below = frozenset(tree.ids("grid")), tree.grid_locator(), grids_below(tree)
        self._samples: dict[str, Ingestor] = {}
        self._orders: dict[str, WorkOrderPipeline] = {}

    def samples(self, source: str) -> Ingestor:
        """The ingestor of the samples ``source`` pushes."""
        if source not in self._samples:
            self._samples[source] = Ingestor(self.client, f"push:{source}", registry(), self.tree,
                                             locator=self.locator)
        return self._samples[source]

    def orders(self, source: str) -> WorkOrderPipeline:
        """The work-order pipeline of the events ``source`` pushes."""
        if source not in self._orders:
            ingestor = Ingestor(self.client, f"events:{source}", registry(), self.grids)
            self._orders[source] = WorkOrderPipeline(ingestor, below=self.below)
        return self._orders[source]
