"""Figure builders: geometry is sent once; refreshes patch colours and hover text only."""

from __future__ import annotations

import math
from typing import NamedTuple

import shapely

from cityvitals.areas import Area, AreaTree
from dashboard.delta import kept
from dashboard.theme import STATE_COLOR, STATE_ICON, discrete_colorscale
from indicators.states import State

MAP_SIZE_PX = (1000, 950)  # the map at 1920x1080, until the browser reports its real size
MAP_MARGIN_ZOOM = 0.3  # a little room around the areas
# A MapLibre style with only a background layer: nothing is fetched, the polygons are the map. Its one source
# is an empty GeoJSON: an empty "sources" is dropped on the way to the browser's Plotly.react, MapLibre then
# refuses the style ("missing required property sources") and the map stops taking refreshes.
OFFLINE_STYLE = {
    "version": 8, "sources": {"none": {"type": "geojson", "data": {"type": "FeatureCollection", "features": []}}},
    "layers": [{"id": "background", "type": "background", "paint": {"background-color": "#0f1a2e"}}],
}


def map_areas(tree: AreaTree, area_id: str) -> list[Area]:
    """Areas the map of ``area_id`` shows: its children, or the area itself for a grid."""
    return tree.children(area_id) or [tree[area_id]]


def fit_view(areas: list[Area], size_px: tuple[float, float] = MAP_SIZE_PX) -> tuple[dict, float]:
    """Centre and zoom that fit the areas on a map of ``size_px`` (width, height) pixels.

    Web Mercator at zoom z is 512 * 2**z pixels round the world; north-south distances are stretched
    by 1/cos(latitude), so the latitude span is scaled before it is compared with the height.
    """
    lon0, lat0, lon1, lat1 = shapely.total_bounds([a.geometry for a in areas])
    stretch = 1 / math.cos(math.radians((lat0 + lat1) / 2))
    width, height = max(size_px[0], 1), max(size_px[1], 1)
    zoom = min(math.log2(width * 360 / (512 * max(lon1 - lon0, 1e-4))),
               math.log2(height * 360 / (512 * max((lat1 - lat0) * stretch, 1e-4))))
    return {"lon": (lon0 + lon1) / 2, "lat": (lat0 + lat1) / 2}, zoom - MAP_MARGIN_ZOOM


class MapLook(NamedTuple):
    """What the map shows of each of its areas, in order: the parts a refresh patches, and the legend's extra lines."""

    states: list[State]
    hover: list[str]
    labels: list[str] | None = None  # text at each area's centre (default: its state icon, none for normal)
    marks: list[State | None] | None = None  # red or yellow areas below: the outline and the mark's colour
    below_legend: tuple | list = ()  # legend lines for the marks

    def label_texts(self) -> list[str]:
        """The text at each area's centre."""
        return self.labels if self.labels is not None else [centre_icon(s) for s in self.states]

    def outline(self) -> tuple[list[str], list[float]]:
        """Outline colour and width per area: the colour of what lies below it, else the plain dark edge."""
        marks = self.marks or [None] * len(self.states)
        return ([EDGE if m is None else STATE_COLOR[m] for m in marks],
                [EDGE_WIDTH if m is None else MARK_WIDTH for m in marks])

    def mark_dots(self) -> tuple[list[str], list[float]]:
        """Colour and size of the dot under each area's label: only where something red or yellow lies below."""
        marks = self.marks or [None] * len(self.states)
        return [STATE_COLOR[m] if m else EDGE for m in marks], [0 if m is None else MARK_SIZE for m in marks]

    def opacity(self) -> list[float]:
        """Fill opacity per area: no judgement (not judged, insufficient evidence) is drawn hollow."""
        return [HOLLOW if s < State.NORMAL else FILL for s in self.states]


EDGE, EDGE_WIDTH, MARK_WIDTH, MARK_SIZE = "#0b1220", 1.2, 4.0, 46
FILL, HOLLOW = 0.85, 0.3


def centre_icon(state: State) -> str:
    """A state's icon at an area's centre; none for normal, so trouble stands out."""
    return "" if state == State.NORMAL else STATE_ICON[state]


def area_map(tree: AreaTree, area_id: str, look: MapLook, geojson_url: str) -> dict:
    """The map of an area's children coloured by state, with state icons (and counts below) at their centres.

    A plain figure dict: go.Figure validates and deep-copies the 500-polygon GeoJSON, which cost most of a drill.
    The polygons are ``geojson_url`` (dashboard/geometry.py), fetched once by the browser: a province's 1,250
    streets were 600 KB of every drill to its top, encoded at each (about 15 ms of a worker).
    """
    ids = [a.id for a in map_areas(tree, area_id)]
    shape = kept(("map-shape", area_id), lambda: map_shape(tree, area_id))
    line_colour, line_width = look.outline()
    dot_colour, dot_size = look.mark_dots()
    return {
        "data": [
            {"type": "choroplethmap", "geojson": geojson_url, "locations": ids, "featureidkey": "id",
             "z": [int(s) for s in look.states], "zmin": -0.5, "zmax": len(State) - 0.5,
             "colorscale": discrete_colorscale(), "showscale": False,
             "marker": {"line": {"color": line_colour, "width": line_width}, "opacity": look.opacity()},
             "text": look.hover, "hovertemplate": "%{text}<extra></extra>", "customdata": ids},
            {"type": "scattermap", "lon": shape["lon"], "lat": shape["lat"],
             "mode": "markers+text", "text": look.label_texts(), "marker": {"color": dot_colour, "size": dot_size},
             "textfont": {"size": 18, "color": "#0b1220"}, "hoverinfo": "skip"},
        ],
        "layout": {
            "map": {"style": OFFLINE_STYLE, "center": shape["centre"], "zoom": shape["zoom"]},
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "paper_bgcolor": "rgba(0,0,0,0)",
            "uirevision": area_id, "showlegend": False,
        },
    }


def map_shape(tree: AreaTree, area_id: str) -> dict:
    """What the map of an area draws whatever the states: polygons, icon positions, centre and zoom."""
    areas = map_areas(tree, area_id)
    centre, zoom = fit_view(areas)
    points = shapely.point_on_surface([a.geometry for a in areas])
    return {"geojson": tree.geojson([a.id for a in areas]), "lon": shapely.get_x(points).tolist(),
            "lat": shapely.get_y(points).tolist(), "centre": centre, "zoom": zoom}


def states_of(summaries: dict[str, dict], ids: list[str]) -> list[State]:
    """Worst state per area from its summary; an area without a summary is STALE, never normal."""
    return [State[summaries[i]["worst"].upper()] if i in summaries else State.STALE for i in ids]

