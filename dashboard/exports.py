"""Take a chart away: its data as CSV (one download per page), its picture as PNG (plotly's modebar).

Each page registers how to rebuild a chart's data from its key (the page's ``CHART_KEY`` store),
so the CSV holds exactly the numbers the chart drew, re-read from the archive at the click.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update

from dashboard import ids
from dashboard.components import bi
from indicators.states import State as IndicatorState

Rebuild = Callable[[dict, str], pd.DataFrame]
_pages: dict[str, Rebuild] = {}


def register(page: str, rebuild: Rebuild) -> None:
    """Say how the charts of ``page`` rebuild their data: ``rebuild(key, chart) -> frame``."""
    _pages[page] = rebuild


def chart_stores(key: dict) -> list:
    """What a page with exportable charts carries: the key its charts rebuild from, and the download."""
    return [dcc.Store(id=ids.CHART_KEY, data=key), dcc.Download(id=ids.DOWNLOAD)]


def csv_button(chart: str) -> html.Button:
    """The CSV export button of one chart."""
    return html.Button(bi("导出CSV", "CSV"), id=ids.csv_button(chart), className="export-button", n_clicks=0,
                       title="下载此图数据 Download this chart's data (CSV)")


def graph_config(filename: str) -> dict:
    """A chart's modebar: the PNG download (named after the view) and little else."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in filename)
    return {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": safe, "scale": 2},
            "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def file_name(key: dict, chart: str) -> str:
    """The CSV's name: page, area, chart and range."""
    parts = [key.get("page", ""), key.get("indicator", key.get("panel", "")), key.get("area", ""), chart,
             key.get("range", "24h"), key.get("from", ""), key.get("to", "")]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in "_".join(p for p in parts if p)) + ".csv"


@callback(
    Output(ids.DOWNLOAD, "data"),
    Input(ids.csv_button(ALL), "n_clicks"),
    State(ids.CHART_KEY, "data"),
    prevent_initial_call=True,
)
def export_csv(clicks: list[int], key: dict) -> dict:
    """Send the clicked chart's data as CSV."""
    chart = ctx.triggered_id["chart"] if isinstance(ctx.triggered_id, dict) else None
    if chart is None or not any(clicks) or key.get("page") not in _pages:
        return no_update
    frame = _pages[key["page"]](key, chart)
    return dcc.send_data_frame(frame.to_csv, file_name(key, chart), index=False)


def tidy(frame: pd.DataFrame, definitions: dict[str, dict], bucket_label: str) -> pd.DataFrame:
    """The archive's frame as a CSV's columns: time, indicator, names, area, value, unit, state, aggregation."""
    names = frame["indicator"].map(lambda i: definitions.get(i, {}).get("name", {}))
    return pd.DataFrame({
        "time_utc": frame["t"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "indicator": frame["indicator"],
        "name_zh": names.map(lambda n: n.get("zh", "")), "name_en": names.map(lambda n: n.get("en", "")),
        "area": frame["area"], "value": frame["value"],
        "unit": frame["indicator"].map(lambda i: definitions.get(i, {}).get("unit", "")),
        "state": frame["state"].map(lambda s: IndicatorState(int(s)).label), "aggregation": f"{bucket_label} mean",
    })
