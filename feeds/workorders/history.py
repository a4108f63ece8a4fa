"""A historical work-order export replayed with its own timeline: the backlog and closure of every day.

A live pipeline judges orders "as of now": replayed today, a year-old export is all closed and
retired. Here the orders are rebuilt in memory (the pipeline's own checks, no Redis), then the
per-grid aggregates are taken at the end of each local day the export covers and sent through the
ingest path with that day's end as their time, so the sample stream and its archive hold the
history; a table of each day's figures for the whole export comes back for the operator.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from feeds.ingest import dump_item
from feeds.workorders.aggregate import DAY, grid_metrics, order_masks, orders_frame
from feeds.workorders.events import DEADLINES_H, STEPS, Event, Order, advance, check_event

DAILY_COLUMNS = ("received", "closed", "backlog", "overdue", "due", "closed_on_time", "closure_pct")


@dataclass
class History:
    """The orders an export holds, the events refused (reason, raw item), and its daily figures."""

    orders: pd.DataFrame
    refused: list[tuple[str, str]] = field(default_factory=list)

    def day_ends(self, tz: str) -> list[float]:
        """Local midnights ending each day from the first receipt to the day of the last step."""
        steps = self.orders[list(STEPS)]
        if steps.empty:
            return []
        zone = ZoneInfo(tz)
        first = datetime.fromtimestamp(float(np.nanmin(steps.to_numpy())), zone).date()
        last = datetime.fromtimestamp(float(np.nanmax(steps.to_numpy())), zone).date()
        return [datetime.combine(first + timedelta(days=k + 1), datetime.min.time(), zone).timestamp()
                for k in range((last - first).days + 1)]

    def daily(self, ends: Sequence[float]) -> pd.DataFrame:
        """The whole export's figures of each day (ending at each of ``ends``).

        Received and closed that day; the backlog (open) and overdue orders at its end; orders due that
        day, those of them closed on time, and that share in percent (NaN where none was due).
        """
        f = self.orders
        rows = []
        for end in ends:
            masks = order_masks(f, end)
            due, on_time = int(masks["orders_due_24h"].sum()), int(masks["orders_closed_on_time_24h"].sum())
            rows.append((int(((f["received"] > end - DAY) & (f["received"] <= end)).sum()),
                         int(((f["closed"] > end - DAY) & (f["closed"] <= end)).sum()),
                         int(masks["orders_open"].sum()), int(masks["orders_overdue"].sum()), due, on_time,
                         100.0 * on_time / due if due else np.nan))
        return pd.DataFrame(rows, columns=list(DAILY_COLUMNS), index=pd.Index(ends, name="end"))

    def samples(self, ends: Sequence[float], grids: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
        """Per day, the per-grid metric items at that day's end (one list a day, so memory stays flat)."""
        for end in ends:
            values = grid_metrics(self.orders, grids, end)
            yield [{"metric": metric, "area": area, "ts": end, "value": v}
                   for metric, column in values.items() for area, v in column.items() if not np.isnan(v)]


def rebuild(items: Sequence[Any], grids: Collection[str], deadlines_h: Mapping[str, float] = DEADLINES_H,
            clock: Callable[[], float] = time.time) -> History:
    """Check events (each after the ones before it, as the pipeline does) into orders; refused ones with reasons."""
    now = clock()
    orders: dict[str, Order] = {}
    refused = []
    for item in items:
        event = check_event(item, grids, now)
        after = advance(orders.get(event.order), event) if isinstance(event, Event) else event
        if isinstance(after, Order):
            orders[item["order"]] = after
        else:
            refused.append((after, dump_item(item)))
    frame = orders_frame([o.to_line() for o in orders.values()], {**DEADLINES_H, **deadlines_h})
    frame.index = list(orders)
    return History(frame, refused)
