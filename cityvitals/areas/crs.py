"""Chinese map coordinates to WGS-84: GCJ-02 (AMap, Tencent, DataV) and BD-09 (Baidu), vectorised.

GCJ-02 shifts WGS-84 by a published non-linear offset (up to ~500 m); BD-09 adds Baidu's own
rotation and offset on top. The forward formulas are the published ones; GCJ-02 → WGS-84 has no
closed form, so it is solved by fixed-point iteration (to well under a millimetre). Points outside
China's bounding box are not shifted by these systems and pass unchanged.
"""

from __future__ import annotations

import numpy as np
import shapely

CRS = ("wgs84", "gcj02", "bd09")
_A = 6378245.0  # semi-major axis of Krasovsky 1940, the ellipsoid GCJ-02 is defined on
_EE = 0.00669342162296594323  # its eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0
_ITERATIONS = 30  # each halves the error at least; converges to 1e-12 degrees within ~10


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset, in degrees, of WGS-84 points."""
    x, y = lon - 105.0, lat - 35.0
    waves = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + waves
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + waves
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    d_lat = d_lat * 180.0 / ((_A * (1.0 - _EE)) / (magic * np.sqrt(magic)) * np.pi)
    d_lon = d_lon * 180.0 / (_A / np.sqrt(magic) * np.cos(rad) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, d_lon, 0.0), np.where(inside, d_lat, 0.0)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return WGS-84 points in GCJ-02."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return GCJ-02 points in WGS-84 (solved: the WGS-84 point whose GCJ-02 is the given one)."""
    lon, lat = np.asarray(lon, float), np.asarray(lat, float)
    w_lon, w_lat = lon.copy(), lat.copy()
    for _ in range(_ITERATIONS):
        g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
        w_lon, w_lat = w_lon - (g_lon - lon), w_lat - (g_lat - lat)
    return w_lon, w_lat


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return BD-09 points in GCJ-02."""
    x, y = np.asarray(lon, float) - 0.0065, np.asarray(lat, float) - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return GCJ-02 points in BD-09."""
    x, y = np.asarray(lon, float), np.asarray(lat, float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def to_wgs84(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Return points given in ``crs`` (wgs84, gcj02 or bd09) in WGS-84."""
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    if crs == "wgs84":
        return np.asarray(lon, float), np.asarray(lat, float)
    raise ValueError(f"unknown coordinate system {crs!r}: one of {', '.join(CRS)}")


def geometry_to_wgs84(geometry: shapely.Geometry, crs: str) -> shapely.Geometry:
    """Return a lon/lat geometry given in ``crs`` in WGS-84, vertex by vertex."""
    if crs == "wgs84":
        return geometry
    return shapely.transform(geometry, lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], crs)))
