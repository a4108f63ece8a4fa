"""Check an area hierarchy and say everything that is wrong with it, with where and why."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from cityvitals.areas.model import LEVELS, Area, area_km2

ERROR = "error"
REPAIRED = "repaired"
WARNING = "warning"  # said, but the area is imported all the same

# A repair may change the drawn area by this share at most, or it is not trusted.
_REPAIR_AREA_TOLERANCE = 0.1
# A child with more than this share of its area outside its parent is misplaced.
_MAX_OUTSIDE_SHARE = 0.5
# Siblings overlapping by less than this share of the smaller one are digitising slivers, not worth a line.
OVERLAP_TOLERANCE = 0.001
# Land of a parent that none of its children covers, above this share of the parent: points there lie in no grid.
GAP_TOLERANCE = 0.01


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input; ``source`` is "file" or "file#feature N" (N counts from 1)."""

    source: str
    feature: str
    reason: str
    severity: str = ERROR
    name: str = ""  # the feature's name, when it has one besides its id

    def __str__(self) -> str:
        file, _, item = self.source.partition("#")
        named = self.name if self.name and self.name != self.feature else ""
        if self.feature and item:
            item = f"{item} (id {self.feature}, {named})" if named else f"{item} (id {self.feature})"
        elif self.feature:
            item = f"area {self.feature} ({named})" if named else f"area {self.feature}"
        return ": ".join(part for part in (file, item, self.reason) if part)


def validate(areas: list[Area], origins: Sequence[str] | None = None) -> tuple[list[Area], list[Problem]]:
    """Return the usable (possibly repaired) areas and every problem found.

    ``origins[i]`` says where ``areas[i]`` came from (see Problem.source). An area with an error
    is not usable, and neither are its descendants: the result always forms a consistent tree.
    """
    check = _Check(areas, origins or [""] * len(areas))
    check.run()
    return check.usable(), check.problems()


