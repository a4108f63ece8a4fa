"""The area hierarchy: district → street → community/village → grid, with array indexes for rollups."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping

LEVELS: tuple[str, ...] = ("district", "street", "community", "grid")

# Mean Earth radius (IUGG); one degree of arc on it in km.
KM_PER_DEGREE = math.pi * 6371.0088 / 180.0
# Map payloads: 5 decimals of a degree is about 1 m, far below what a screen shows.
_MAP_DECIMALS = 5


@dataclass(frozen=True)
class Area:
    """One administrative or grid area; geometry in lon/lat (EPSG:4326)."""

    id: str
    parent: str | None
    level: str
    name_zh: str
    name_en: str
    population: int
    area_km2: float
    geometry: Polygon | MultiPolygon
    kind: str | None = None
    category: str | None = None


AREA_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Area))


def area_km2(geometries: Sequence[Polygon | MultiPolygon] | np.ndarray) -> np.ndarray:
    """Return each lon/lat geometry's area in km², scaling longitude by cos(latitude) at its middle."""
    geoms = np.asarray(geometries, dtype=object)
    bounds = shapely.bounds(geoms)
    # Empty geometries have NaN bounds (and no area); the bounds' middle also exists for invalid rings.
    lat = np.nan_to_num((bounds[:, 1] + bounds[:, 3]) / 2.0)
    return shapely.area(geoms) * KM_PER_DEGREE**2 * np.cos(np.radians(lat))


def previous_level(level: str) -> str:
    """Return the level above ``level``; the district has none."""
    position = LEVELS.index(level)
    if position == 0:
        raise ValueError(f"level {level!r} is the root level and has no parent level")
    return LEVELS[position - 1]


def feature(area: Area, properties: dict, decimals: int | None = None) -> dict:
    """Return ``area`` as a GeoJSON Feature with ``properties``, coordinates rounded if ``decimals`` is given."""
    geometry = area.geometry
    if decimals is not None:
        geometry = shapely.transform(geometry, lambda xy: np.round(xy, decimals))
    return {"type": "Feature", "id": area.id, "properties": properties, "geometry": mapping(geometry)}


