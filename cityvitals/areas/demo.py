"""Deterministic demo hierarchies: Nanjing Pukou for the dashboard, a province-sized one for benchmarks.

Each level is cut from its parent by a Voronoi diagram of random sites, relaxed a few times
towards the cell centroids (so cells look like blocks, not splinters) and clipped to the
parent: children tile their parent exactly, with no gaps and no overlaps. The cutting happens
in a local km plane so cells are not stretched by the lon/lat aspect ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
import shapely.affinity
from shapely.geometry import Polygon

from cityvitals.areas.model import KM_PER_DEGREE, LEVELS, Area, area_km2

_SPECIAL_ZH = {"industrial_park": "工业园", "school": "学校", "hospital": "医院"}
_SPECIAL_EN = {"industrial_park": "industrial park", "school": "school", "hospital": "hospital"}
# Residents of a special grid (dormitories, staff housing): few next to a comprehensive grid's ~1,000.
_SPECIAL_POPULATION = {"industrial_park": (200, 1200), "school": (300, 1500), "hospital": (50, 300)}
# Pukou has 24 special grids among 502; the province demo keeps that share.
_SPECIAL_SHARE = 24 / 502

# Pukou lies on the north bank of the Yangtze, a band running south-west to north-east; the river
# side (listed first) is smooth, the landward side ragged. It is scaled to exactly 720 km².
_PUKOU_OUTLINE = (
    (118.375, 31.905), (118.410, 31.915), (118.445, 31.913), (118.480, 31.930), (118.510, 31.945),
    (118.535, 31.952), (118.560, 31.975), (118.585, 31.990), (118.610, 32.005), (118.635, 32.018),
    (118.655, 32.040), (118.680, 32.052), (118.705, 32.070), (118.730, 32.088), (118.755, 32.110),
    (118.780, 32.125), (118.795, 32.150), (118.800, 32.175), (118.785, 32.200), (118.760, 32.215),
    (118.735, 32.235), (118.710, 32.245), (118.685, 32.232), (118.660, 32.236), (118.635, 32.215),
    (118.610, 32.205), (118.585, 32.214), (118.560, 32.208), (118.535, 32.190), (118.510, 32.183),
    (118.490, 32.162), (118.465, 32.152), (118.440, 32.145), (118.415, 32.125), (118.390, 32.112),
    (118.370, 32.090), (118.360, 32.065), (118.372, 32.040), (118.365, 32.015), (118.352, 31.990),
    (118.358, 31.960), (118.362, 31.930),
)  # fmt: skip
_PUKOU_KM2 = 720.0
# Bump whenever a generator here would return different areas: cached demos then rebuild.
DEMO_VERSION = 1


@dataclass(frozen=True)
class _Street:
    """A Pukou street: its seat (the site of its Voronoi cell) and what lies under it."""

    key: str
    zh: str
    en: str
    seat: tuple[float, float]
    population: int
    communities: int  # urban 社区, nearest the seat
    villages: int  # rural 村
    comprehensive: int
    special: tuple[str, ...]


_PUKOU_STREETS = (
    _Street("jiangpu", "江浦", "Jiangpu", (118.62, 32.06), 200_000, 24, 0, 195,
            ("industrial_park",) * 2 + ("school",) * 5 + ("hospital",) * 3),
    _Street("qiaolin", "桥林", "Qiaolin", (118.47, 31.95), 110_000, 8, 10, 107,
            ("industrial_park",) * 3 + ("school",) * 2 + ("hospital",)),
    _Street("tangquan", "汤泉", "Tangquan", (118.50, 32.13), 70_000, 3, 9, 68,
            ("industrial_park", "school", "hospital")),
    _Street("yongning", "永宁", "Yongning", (118.68, 32.18), 60_000, 2, 9, 58,
            ("industrial_park",) * 2 + ("school",)),
    _Street("xingdian", "星甸", "Xingdian", (118.40, 32.07), 50_000, 2, 8, 50,
            ("industrial_park", "school")),
)  # fmt: skip


@dataclass(frozen=True)
class _Level:
    """One level of a demo under construction; ``parent`` indexes the level above, cells are in km."""

    ids: list[str]
    names_zh: list[str]
    names_en: list[str]
    cells: np.ndarray
    parent: np.ndarray


@dataclass(frozen=True)
class _Grids:
    """What grids carry beyond a level: kind, category and residents."""

    kinds: np.ndarray
    categories: np.ndarray
    population: np.ndarray


def pukou_demo(seed: int = 7) -> list[Area]:
    """Return the Pukou demo district: 5 streets, 75 communities and villages, 502 grids, 490,000 residents."""
    rng = np.random.default_rng(seed)
    outline = Polygon(_PUKOU_OUTLINE)
    plane = _Plane(outline.centroid.x, outline.centroid.y)
    district = plane.to_km(outline)
    seats = np.array([plane.xy(*street.seat) for street in _PUKOU_STREETS])
    # Shrink outline and seats together about the centroid (the plane's origin) to the real area.
    factor = math.sqrt(_PUKOU_KM2 / district.area)
    district = shapely.affinity.scale(district, factor, factor, origin=(0.0, 0.0))
    street_cells = _voronoi(np.array([district]), np.zeros(len(seats), dtype=np.int64), seats * factor)

    units = np.array([street.communities + street.villages for street in _PUKOU_STREETS])
    community_cells, community_street = _tile(street_cells, units, rng, relax=3)
    # Urban communities sit nearest the street seat, villages further out.
    order = np.lexsort(
        (shapely.distance(shapely.points(seats * factor)[community_street], community_cells), community_street)
    )
    community_cells = community_cells[order]
    street_totals = [street.comprehensive + len(street.special) for street in _PUKOU_STREETS]
    grid_counts = np.concatenate([_split(total, n, 3, rng) for total, n in zip(street_totals, units, strict=True)])
    grid_cells, grid_community = _tile(community_cells, grid_counts, rng, relax=2)

    streets = _Level(
        [f"pukou.{s.key}" for s in _PUKOU_STREETS],
        [f"{s.zh}街道" for s in _PUKOU_STREETS],
        [f"{s.en} Street" for s in _PUKOU_STREETS],
        street_cells,
        np.zeros(5, dtype=np.int64),
    )
    communities, is_village = _pukou_communities(community_cells, community_street)
    street_of_grid = community_street[grid_community]
    kinds, categories = _pukou_grid_kinds(street_of_grid, is_village[grid_community], rng)
    grids = _grid_level(communities, grid_cells, grid_community, categories, kinds)
    totals = np.array([street.population for street in _PUKOU_STREETS])
    population = _populations(street_of_grid, totals, categories, np.where(is_village[grid_community], 0.7, 1.0), rng)
    root = _Level(["pukou"], ["浦口区"], ["Pukou District"], np.array([district]), np.zeros(1, dtype=np.int64))
    return _assemble(plane, [root, streets, communities, grids], _Grids(kinds, categories, population))


def province_demo(grids: int = 100_000, seed: int = 7) -> list[Area]:
    """Return a province-sized hierarchy of ``grids`` grids (1 km², ~800 residents each) for benchmarks."""
    rng = np.random.default_rng(seed)
    # Jiangsu: about 80 grids per street and 5 per community.
    street_count = max(1, round(grids / 80))
    community_count = min(grids, max(street_count, round(grids / 5)))
    plane = _Plane(119.5, 33.0)
    root_cell = _blob(grids, rng)
    street_cells, _ = _tile(np.array([root_cell]), np.array([street_count]), rng, relax=2)
    community_cells, community_street = _tile(street_cells, _split(community_count, street_count, 1, rng), rng, relax=1)
    grid_cells, grid_community = _tile(community_cells, _split(grids, community_count, 1, rng), rng, relax=1)

    numbers = np.arange(1, street_count + 1)
    streets = _Level(
        [f"demo.s{n:05d}" for n in numbers],
        [f"第{n}街道" for n in numbers],
        [f"Street {n}" for n in numbers],
        street_cells,
        np.zeros(street_count, dtype=np.int64),
    )
    numbers = _numbers_within(community_street)
    pairs = list(zip(community_street + 1, numbers, strict=True))
    communities = _Level(
        [f"{streets.ids[s - 1]}.c{n:03d}" for s, n in pairs],
        [f"第{s}街道第{n}社区" for s, n in pairs],
        [f"Street {s} Community {n}" for s, n in pairs],
        community_cells,
        community_street,
    )
    special = rng.random(grids) < _SPECIAL_SHARE
    categories = np.where(special, rng.choice(list(_SPECIAL_ZH), grids), "residential")
    kinds = np.where(special, "special", "comprehensive")
    population = _populations(np.zeros(grids, dtype=np.int64), np.array([grids * 800]), categories, np.ones(grids), rng)
    root = _Level(["demo"], ["演示省"], ["Demo Province"], np.array([root_cell]), np.zeros(1, dtype=np.int64))
    levels = [root, streets, communities, _grid_level(communities, grid_cells, grid_community, categories, kinds)]
    return _assemble(plane, levels, _Grids(kinds, categories, population))


class _Plane:
    """A local equirectangular plane in km around an origin, for cutting cells of fair shape."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.origin = np.array([lon0, lat0])
        self.scale = np.array([KM_PER_DEGREE * math.cos(math.radians(lat0)), KM_PER_DEGREE])

    def xy(self, lon: float, lat: float) -> np.ndarray:
        """Return a lon/lat point's plane coordinates."""
        return (np.array([lon, lat]) - self.origin) * self.scale

    def to_km(self, geometry: Polygon) -> Polygon:
        """Project a lon/lat geometry into the plane."""
        return shapely.transform(geometry, lambda xy: (xy - self.origin) * self.scale)

    def to_lonlat(self, geometries: np.ndarray) -> np.ndarray:
        """Project plane geometries back to lon/lat: an affine map, so shared edges stay shared."""
        return shapely.transform(geometries, lambda xy: xy / self.scale + self.origin)


