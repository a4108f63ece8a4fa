"""Figure builders: geometry is sent once; refreshes patch colours and hover text only."""

from __future__ import annotations

import math

import shapely

from cityvitals.areas import Area, AreaTree
from dashboard.delta import kept
from dashboard.theme import STATE_ICON, discrete_colorscale
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


def area_map(tree: AreaTree, area_id: str, states: list[State], hover: list[str]) -> dict:
    """The map of an area's children coloured by state, with state icons at their centres.

    A plain figure dict: go.Figure validates and deep-copies the 500-polygon GeoJSON, which cost most of a drill.
    """
    ids = [a.id for a in map_areas(tree, area_id)]
    shape = kept(("map-shape", area_id), lambda: map_shape(tree, area_id))
    return {
        "data": [
            {"type": "choroplethmap", "geojson": shape["geojson"], "locations": ids, "featureidkey": "id",
             "z": [int(s) for s in states], "zmin": -0.5, "zmax": len(State) - 0.5, "colorscale": discrete_colorscale(),
             "showscale": False, "marker": {"line": {"color": "#0b1220", "width": 1.2}, "opacity": 0.85},
             "text": hover, "hovertemplate": "%{text}<extra></extra>", "customdata": ids},
            {"type": "scattermap", "lon": shape["lon"], "lat": shape["lat"],
             "mode": "text", "text": [STATE_ICON[s] if s != State.NORMAL else "" for s in states],
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