class AreaTree:
    """Indexes over a validated hierarchy: lookups, children, ancestors and parent index arrays.

    The tree keeps its areas as columns; an :class:`Area` object is made only when one is asked
    for (a province has over 100,000 areas, and most processes look at few of them).
    """

    def __init__(self, areas: Iterable[Area]) -> None:
        areas = list(areas)
        self._setup([a.id for a in areas], [a.parent for a in areas], [a.level for a in areas],
                    [a.population for a in areas], [a.geometry for a in areas], [a.kind for a in areas],
                    areas.__getitem__)

    @classmethod
    def from_columns(cls, columns: dict[str, Sequence]) -> AreaTree:
        """Build a tree from one sequence per :class:`Area` field (all of equal length), in Area field order."""
        ordered = [columns[name] for name in AREA_FIELDS]
        tree = cls.__new__(cls)
        tree._setup(columns["id"], columns["parent"], columns["level"], columns["population"], columns["geometry"],
                    columns["kind"], lambda i: Area(*(column[i] for column in ordered)))
        return tree

    def _setup(self, ids: Sequence[str], parents: Sequence[str | None], levels: Sequence[str],
               population: Sequence[int], geometry: Sequence, kinds: Sequence[str | None],
               make: Callable[[int], Area]) -> None:
        self._row: dict[str, int] = {area_id: i for i, area_id in enumerate(ids)}
        self._parents, self._pop, self._geometry, self._make = parents, population, geometry, make
        self._kinds = kinds
        self._made: dict[str, Area] = {}
        roots = [i for i, parent in enumerate(parents) if parent is None]
        if len(roots) != 1:
            raise ValueError(f"an area tree needs exactly one root, got {len(roots)}")
        self._ids: dict[str, list[str]] = {level: [] for level in LEVELS}
        self._children: dict[str, list[str]] = {area_id: [] for area_id in self._row}
        for area_id in sorted(self._row):
            i = self._row[area_id]
            self._ids[levels[i]].append(area_id)
            if parents[i] is not None:
                self._children[parents[i]].append(area_id)
        self.root: Area = self[ids[roots[0]]]
        self._position = {level: {a: i for i, a in enumerate(ids)} for level, ids in self._ids.items()}
        # The tree never changes, so the index arrays are computed once and shared read-only.
        self._parent_index: dict[str, np.ndarray] = {}

    def __getitem__(self, area_id: str) -> Area:
        area = self._made.get(area_id)
        if area is None:
            area = self._made[area_id] = self._make(self._row[area_id])
        return area

    def __contains__(self, area_id: object) -> bool:
        return area_id in self._row

    def __len__(self) -> int:
        return len(self._row)

    def _parent(self, area_id: str) -> str | None:
        return self._parents[self._row[area_id]]

    def ids(self, level: str) -> list[str]:
        """Return the ids of ``level`` sorted; positions in this list are the array indexes."""
        return list(self._ids[level])

    def children(self, area_id: str) -> list[Area]:
        """Return the direct children of ``area_id`` in ids() order."""
        return [self[child] for child in self._children[area_id]]

    def ancestors(self, area_id: str) -> list[Area]:
        """Return the ancestors of ``area_id``, root first, without the area itself."""
        chain: list[Area] = []
        parent = self._parent(area_id)
        while parent is not None:
            chain.append(self[parent])
            parent = self._parent(parent)
        return chain[::-1]

    def parent_index(self, level: str) -> np.ndarray:
        """Return, per area of ``level``, the index of its parent in ids() of the level above."""
        if level not in self._parent_index:
            positions = self._position[previous_level(level)]
            index = np.array([positions[self._parent(a)] for a in self._ids[level]], dtype=np.int64)
            index.setflags(write=False)
            self._parent_index[level] = index
        return self._parent_index[level]

    def grid_ancestor_index(self, level: str) -> np.ndarray:
        """Return, per grid, the index of its ancestor at ``level`` in ids(level)."""
        index = np.arange(len(self._ids["grid"]), dtype=np.int64)
        for step in reversed(LEVELS[LEVELS.index(level) + 1 :]):
            index = self.parent_index(step)[index]
        return index

    def population(self, level: str) -> np.ndarray:
        """Return the population of each area of ``level`` in ids() order."""
        return np.array([self._pop[self._row[a]] for a in self._ids[level]], dtype=np.float64)

    def special(self, level: str) -> np.ndarray:
        """Return, per area of ``level`` in ids() order, whether it is a special grid (a hospital, a school, a park)."""
        return np.array([self._kinds[self._row[a]] == "special" for a in self._ids[level]], dtype=bool)

    def geojson(self, area_ids: Sequence[str]) -> dict:
        """Return a FeatureCollection of ``area_ids`` for maps, coordinates rounded to about 1 m."""
        features = []
        for area_id in area_ids:
            area = self[area_id]
            properties = {"id": area.id, "name_zh": area.name_zh, "name_en": area.name_en, "level": area.level}
            features.append(feature(area, properties, _MAP_DECIMALS))
        return {"type": "FeatureCollection", "features": features}

    def grid_locator(self) -> GridLocator:
        """Return a locator that maps points to the grids of this tree."""
        grid_ids = self._ids["grid"]
        return GridLocator(grid_ids, [self._geometry[self._row[a]] for a in grid_ids])


class GridLocator:
    """Point-in-grid lookup over an STRtree of the grid polygons."""

    def __init__(self, grid_ids: Sequence[str], geometries: Sequence[Polygon | MultiPolygon]) -> None:
        self._ids = np.array(grid_ids, dtype=object)
        self._tree = shapely.STRtree(geometries)

    def locate(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Return the grid id under each point, or None where a point lies in no grid."""
        points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        points = np.atleast_1d(points)
        found, grids = self._tree.query(points, predicate="intersects")
        # A point on a shared edge touches several grids; the lowest grid index wins, every time.
        order = np.lexsort((grids, found))
        found, grids = found[order], grids[order]
        first = np.unique(found, return_index=True)[1]
        result = np.full(len(points), None, dtype=object)
        result[found[first]] = self._ids[grids[first]]
        return result
