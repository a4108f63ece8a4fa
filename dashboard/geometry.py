"""Map geometry as a file the browser fetches once: ``/geo/<area>/<digest>.json``, the children's polygons.

A value map of a province's 1,250 streets carried 600 KB of polygons in every compare page (0.78 MB), for
every indicator and range. Plotly takes a URL for a choropleth's GeoJSON and keeps what it fetched (its
``PlotlyGeoAssets``); the URL names the polygons' digest, so it is cached for good (the browser's HTTP
cache too) and a changed hierarchy is a new URL, never old shapes. Figures then carry the values only.
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote

from flask import Blueprint, Response, abort

from dashboard import context
from dashboard.delta import kept
from dashboard.figures import map_shape

YEAR_S = 365 * 86400


def _body(area_id: str) -> tuple[bytes, str]:
    """The GeoJSON of the map of ``area_id`` as sent, and its digest (kept per process: the tree never changes)."""
    def build() -> tuple[bytes, str]:
        body = json.dumps(map_shape(context.get().tree, area_id)["geojson"], separators=(",", ":")).encode()
        return body, hashlib.blake2b(body, digest_size=10).hexdigest()

    return kept(("geo-body", area_id), build)


def geometry_url(area_id: str) -> str:
    """Where the browser fetches the polygons of the map of ``area_id`` (its children, or itself for a grid)."""
    return f"/geo/{quote(area_id)}/{_body(area_id)[1]}.json"


def geometry_blueprint() -> Blueprint:
    """The route serving the polygons: immutable under their digest, refused under any other."""
    bp = Blueprint("geometry", __name__)

    @bp.get("/geo/<path:area_id>/<digest>.json")
    def polygons(area_id: str, digest: str) -> Response:
        if area_id not in context.get().tree:
            abort(404)
        body, current = _body(area_id)
        if digest != current:  # the hierarchy changed since that page was built: its figure asks again
            abort(404)
        return Response(body, mimetype="application/json",
                        headers={"Cache-Control": f"private, max-age={YEAR_S}, immutable"})

    return bp
