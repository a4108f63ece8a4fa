"""Large tables as one DataTable each: thousands of html.Td components freeze Dash's renderer for seconds."""

from __future__ import annotations

from dash import dash_table

from dashboard.theme import STATE_COLOR
from indicators.states import State

STYLE = {
    "style_table": {"overflowX": "auto"},
    "style_header": {"backgroundColor": "#0f1a2e", "color": "#9aa5b8", "fontWeight": "500", "fontFamily": "inherit",
                     "border": "none", "borderBottom": "1px solid #24324a"},
    "style_cell": {"backgroundColor": "#0b1220", "color": "#e5e9f0", "border": "none",
                   "borderBottom": "1px solid #1b2740", "fontFamily": "inherit", "fontSize": "1rem",
                   "textAlign": "left", "padding": "4px 8px", "whiteSpace": "normal", "height": "auto"},
    "style_filter": {"backgroundColor": "#0f1a2e", "color": "#e5e9f0"},
    "css": [{"selector": ".dash-cell-value a, p a", "rule": "color: #8ecae6;"},
            {"selector": "p", "rule": "margin: 0;"}],
}


def state_styles(column: str = "state") -> list[dict]:
    """Colour a state column by its value, so states read at a glance (the icon tells them apart too)."""
    return [{"if": {"filter_query": f'{{{column}}} contains "{s.label}"', "column_id": column},
             "color": STATE_COLOR[s], "fontWeight": "700"} for s in State]


def data_table(table_id: str, columns: list[tuple[str, str]], markdown: set[str] = frozenset(),
               markdown_html: bool = False, styles: list[dict] = (), **options) -> dash_table.DataTable:
    """A dark DataTable with (column id, header) pairs; ids in ``markdown`` render links (and escaped HTML if asked).

    ``styles``: conditional styles beyond the state column's colours.
    """
    return dash_table.DataTable(
        id=table_id, data=[],
        columns=[{"id": c, "name": name, **({"presentation": "markdown"} if c in markdown else {})}
                 for c, name in columns],
        markdown_options={"link_target": "_self", "html": markdown_html},
        style_data_conditional=state_styles() + list(styles),
        **STYLE, **options)
