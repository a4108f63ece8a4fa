"""GCJ-02 and BD-09 boundaries and points end up in WGS-84, where GPS points fall in the right grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely

from cityvitals.areas import AreaTree, PropertyMapping
from cityvitals.areas.crs import gcj02_to_bd09, to_wgs84, wgs84_to_gcj02
from cityvitals.areas.geojson import check_files
from cityvitals.metrics import registry
from feeds.ingest import Ingestor

# AMap's coordinate converter's own example: one WGS-84 point and its GCJ-02 and BD-09 forms.
WGS, GCJ, BD = (116.481499, 39.990475), (116.487586, 39.991754), (116.49412, 39.997716)


def test_published_reference_point_both_ways():
    gcj = wgs84_to_gcj02(np.array([WGS[0]]), np.array([WGS[1]]))
    assert np.allclose(np.ravel(gcj), GCJ, atol=1e-6)
    assert np.allclose(np.ravel(gcj02_to_bd09(*gcj)), BD, atol=1e-6)
    back = np.ravel(to_wgs84(np.array([GCJ[0]]), np.array([GCJ[1]]), "gcj02"))
    assert np.allclose(back, WGS, atol=1e-6)  # the reference is rounded to 1e-6
    exact = np.ravel(to_wgs84(*gcj, "gcj02"))
    assert np.allclose(exact, WGS, atol=1e-9)  # the solved inverse of our own forward: far below a millimetre
    assert np.allclose(np.ravel(to_wgs84(np.array([BD[0]]), np.array([BD[1]]), "bd09")), WGS, atol=2e-6)


def test_outside_china_nothing_moves():
    lon, lat = wgs84_to_gcj02(np.array([2.35, -74.0]), np.array([48.85, 40.7]))
    assert lon.tolist() == [2.35, -74.0] and lat.tolist() == [48.85, 40.7]


def _cells() -> list[tuple[str, shapely.Polygon]]:
    """Four grid cells 200 m wide in a row, in WGS-84, in Pukou."""
    return [(f"g{k}", shapely.box(118.600 + 0.002 * k, 32.050, 118.602 + 0.002 * k, 32.052)) for k in range(4)]


def _gcj_file(tmp_path, crs: str) -> tuple:
    """The cells (with their street, community and district) as a GCJ-02 or BD-09 map app exports them."""
    def shifted(shape: shapely.Geometry) -> dict:
        def move(xy: np.ndarray) -> np.ndarray:
            lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
            if crs == "bd09":
                lon, lat = gcj02_to_bd09(lon, lat)
            return np.column_stack([lon, lat])
        return shapely.geometry.mapping(shapely.transform(shape, move))
    whole = shapely.box(118.600, 32.050, 118.608, 32.052)
    features = [{"type": "Feature", "geometry": shifted(whole),
                 "properties": {"id": i, "name": i, "parent": p, "level": lv, "population": 100}}
                for i, p, lv in (("d", None, "district"), ("s", "d", "street"), ("c", "s", "community"))]
    features += [{"type": "Feature", "geometry": shifted(shape),
                  "properties": {"id": i, "name": i, "parent": "c", "level": "grid", "population": 25}}
                 for i, shape in _cells()]
    path = tmp_path / f"{crs}.json"
    path.write_text(json.dumps(features))
    return path


# 50 m inside each cell's west edge: a 500 m shift puts it two cells off (or outside).
POINTS = [(118.6005 + 0.002 * k, 32.051) for k in range(4)]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_wgs84_points_fall_in_their_cells_of_an_imported_map_app_file(tmp_path, crs):
    path = _gcj_file(tmp_path, crs)
    areas, problems = check_files([path], PropertyMapping(), [None], crs=crs)
    assert problems == []
    locator = AreaTree(areas).grid_locator()
    lon, lat = np.array(POINTS).T
    assert locator.locate(lon, lat).tolist() == ["g0", "g1", "g2", "g3"]
    as_if_wgs84, _ = check_files([path], PropertyMapping(), [None])
    wrong = AreaTree(as_if_wgs84).grid_locator().locate(lon, lat).tolist()
    assert wrong != ["g0", "g1", "g2", "g3"]  # read as WGS-84 the same file puts them elsewhere


def test_a_pushed_point_says_its_crs(tmp_path):
    areas, _ = check_files([_gcj_file(tmp_path, "gcj02")], PropertyMapping(), [None], crs="gcj02")
    tree = AreaTree(areas)
    ingestor = Ingestor(None, "push", registry(), set(tree.ids("grid")), locator=tree.grid_locator())
    gcj = wgs84_to_gcj02(np.array([POINTS[2][0]]), np.array([POINTS[2][1]]))
    item = {"metric": "aqi", "ts": 1_767_000_000.0, "value": 40.0, "lon": float(gcj[0][0]), "lat": float(gcj[1][0])}
    checked = ingestor.check([{**item, "crs": "gcj02"}, dict(item, lon=POINTS[2][0], lat=POINTS[2][1]),
                              {**item, "crs": "mars"}])
    assert list(checked.samples.area) == ["g2", "g2"]
    assert checked.refused == [(2, "lon and lat in unknown crs 'mars': one of wgs84, gcj02, bd09")]
