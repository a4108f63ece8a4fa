"""Turn the pipeline's orders into per-grid metric values, with pandas over all orders at once."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cityvitals.areas.model import LEVELS, AreaTree
from feeds.workorders.events import DEADLINES_H, STEPS

HOUR, DAY = 3600.0, 86400.0
WEEK = 7 * DAY
COLUMNS = ["source", "area", *STEPS, "satisfied", "resolved"]
# Counts are published for every grid (0 where nothing happened); medians only where there is data.
COUNTS = ("hotline_orders_1h", "nonpolice_calls_1h", "petitions_24h", "grid_events_24h", "orders_open",
          "orders_overdue", "orders_due_24h", "orders_closed_on_time_24h", "orders_closed_7d", "orders_rated_7d",
          "orders_satisfied_7d", "orders_solved_in_grid_7d", "orders_escalated_7d", "orders_enforcement_7d",
          "citymgmt_cases_7d", "citymgmt_closed_7d", "citymgmt_ontime_7d")
MEDIANS = ("order_sign_minutes", "order_close_hours")
PRODUCED = COUNTS + MEDIANS


def orders_frame(lines: Sequence[str], deadlines_h: Mapping[str, float] = DEADLINES_H) -> pd.DataFrame:
    """The store's order lines as a frame (one row per order), with each order's deadline."""
    if not lines:
        frame = pd.DataFrame({c: pd.Series(dtype=float) for c in COLUMNS})
    else:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), sep="\t", header=None, names=COLUMNS,
                            dtype={"source": str, "area": str, "resolved": str}, keep_default_na=False,
                            na_values={c: [""] for c in [*STEPS, "satisfied"]})
    frame["deadline"] = frame["received"] + frame["source"].map(deadlines_h).astype(float) * HOUR
    return frame


def _within(ts: pd.Series, now: float, span: float) -> pd.Series:
    return (ts > now - span) & (ts <= now)


def order_masks(f: pd.DataFrame, now: float) -> dict[str, pd.Series]:
    """Which orders each count metric counts, as boolean columns."""
    closed = f["closed"].notna() & (f["closed"] <= now)
    received_1h, received_24h = _within(f["received"], now, HOUR), _within(f["received"], now, DAY)
    open_ = (f["received"] <= now) & ~closed
    due = _within(f["deadline"], now, DAY)
    closed_7d = closed & _within(f["closed"], now, WEEK)
    # due, not received, in the week: a case opened an hour ago cannot be closed yet (结案率 = 结案数 / 应结案数)
    citymgmt = (f["source"] == "citymgmt") & _within(f["deadline"], now, WEEK)
    on_time = closed & (f["closed"] <= f["deadline"])
    return {
        "hotline_orders_1h": received_1h & (f["source"] == "12345"),
        "nonpolice_calls_1h": received_1h & (f["source"] == "110"),
        "petitions_24h": received_24h & (f["source"] == "petition"),
        "grid_events_24h": received_24h & (f["source"] == "grid_app"),
        "orders_open": open_,
        "orders_overdue": open_ & (f["deadline"] < now),
        "orders_due_24h": due,
        "orders_closed_on_time_24h": due & on_time,
        "orders_closed_7d": closed_7d,
        "orders_rated_7d": closed_7d & f["satisfied"].notna(),
        "orders_satisfied_7d": closed_7d & (f["satisfied"] == 1),
        "orders_solved_in_grid_7d": closed_7d & (f["resolved"] == "grid"),
        "orders_escalated_7d": closed_7d & (f["resolved"] == "escalated"),
        "orders_enforcement_7d": closed_7d & (f["resolved"] == "enforcement"),
        "citymgmt_cases_7d": citymgmt,
        "citymgmt_closed_7d": citymgmt & closed,
        "citymgmt_ontime_7d": citymgmt & on_time,
    }


def grids_below(tree: AreaTree) -> dict[str, tuple[str, ...]]:
    """The grids of every area above grid level: where an order of a street or community is counted."""
    grids = np.array(tree.ids("grid"), dtype=object)
    out: dict[str, tuple[str, ...]] = {}
    for level in LEVELS[: LEVELS.index("grid")]:
        ancestor = tree.grid_ancestor_index(level)
        out.update({area: tuple(grids[ancestor == k]) for k, area in enumerate(tree.ids(level))})
    return out


def shares(areas: pd.Series, below: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Where each order (by position) counts: its own grid whole, or each of the n grids below its area 1/n.

    So an area's sums over its grids (and every level above) count the order exactly once.
    """
    parts = pd.DataFrame({"row": np.arange(len(areas)), "grid": [below.get(a, a) for a in areas]}).explode("grid")
    parts["share"] = 1.0 / parts.groupby("row")["grid"].transform("size")
    return parts.reset_index(drop=True)


def weighted_median(values: np.ndarray, weights: np.ndarray, groups: np.ndarray) -> pd.Series:
    """The median of ``values`` per group, each counting by its weight (the plain median when weights are equal)."""
    d = pd.DataFrame({"g": groups, "v": values, "w": weights}).sort_values(["g", "v"], kind="stable",
                                                                          ignore_index=True)
    by = d.groupby("g")
    d["over"] = by["w"].cumsum() - by["w"].transform("sum") / 2.0  # reaches 0 at the median
    d["next"] = by["v"].shift(-1)
    first = d[d["over"] >= -1e-9].groupby("g").head(1).set_index("g")
    # exactly half the weight at or below it: halfway to the next, as the median of an even count is
    between = (first["over"] < 1e-9) & first["next"].notna()
    return first["v"].where(~between, (first["v"] + first["next"]) / 2.0)


def grid_metrics(f: pd.DataFrame, grids: Sequence[str], now: float,
                 below: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Per-grid values of every produced metric at ``now``: one row per grid, one column per metric.

    An order of an area above grid level (a street's task) is shared among the grids ``below`` it.
    """
    parts = shares(f["area"], below or {})
    row, share, grid = parts["row"].to_numpy(), parts["share"].to_numpy(), parts["grid"].to_numpy()
    masks = pd.DataFrame(order_masks(f, now)).astype(float).to_numpy()[row] * share[:, None]
    counts = pd.DataFrame(masks, columns=list(COUNTS)).groupby(grid).sum().reindex(grids, fill_value=0.0)
    signed = f["signed"].notna() & _within(f["signed"], now, WEEK) & f["dispatched"].notna()
    closed = f["closed"].notna() & _within(f["closed"], now, WEEK)
    medians = {}
    for metric, value, counted in (("order_sign_minutes", (f["signed"] - f["dispatched"]) / 60.0, signed),
                                   ("order_close_hours", (f["closed"] - f["received"]) / HOUR, closed)):
        keep = counted.to_numpy()[row]
        medians[metric] = weighted_median(value.to_numpy()[row[keep]], share[keep], grid[keep])
    return pd.concat([counts, pd.DataFrame(medians).reindex(grids)], axis=1)[list(PRODUCED)]


def retired(f: pd.DataFrame, now: float) -> pd.Series:
    """Orders no window counts any more: closed over a week ago and due over a day ago."""
    return (f["closed"] <= now - WEEK) & (f["deadline"] <= now - DAY)
