"""The map's view: centre and zoom fitted to the areas and the map's size in pixels."""

from __future__ import annotations

import math

import pytest

from dashboard.figures import fit_view


def test_twice_the_pixels_is_one_zoom_step_and_the_centre_stays(demo_tree):
    streets = demo_tree.children(demo_tree.root.id)
    centre, zoom = fit_view(streets, (1000, 950))
    centre_4k, zoom_4k = fit_view(streets, (2000, 1900))
    assert zoom_4k == pytest.approx(zoom + 1) and centre_4k == centre


def test_the_tighter_side_decides_so_every_area_stays_on_the_map(demo_tree):
    streets = demo_tree.children(demo_tree.root.id)
    wide, tall = fit_view(streets, (4000, 500))[1], fit_view(streets, (500, 4000))[1]
    square = fit_view(streets, (500, 500))[1]
    assert min(wide, tall) == pytest.approx(square) and max(wide, tall) > square
    _, zoom = fit_view(streets, (1000, 1000))
    lon0, lat0, lon1, lat1 = (min(a.geometry.bounds[0] for a in streets), min(a.geometry.bounds[1] for a in streets),
                              max(a.geometry.bounds[2] for a in streets), max(a.geometry.bounds[3] for a in streets))
    px_per_degree = 512 * 2 ** zoom / 360
    stretch = 1 / math.cos(math.radians((lat0 + lat1) / 2))
    assert (lon1 - lon0) * px_per_degree <= 1000 and (lat1 - lat0) * stretch * px_per_degree <= 1000