def _tile(
    parents: np.ndarray, counts: np.ndarray, rng: np.random.Generator, relax: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut each parent into counts[i] cells; return the cells, grouped by parent, and each cell's parent index."""
    owner = np.repeat(np.arange(len(parents)), counts)
    sites = _random_sites(parents, counts, rng)
    for _ in range(relax):
        # Lloyd's relaxation; a centroid outside a concave parent would lose its cell, so such
        # sites move to a point inside their cell instead.
        cells = _voronoi(parents, owner, sites)
        centres = shapely.centroid(cells)
        outside = ~shapely.contains(parents[owner], centres)
        centres[outside] = shapely.point_on_surface(cells[outside])
        sites = shapely.get_coordinates(centres)
    return _voronoi(parents, owner, sites), owner


def _voronoi(parents: np.ndarray, owner: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """Return the Voronoi cell of each site (sites grouped by ``owner``) clipped to its parent."""
    groups = shapely.multipoints(sites, indices=owner)
    diagrams = shapely.voronoi_polygons(groups, extend_to=parents, ordered=True)
    return shapely.intersection(shapely.get_parts(diagrams), parents[owner])


def _random_sites(parents: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Return counts[i] uniform random points inside each parent, grouped by parent, as an (n, 2) array."""
    shapely.prepare(parents)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    filled = np.zeros(len(parents), dtype=np.int64)
    sites = np.empty((int(counts.sum()), 2))
    bounds = shapely.bounds(parents)
    coverage = shapely.area(parents) / np.prod(bounds[:, 2:] - bounds[:, :2], axis=1)
    todo = np.flatnonzero(counts)
    while todo.size:
        # Rejection sampling in each bounding box, drawing enough that one round almost always does.
        draws = np.ceil((counts - filled)[todo] / coverage[todo] * 1.5).astype(np.int64) + 2
        which = np.repeat(todo, draws)
        low, high = bounds[which, :2], bounds[which, 2:]
        points = low + rng.random((len(which), 2)) * (high - low)
        inside = shapely.contains_xy(parents[which], points[:, 0], points[:, 1])
        which, points = which[inside], points[inside]
        rank = _numbers_within(which) - 1
        keep = rank < (counts - filled)[which]
        which, points, rank = which[keep], points[keep], rank[keep]
        sites[start[which] + filled[which] + rank] = points
        filled += np.bincount(which, minlength=len(parents))
        todo = np.flatnonzero(filled < counts)
    return sites


def _blob(area: float, rng: np.random.Generator) -> Polygon:
    """Return a smooth irregular star-shaped outline of ``area`` km² centred on the origin."""
    angle = np.linspace(0.0, 2.0 * np.pi, 720, endpoint=False)
    radius = np.ones_like(angle)
    for k in range(2, 7):
        radius += rng.uniform(0.02, 0.3 / k) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    outline = Polygon(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
    factor = math.sqrt(area / outline.area)
    return shapely.affinity.scale(outline, factor, factor, origin=(0.0, 0.0))


def _split(total: int, parts: int, minimum: int, rng: np.random.Generator) -> np.ndarray:
    """Split ``total`` into ``parts`` random whole numbers of at least ``minimum``."""
    return minimum + rng.multinomial(total - minimum * parts, np.full(parts, 1.0 / parts))


def _numbers_within(group: np.ndarray) -> np.ndarray:
    """Return 1, 2, 3... for the items of each run of equal values in a sorted ``group``."""
    first = np.searchsorted(group, group, side="left")
    return np.arange(len(group)) - first + 1


def _zh_number(n: int) -> str:
    """Write 1..99 in Chinese numerals (一, 十二, 二十四)."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(n, 10)
    return (("" if tens == 1 else digits[tens]) + "十" if tens else "") + (digits[ones] if ones else "")


def _pukou_communities(cells: np.ndarray, street: np.ndarray) -> tuple[_Level, np.ndarray]:
    """Name Pukou's communities and villages; return the level and which units are villages."""
    ids, zh, en, village = [], [], [], []
    for s in _PUKOU_STREETS:
        for n in range(1, s.communities + 1):
            ids.append(f"pukou.{s.key}.c{n:02d}")
            zh.append(f"{s.zh}第{_zh_number(n)}社区")
            en.append(f"{s.en} Community {n}")
        for n in range(1, s.villages + 1):
            ids.append(f"pukou.{s.key}.v{n:02d}")
            zh.append(f"{s.zh}第{_zh_number(n)}村")
            en.append(f"{s.en} Village {n}")
        village += [False] * s.communities + [True] * s.villages
    return _Level(ids, zh, en, cells, street), np.array(village)


def _pukou_grid_kinds(
    street: np.ndarray, in_village: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return kind and category per grid: each street's special grids at random, the rest by setting."""
    categories = np.where(in_village, "village", np.where(rng.random(len(street)) < 0.08, "commercial", "residential"))
    categories = categories.astype(object)
    kinds = np.full(len(street), "comprehensive", dtype=object)
    for index, spec in enumerate(_PUKOU_STREETS):
        chosen = rng.choice(np.flatnonzero(street == index), len(spec.special), replace=False)
        kinds[chosen] = "special"
        categories[chosen] = spec.special
    return kinds, categories


def _grid_level(
    communities: _Level, cells: np.ndarray, community: np.ndarray, categories: np.ndarray, kinds: np.ndarray
) -> _Level:
    """Return the grid level, numbered within each community; a special grid's name says what it is."""
    ids, zh, en = [], [], []
    for c, n, category, kind in zip(community, _numbers_within(community), categories, kinds, strict=True):
        special = kind == "special"
        ids.append(f"{communities.ids[c]}.g{n:02d}")
        zh.append(f"{communities.names_zh[c]}第{n}网格" + (f"（{_SPECIAL_ZH[category]}）" if special else ""))
        en.append(f"{communities.names_en[c]} Grid {n}" + (f" ({_SPECIAL_EN[category]})" if special else ""))
    return _Level(ids, zh, en, cells, community)


def _populations(
    group: np.ndarray, totals: np.ndarray, categories: np.ndarray, density: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Return grid populations summing exactly to totals[group]: special grids small, the rest lognormal."""
    population = np.zeros(len(group), dtype=np.int64)
    for category, (low, high) in _SPECIAL_POPULATION.items():
        special = categories == category
        population[special] = rng.integers(low, high, special.sum())
    ordinary = ~np.isin(categories, list(_SPECIAL_POPULATION))
    left = totals - np.bincount(group, population, minlength=len(totals)).astype(np.int64)
    weights = rng.lognormal(0.0, 0.35, len(group)) * density
    population[ordinary] = _apportion(left, group[ordinary], weights[ordinary])
    return population


def _apportion(totals: np.ndarray, group: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split each totals[g] over the items of group g in proportion to weights, in whole numbers (largest remainder)."""
    share = weights / np.bincount(group, weights, minlength=len(totals))[group] * totals[group]
    whole = np.floor(share).astype(np.int64)
    missing = totals - np.bincount(group, whole, minlength=len(totals)).astype(np.int64)
    order = np.lexsort((whole - share, group))
    rank = _numbers_within(group[order]) - 1
    whole[order[rank < missing[group[order]]]] += 1
    return whole


def _assemble(plane: _Plane, levels: list[_Level], grids: _Grids) -> list[Area]:
    """Turn the levels into Areas, root first; populations sum up from the grids."""
    populations = [grids.population]
    for level in reversed(levels[1:]):
        populations.insert(0, np.bincount(level.parent, populations[0]).astype(np.int64))
    areas: list[Area] = []
    for depth, (name, level, population) in enumerate(zip(LEVELS, levels, populations, strict=True)):
        geometries = plane.to_lonlat(level.cells)
        parents = [None] * len(level.ids) if depth == 0 else [levels[depth - 1].ids[p] for p in level.parent]
        kinds = grids.kinds if name == "grid" else [None] * len(level.ids)
        categories = grids.categories if name == "grid" else [None] * len(level.ids)
        for fields in zip(
            level.ids,
            parents,
            level.names_zh,
            level.names_en,
            population.tolist(),
            area_km2(geometries).tolist(),
            geometries,
            kinds,
            categories,
            strict=True,
        ):
            area_id, parent, zh, en, residents, km2, geometry, kind, category = fields
            areas.append(
                Area(
                    area_id,
                    parent,
                    name,
                    zh,
                    en,
                    residents,
                    km2,
                    geometry,
                    None if kind is None else str(kind),
                    None if category is None else str(category),
                )
            )
    return areas
