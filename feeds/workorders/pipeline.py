"""The work-order pipeline: take events, keep each order's lifecycle in Redis, publish per-grid aggregates.

Events never leave the pipeline; only the aggregates of :mod:`feeds.workorders.aggregate` go into the
sample stream, through the feed's :class:`~feeds.ingest.Ingestor`. One pipeline process (or one
push server) per deployment writes the orders: two writers of the same order could race.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cityvitals import store
from feeds.coordinator import Coordinator
from feeds.ingest import Ingestor, IngestResult, Refusal, dump_item
from feeds.workorders.aggregate import grid_metrics, orders_frame, retired
from feeds.workorders.events import DEADLINES_H, Event, Order, advance, check_event


class WorkOrderPipeline:
    """Check events against each order's lifecycle and keep the orders; refused events are dead-lettered."""

    def __init__(self, ingestor: Ingestor, deadlines_h: Mapping[str, float] = DEADLINES_H,
                 below: Mapping[str, Sequence[str]] | None = None) -> None:
        """``below``: the grids of each area above grid level (grids_below): orders there are taken too."""
        self.ingestor, self.deadlines_h = ingestor, {**DEADLINES_H, **deadlines_h}
        self.below = below or {}
        self.areas = frozenset(ingestor.grids) | frozenset(self.below)
        self.feed = ingestor.feed
        ingestor.health.setdefault("events_accepted", 0)

    @property
    def client(self):  # noqa: ANN201
        """The Redis the orders live in."""
        return self.ingestor.client

    def submit(self, items: Sequence[Any]) -> IngestResult:
        """Apply the valid events in order, refuse the others with reasons; one bad event never drops the rest."""
        now = self.ingestor.clock()
        checked = [check_event(item, self.areas, now) for item in items]
        ids = sorted({e.order for e in checked if isinstance(e, Event)})
        orders = {o: Order.from_line(line) for o, line in store.read_orders(self.client, ids).items()}
        result, changed, bad = IngestResult(), set(), []
        for i, event in enumerate(checked):
            after = event if isinstance(event, str) else advance(orders.get(event.order), event)
            if isinstance(after, str):
                result.refused.append(Refusal(i, after))
                bad.append((after, dump_item(items[i])))
                continue
            orders[event.order] = after
            changed.add(event.order)
            result.accepted += 1
        self.ingestor.health["events_accepted"] += result.accepted
        pipe = self.client.pipeline(transaction=False)  # the orders and the feed's health: one round trip
        store.write_orders(pipe, {o: orders[o].to_line() for o in changed})
        if not bad:
            store.write_feed_health(pipe, self.feed, self.ingestor.health)
        pipe.execute()
        self.refuse(bad)
        return result

    def refuse(self, bad: list[tuple[str, str]]) -> None:
        """Count and dead-letter input refused before it became an event (an unreadable line, say)."""
        self.ingestor.refuse(bad)

    def aggregates(self, now: float) -> list[dict[str, Any]]:
        """Per-grid metric items at ``now`` from every order held; retires orders no window needs."""
        raw = store.all_orders(self.client)
        frame = orders_frame(list(raw.values()), self.deadlines_h)
        frame.index = list(raw.keys())
        store.drop_orders(self.client, frame.index[retired(frame, now)].tolist())
        values = grid_metrics(frame, sorted(self.ingestor.grids), now, self.below)
        return [{"metric": metric, "area": area, "ts": now, "value": v}
                for metric, column in values.items()
                for area, v in column.items() if not math.isnan(v)]


class WorkOrderFeed(Coordinator):
    """Publish the pipeline's aggregates once per interval through the ingest path."""

    def __init__(self, pipeline: WorkOrderPipeline, interval_s: float = 60.0) -> None:
        super().__init__(pipeline.feed, interval_s, pipeline.ingestor)
        self.pipeline = pipeline

    def fetch(self, now: float) -> list[Any]:
        """Return the per-grid metric items of this round."""
        return self.pipeline.aggregates(now)