class _Check:
    """The state of one validate() run: areas by id, where they came from, the problems so far."""

    def __init__(self, areas: list[Area], origins: Sequence[str]) -> None:
        self.areas: dict[str, Area] = {}
        self.origin: dict[str, str] = {}
        self.bad: set[str] = set()
        self.shapeless: set[str] = set()  # geometry empty or beyond repair
        self.position: dict[str, int] = {}
        self.found: list[tuple[int, Problem]] = []
        for position, (area, origin) in enumerate(zip(areas, origins, strict=True)):
            if area.id in self.areas:
                first = self.origin[area.id].replace("#", " ") or "an earlier area"
                self.found.append((position, Problem(origin, area.id, f"duplicate id, already used at {first}",
                                                     name=area.name_zh)))
            else:
                self.areas[area.id] = area
                self.origin[area.id] = origin
                self.position[area.id] = position

    def report(self, area_id: str, reason: str, severity: str = ERROR) -> None:
        """Record a problem with ``area_id``; errors make it unusable."""
        problem = Problem(self.origin[area_id], area_id, reason, severity, self.areas[area_id].name_zh)
        self.found.append((self.position[area_id], problem))
        if severity == ERROR:
            self.bad.add(area_id)

    def run(self) -> None:
        """Run every check; each looks at all areas so nothing hides behind a first error."""
        for area in list(self.areas.values()):
            self.check_fields(area)
            self.check_geometry(area)
        self.check_roots()
        self.check_cycles()
        self.check_containment()
        self.check_overlaps()
        self.check_gaps()

    def check_fields(self, area: Area) -> None:
        """Check the level, the parent link and the population of one area."""
        if area.level not in LEVELS:
            self.report(area.id, f"unknown level '{area.level}', expected one of {', '.join(LEVELS)}")
        if area.population < 0:
            self.report(area.id, f"negative population {area.population}")
        if area.parent is None:
            return
        parent = self.areas.get(area.parent)
        if parent is None:
            self.report(area.id, f"unknown parent '{area.parent}'")
        elif {area.level, parent.level} <= set(LEVELS) and not _one_below(area.level, parent.level):
            self.report(area.id, f"level '{area.level}' cannot sit under '{parent.id}' of level '{parent.level}'")

    def check_geometry(self, area: Area) -> None:
        """Reject empty geometry; repair invalid rings when the repair keeps the drawn shape."""
        geometry = area.geometry
        if geometry.is_empty:
            self.report(area.id, "empty geometry")
            self.shapeless.add(area.id)
            return
        if geometry.is_valid:
            return
        reason = shapely.is_valid_reason(geometry)
        repaired = polygonal(shapely.make_valid(geometry))
        drawn = _drawn_area(geometry)
        if repaired.is_empty or abs(repaired.area - drawn) > _REPAIR_AREA_TOLERANCE * max(drawn, repaired.area):
            self.report(area.id, f"invalid geometry ({reason}) that make_valid cannot repair without changing it")
            self.shapeless.add(area.id)
            return
        self.areas[area.id] = dataclasses.replace(area, geometry=repaired, area_km2=float(area_km2([repaired])[0]))
        self.report(area.id, f"invalid geometry ({reason}) repaired with make_valid", REPAIRED)

    def check_roots(self) -> None:
        """Allow one root, at the top level; every other area needs a parent."""
        roots = [area for area in self.areas.values() if area.parent is None]
        for area in roots:
            if area.level != LEVELS[0]:
                self.report(area.id, f"no parent, but only a {LEVELS[0]} may be the root")
        top = [area.id for area in roots if area.level == LEVELS[0]]
        for area_id in top[1:]:
            self.report(area_id, f"more than one root: '{top[0]}' is already the root")

    def check_cycles(self) -> None:
        """Report every area on a loop of parent links, naming the loop."""
        done: set[str] = set()
        for start in self.areas:
            path: list[str] = []
            on_path: set[str] = set()
            node: str | None = start
            while node is not None and node in self.areas and node not in done:
                if node in on_path:
                    loop = path[path.index(node) :]
                    for member in loop:
                        self.report(member, "cycle in parent links: " + " → ".join([*loop, node]))
                    break
                path.append(node)
                on_path.add(node)
                node = self.areas[node].parent
            done.update(path)

    def check_containment(self) -> None:
        """Report children lying mostly outside their parent, where the parent link itself is sound."""
        pairs = [
            (child, self.areas[child.parent])
            for child in self.areas.values()
            if child.parent in self.areas
            and _one_below(child.level, self.areas[child.parent].level)
            and not {child.id, child.parent} & self.shapeless
        ]
        if not pairs:
            return
        children = np.array([child.geometry for child, _ in pairs], dtype=object)
        parents = np.array([parent.geometry for _, parent in pairs], dtype=object)
        inside = shapely.area(shapely.intersection(children, parents)) / shapely.area(children)
        for (child, parent), share in zip(pairs, inside, strict=True):
            if 1.0 - share > _MAX_OUTSIDE_SHARE:
                self.report(child.id, f"lies mostly outside its parent '{parent.id}' ({1.0 - share:.0%} outside)")

    def check_overlaps(self) -> None:
        """Warn of siblings that overlap by more than OVERLAP_TOLERANCE of the smaller, naming both."""
        groups: dict[str | None, list[Area]] = {}
        for area in self.areas.values():
            if area.id not in self.shapeless:
                groups.setdefault(area.parent, []).append(area)
        for parent, siblings in groups.items():
            if parent is None or len(siblings) < 2:  # several roots are an error of their own
                continue
            shapes = np.array([a.geometry for a in siblings], dtype=object)
            left, right = shapely.STRtree(shapes).query(shapes, predicate="intersects")
            keep = left < right
            left, right = left[keep], right[keep]
            if not left.size:
                continue
            common = shapely.intersection(shapes[left], shapes[right])
            smaller = np.minimum(shapely.area(shapes[left]), shapely.area(shapes[right]))
            share = shapely.area(common) / np.where(smaller > 0, smaller, 1.0)
            km2 = area_km2(common)
            for i, j, part, size in zip(left.tolist(), right.tolist(), share.tolist(), km2.tolist(), strict=True):
                if part > OVERLAP_TOLERANCE:
                    other = siblings[j]
                    self.report(siblings[i].id, f"overlaps its sibling {other.name_zh!r} (id {other.id}) by "
                                f"{size:.3g} km² ({part:.1%} of the smaller)", WARNING)

    def check_gaps(self) -> None:
        """Warn of parents whose children leave more than GAP_TOLERANCE of their land uncovered."""
        children: dict[str, list[Area]] = {}
        for area in self.areas.values():
            if area.parent in self.areas and area.id not in self.shapeless | self.bad:  # an error says enough
                children.setdefault(area.parent, []).append(area)
        for parent_id, kids in children.items():
            parent = self.areas[parent_id]
            if len(kids) < 2 or parent_id in self.shapeless or not parent.geometry.area:
                continue  # one child of a partial file (a level checked alone) leaves gaps by design
            covered = shapely.union_all(shapely.make_valid([kid.geometry for kid in kids]))
            gap = shapely.difference(shapely.make_valid(parent.geometry), covered)
            share = gap.area / parent.geometry.area
            if share > GAP_TOLERANCE:
                self.report(parent_id, f"its {len(kids)} children leave {area_km2([gap])[0]:.3g} km² ({share:.1%}) "
                            "of it uncovered: points there lie in no grid", WARNING)

    def problems(self) -> list[Problem]:
        """Return the problems in input order, so they read top to bottom like the file."""
        return [problem for _, problem in sorted(self.found, key=lambda found: found[0])]

    def usable(self) -> list[Area]:
        """Return the areas without errors whose ancestors are all without errors."""
        good: dict[str, bool] = {}
        for area_id in self.areas:
            # Walk up to the root, a known verdict or an error. Unknown parents and cycle members
            # are errors themselves, so the walk always ends.
            chain: list[str] = []
            node: str | None = area_id
            while node is not None and node not in good and node not in self.bad:
                chain.append(node)
                node = self.areas[node].parent
            verdict = node is None or good.get(node, False)
            good.update(dict.fromkeys(chain, verdict))
        return [area for area_id, area in self.areas.items() if good.get(area_id, False)]


def _one_below(level: str, parent_level: str) -> bool:
    """Return whether ``level`` is the level right below ``parent_level``."""
    return parent_level in LEVELS[:-1] and LEVELS[LEVELS.index(parent_level) + 1] == level


def polygonal(geometry: shapely.Geometry) -> Polygon | MultiPolygon:
    """Return the polygonal part of a make_valid result (it may add stray lines or points)."""
    if isinstance(geometry, Polygon | MultiPolygon):
        return geometry
    parts = [part for part in shapely.get_parts(geometry) if isinstance(part, Polygon | MultiPolygon)]
    return shapely.union_all(parts) if parts else MultiPolygon()


def _drawn_area(geometry: Polygon | MultiPolygon) -> float:
    """Return the area enclosed by the rings as drawn: both loops of a bow-tie count, unlike in the shoelace area."""
    total = 0.0
    for polygon in shapely.get_parts(geometry):
        total += _faces_area(polygon.exterior) - sum(_faces_area(ring) for ring in polygon.interiors)
    return total


def _faces_area(ring: shapely.LinearRing) -> float:
    """Return the area of the faces a ring encloses once noded at its self-intersections."""
    return float(shapely.area(shapely.polygonize(shapely.get_parts(shapely.node(ring)))))
