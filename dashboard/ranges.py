"""The time range of an analyst's page: read from the URL (``?range=24h`` or ``?range=custom&from=&to=``).

Every chart of a page follows the one range its URL names, so a copied link reproduces the view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode

from dash import Input, Output, State, callback, dcc, html

from dashboard import clock, ids
from dashboard.components import bi

PRESETS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
PRESET_NAMES = {"1h": ("近1小时", "Last hour"), "24h": ("近24小时", "Last 24 h"), "7d": ("近7天", "Last 7 days"),
                "30d": ("近30天", "Last 30 days")}
DEFAULT = "24h"
MAX_SPAN_S = 366 * 86400.0  # a custom range longer than a year is cut to its last year (retention is shorter)


@dataclass(frozen=True)
class TimeRange:
    """A range of Unix seconds with the query parameters that name it."""

    start: float
    end: float
    key: str  # 1h, 24h, 7d, 30d or custom
    query: dict[str, str]

    @property
    def span(self) -> float:
        """Length in seconds."""
        return self.end - self.start

    def names(self) -> tuple[str, str]:
        """Chinese and English names of the range, for titles."""
        if self.key in PRESET_NAMES:
            return PRESET_NAMES[self.key]
        text = f"{_day(self.start)} – {_day(self.end)}"
        return text, text


def parse_range(query: dict[str, str], now: float | None = None) -> TimeRange:
    """The range a page's query names; an unknown or malformed one falls back to the last 24 h."""
    now = time.time() if now is None else now
    key = query.get("range") or DEFAULT
    if key in PRESETS:
        return TimeRange(now - PRESETS[key], now, key, {"range": key})
    if key == "custom":
        try:
            start, end = clock.parse(query["from"]), clock.parse(query["to"])
        except (KeyError, ValueError):
            return parse_range({}, now)
        if len(query["to"]) <= 10:  # a date alone: the whole of that day
            end += 86400
        if end > start:
            start = max(start, end - MAX_SPAN_S)
            return TimeRange(start, end, "custom", {"range": "custom", "from": query["from"], "to": query["to"]})
    return parse_range({}, now)


def _day(ts: float) -> str:
    return clock.shown(ts, "%Y-%m-%d %H:%M")


def href(path: str, params: dict[str, str]) -> str:
    """``path`` with the query ``params`` (those with a value)."""
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


def range_picker(path: str, params: dict[str, str], current: TimeRange) -> html.Div:
    """Links to the preset ranges and a custom from/to (the city's dates) that keep the page's other parameters."""
    links = [dcc.Link(bi(*PRESET_NAMES[k]), href=href(path, {**params, "range": k}),
                      className="range-link current" if k == current.key else "range-link", id=f"range-{k}")
             for k in PRESETS]
    custom = current.query if current.key == "custom" else {}
    return html.Div(className="range-picker", children=[
        *links,
        html.Span(bi("自定义", "Custom"), className="range-custom-label"),
        dcc.Input(id=ids.RANGE_FROM, type="text", placeholder="2026-12-01", value=custom.get("from", ""),
                  className="range-date", debounce=True),
        html.Span("–"),
        dcc.Input(id=ids.RANGE_TO, type="text", placeholder="2026-12-07", value=custom.get("to", ""),
                  className="range-date", debounce=True),
        dcc.Link(bi("应用", "Apply"), id=ids.RANGE_APPLY, href=href(path, {**params, **custom}),
                 className="range-link" + (" current" if custom else "")),
        dcc.Store(id=ids.RANGE_BASE, data={"path": path, "params": params}),
    ])


@callback(
    Output(ids.RANGE_APPLY, "href"),
    Input(ids.RANGE_FROM, "value"),
    Input(ids.RANGE_TO, "value"),
    State(ids.RANGE_BASE, "data"),
    prevent_initial_call=True,
)
def custom_href(start: str | None, end: str | None, base: dict) -> str:
    """The custom range's link once both dates are typed (checked when the page reads it)."""
    return href(base["path"], {**base["params"], "range": "custom", "from": (start or "").strip(),
                               "to": (end or "").strip()})
