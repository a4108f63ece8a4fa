"""Trends from the value archive: reads bucketed to the range, sparklines, history lines with threshold bands.

The engine wrote every indicator at every level (cityvitals/archive/values.py); these functions only
read and draw, never roll up across areas. Figures are plain dicts: a section of 60 sparklines is one
figure with one trace, so a panel stays fast.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import replace
from html import escape
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from cityvitals.archive.values import Bucket, bucket_for, in_buckets, newest_step, read_values, values_root
from dashboard import clock, context
from dashboard.components import bi
from dashboard.memo import Memo
from dashboard.ranges import TimeRange
from dashboard.theme import STATE_COLOR
from indicators.states import State

ROW_PX = 30  # one panel row, and one sparkline slot beside it (assets/40_pages.css .trend-rows .row)
SPARK_POINTS = 100  # 24 h in 15-minute means; 7 d in 6-hour means
LINE_POINTS = 300
CACHE_SIZE = 64
_cache = Memo(CACHE_SIZE)  # reads, shared by gunicorn threads
T = TypeVar("T")
TEXT_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_COLOR = "#8ecae6"
AXIS = {"gridcolor": "#1b2740", "zeroline": False}
LOOK = {"paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)", "font": {"color": "#c4ccda"}}


def series(indicators: list[str], areas: list[str], rng: TimeRange, max_points: int = LINE_POINTS
           ) -> tuple[pd.DataFrame, Bucket]:
    """Archived values of the indicators in the areas over the range, bucketed to at most ``max_points``.

    The range is read as :func:`aligned` to its bucket, and a read is kept until the bucket moves or a
    newer step is archived, so the refreshes of every page on the same data share one read.
    """
    values, levels, newest = archive_of(areas)
    bucket = range_bucket(rng, max_points)
    window = aligned(rng, bucket)
    # the frame is sorted by indicator and area whatever the order asked: so is the key
    key = (tuple(sorted(indicators)), tuple(sorted(areas)), window.start, window.end, bucket.seconds, str(values),
           newest)

    def read() -> tuple[pd.DataFrame, Bucket]:
        finer = range_bucket(rng, LINE_POINTS)  # the buckets a page read already (compare ranks on them)
        fine_window = aligned(rng, finer)
        done = _cache.peek((*key[:2], fine_window.start, fine_window.end, finer.seconds, *key[5:]))
        if done is not None and bucket.seconds % finer.seconds == 0:  # merge them rather than read again
            return in_buckets(done[0][done[0]["ts"] >= window.start], bucket), bucket
        return read_values(values, window.start, window.end, indicators, areas, levels, bucket), bucket

    return cached(key, read)


def archive_of(areas: Collection[str]) -> tuple[Path | None, set[str], float]:
    """The value archive to read, the levels of ``areas`` (only their partitions can hold them), its newest step.

    No archive configured (tests of single callbacks): None and 0, read as nothing ("no history yet").
    """
    ctx = context.get()
    levels = {ctx.tree[a].level for a in areas if a in ctx.tree}
    values = values_root(ctx.archive_path) if ctx.archive_path else None
    return values, levels, newest_step(values, levels) if values else 0.0


def cached(key: tuple, read: Callable[[], T]) -> T:
    """``read()``, kept under ``key`` among the latest reads; threads asking for one key at once share one read.

    A key must name everything the read depends on (the archive's newest step too), so none is ever stale.
    """
    return _cache.get(key, read)


def means(indicators: list[str], areas: list[str], rng: TimeRange) -> pd.DataFrame:
    """Each cell's mean over the range (of every finite step) and its state at the range's end.

    Columns: indicator, area, value, state.
    """
    frame, _bucket = series(indicators, areas, rng)
    ind, ind_names = pd.factorize(frame["indicator"])  # grouped by codes: strings cost 5 times more to group
    area, area_names = pd.factorize(frame["area"])
    cells = pd.DataFrame({"cell": ind.astype(np.int64) * len(area_names) + area,  # one key: cheaper than two
                          "total": frame["value"].fillna(0.0).to_numpy() * frame["n"].to_numpy(),
                          "n": frame["n"].to_numpy(), "state": frame["last"].to_numpy()})
    out = cells.groupby("cell", sort=False).agg(total=("total", "sum"), n=("n", "sum"),
                                                state=("state", "last"))  # sorted by time: "last" is the newest
    value = out["total"] / out["n"].where(out["n"] > 0)
    i, a = np.divmod(out.index.to_numpy(), max(len(area_names), 1))
    return pd.DataFrame({"indicator": ind_names[i], "area": area_names[a], "value": value.to_numpy(),
                         "state": out["state"].to_numpy()})


def range_bucket(rng: TimeRange, max_points: int) -> Bucket:
    """The bucket that gives at most ``max_points`` over the range, starting on the city's clock (a day at midnight)."""
    return bucket_for(rng.span, max_points, offset_s=clock.offset_s(rng.end))


def aligned(rng: TimeRange, bucket: Bucket) -> TimeRange:
    """``rng`` moved forward to end where its bucket ends, its length kept.

    So every refresh within one bucket reads and draws the same window, and the first bucket is whole.
    """
    end = math.ceil((rng.end + bucket.offset_s) / bucket.seconds) * bucket.seconds - bucket.offset_s
    return replace(rng, start=end - rng.span, end=end)


def limits_at(d: dict, area: str | None) -> tuple | None:
    """The yellow and red limits on values at ``area``: an override for its level or itself, else the defaults.

    None where funnel limits judge (they bound counts against what the reference predicts, not values),
    so no band is drawn that the engine does not use. Overrides by schedule or profile are left out: a band
    spans the whole range.
    """
    tree = context.get().tree
    level = tree[area].level if area in tree else None
    funnel = d.get("funnel")
    if funnel is not None and level in (funnel.get("levels") or ("community", "grid")):
        return None
    y, r = d["thresholds"]["yellow"], d["thresholds"]["red"]
    for o in d.get("overrides") or ():
        if not o.get("schedule") and not o.get("profile") and (o.get("level") == level or o.get("area") == area) \
                and (o.get("level") or o.get("area")):
            y, r = o["yellow"], o["red"]
    return y, r


def bands(d: dict, area: str | None = None) -> list[tuple[float | None, float | None, State]]:
    """Value ranges of the yellow and red states under the limits at ``area`` (None: open end)."""
    limits = limits_at(d, area)
    if limits is None:
        return []
    y, r = limits
    if d["direction"] == "higher_is_worse":
        return [(y, r, State.YELLOW), (r, None, State.RED)]
    if d["direction"] == "lower_is_worse":
        return [(r, y, State.YELLOW), (None, r, State.RED)]
    return [(r[0], y[0], State.YELLOW), (y[1], r[1], State.YELLOW), (None, r[0], State.RED), (r[1], None, State.RED)]


def view_range(values: np.ndarray, d: dict, area: str | None = None) -> tuple[float, float]:
    """The y range of a trend: its values, stretched to the nearest limit when that is close (within one span)."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = high - low or max(abs(high), 1.0)
    lo, hi = low, high
    for y0, y1, _ in bands(d, area):
        for edge in (y0, y1):
            if edge is not None and low - span <= edge <= high + span:
                lo, hi = min(lo, edge), max(hi, edge)
    pad = (hi - lo) * 0.08 or 1.0
    return lo - pad, hi + pad


def band_shapes(d: dict, lo: float, hi: float, area: str | None = None, to_y=lambda v: v) -> list[dict]:
    """Rectangles of the yellow and red bands at ``area`` inside ``[lo, hi]`` (mapped by ``to_y``), full width."""
    shapes = []
    for y0, y1, state in bands(d, area):
        a, b = max(lo, -math.inf if y0 is None else y0), min(hi, math.inf if y1 is None else y1)
        if a < b:
            shapes.append({"type": "rect", "xref": "x domain", "x0": 0, "x1": 1, "yref": "y", "y0": to_y(a),
                           "y1": to_y(b), "fillcolor": STATE_COLOR[state], "opacity": 0.22, "line": {"width": 0},
                           "layer": "below"})
    return shapes


def spark_section(defs: list[dict], frame: pd.DataFrame, area: str, rng: TimeRange, bucket: Bucket) -> dict:
    """One figure of sparklines, one slot per indicator top to bottom, each scaled to itself with its bands.

    A trace per indicator on the bucket grid (``x0`` and ``dx``, no times sent; a bucket without data is a
    gap), its y scaled into its slot and its values for the hover in ``customdata``: a 60-row panel's
    figures come to a third of one trace carrying every time and a hover text per point.
    """
    traces: list[dict] = []
    shapes: list[dict] = []
    last: dict[str, list] = {"x": [], "y": [], "color": []}  # each trend's newest point, in its state's colour
    mine = frame[(frame["area"] == area) & frame["indicator"].isin([d["id"] for d in defs])]  # a panel's read
    by_ind = {k: g for k, g in mine.groupby("indicator", observed=True)}
    for slot, d in enumerate(defs):
        g = by_ind.get(d["id"])
        values = g["value"].to_numpy() if g is not None else np.array([])
        lo, hi = view_range(values, d, area)
        top, bottom = -slot - 0.12, -slot - 0.88
        scale = lambda v, lo=lo, hi=hi, top=top, bottom=bottom: bottom + (v - lo) / (hi - lo) * (top - bottom)  # noqa: E731
        shapes += band_shapes(d, lo, hi, area, scale)
        if g is None:
            continue
        first, points = on_grid(g["ts"].to_numpy(), values, bucket.seconds)
        ys = [None if v is None else round(scale(v), 3) for v in points]  # 3 decimals: a tenth of a pixel
        raw = [None if v is None else float(f"{v:.4g}") for v in points]
        unit = d.get("unit", "")
        traces.append({"type": "scatter", "mode": "lines+markers", "x0": clock.axis_ms(first),
                       "dx": bucket.seconds * 1000, "y": ys, "customdata": raw, "connectgaps": False,
                       "hovertemplate": f"%{{x|%m-%d %H:%M}}<br>%{{customdata}}{unit and ' ' + unit}<extra></extra>",
                       "marker": {"size": 2, "color": SPARK_COLOR}, "line": {"color": SPARK_COLOR, "width": 1.5}})
        last["x"].append(clock.axis_ms(first + (len(ys) - 1) * bucket.seconds))
        last["y"].append(ys[-1])
        last["color"].append(STATE_COLOR[State(int(g["state"].iloc[-1]))])
    return {
        "data": [*traces, {"type": "scatter", "mode": "markers", "x": last["x"], "y": last["y"], "hoverinfo": "skip",
                           "marker": {"size": 6, "color": last["color"]}}],
        "layout": {**LOOK, "height": max(len(defs), 1) * ROW_PX, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
                   "showlegend": False, "shapes": shapes, "hovermode": "closest",
                   "xaxis": {"visible": False, "range": axis_range(rng), "type": "date"},
                   "yaxis": {"visible": False, "range": [-max(len(defs), 1), 0], "fixedrange": True},
                   "meta": {"bucket": bucket.label}},
    }


def on_grid(ts: np.ndarray, values: np.ndarray, seconds: float) -> tuple[float, list]:
    """A series as its first bucket's time and a value (None: no finite one) per bucket from it, for ``x0``/``dx``."""
    at = np.rint((ts - ts[0]) / seconds).astype(int)  # bucket number from the first
    points: list = [None] * (int(at[-1]) + 1)
    for k, v in zip(at.tolist(), values.tolist(), strict=True):
        if math.isfinite(v):
            points[k] = v
    return float(ts[0]), points


def history_figure(d: dict, frame: pd.DataFrame, rng: TimeRange, bucket: Bucket, height: int = 260) -> dict:
    """One area's line over the range with the bands of its default limits; the axis says the aggregation."""
    values = frame["value"].to_numpy()
    area = frame["area"].iloc[0] if len(frame) else None
    lo, hi = view_range(values, d, area)
    return {
        "data": [{"type": "scatter", "mode": "lines+markers", "x": [clock.axis_ms(t) for t in frame["ts"].tolist()],
                  "y": [None if not np.isfinite(v) else float(v) for v in values], "name": d["name"]["zh"],
                  "line": {"color": "#8ecae6", "width": 2}, "marker": {"size": 4}}],
        "layout": {**LOOK, "height": height, "margin": {"l": 50, "r": 10, "t": 10, "b": 40}, "showlegend": False,
                   "shapes": band_shapes(d, lo, hi, area),
                   "xaxis": {**AXIS, "type": "date", "range": axis_range(rng),
                             "title": {"text": aggregation_text(bucket)}},
                   "yaxis": {**AXIS, "title": {"text": d.get("unit", "")}, "range": [lo, hi]}},
    }


def aggregation_text(bucket: Bucket) -> str:
    """What one point of a chart is, in both languages (for an axis title, which takes no markup)."""
    return f"每点为{bucket.label}均值 {bucket.label} means"


def aggregation_label(bucket: Bucket) -> list:
    """What one point of a chart is, as a two-language label."""
    return bi(f"每点为{bucket.label}均值", f"{bucket.label} means")


def text_spark(frame: pd.DataFrame) -> str:
    """A trend as block characters coloured by each bucket's worst state (HTML for a markdown table cell)."""
    values = frame["value"].to_numpy()
    finite = values[np.isfinite(values)]
    if not finite.size:
        return "—"
    lo, hi = float(finite.min()), float(finite.max())
    out = []
    for v, s in zip(values, frame["state"].to_numpy(), strict=True):
        block = " " if not np.isfinite(v) else TEXT_BLOCKS[int((v - lo) / (hi - lo) * 7) if hi > lo else 3]
        out.append(f'<span class="state-{State(int(s)).label}">{escape(block)}</span>')
    return f'<span class="spark">{"".join(out)}</span>'


def axis_range(rng: TimeRange) -> list[float]:
    """A date axis's range: the time range on the city's clock."""
    return [clock.axis_ms(rng.start), clock.axis_ms(rng.end)]
