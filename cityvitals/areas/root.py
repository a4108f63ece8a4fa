"""Make a missing root (the district) from the union of the top-level areas of a boundary file."""

from __future__ import annotations

import dataclasses
import re

import shapely

from cityvitals.areas.model import LEVELS, Area, area_km2
from cityvitals.areas.validate import polygonal


def make_root(areas: list[Area], name: str) -> list[Area]:
    """Return ``areas`` under a new root named ``name``, its shape the union of the areas without a parent.

    The top-level areas are those whose parent is absent or not among ``areas`` (a DataV district's
    city). When they are at the root level themselves (11 districts of a city), every area moves one
    level down to make room; a ValueError says why when there is none.
    """
    ids = {area.id for area in areas}
    top = [area for area in areas if area.parent is None or area.parent not in ids]
    if not top:
        raise ValueError("no top-level area to put under the root")
    top_levels = sorted({area.level for area in top if area.level in LEVELS}, key=LEVELS.index)
    if len(top_levels) != 1:
        raise ValueError(f"top-level areas must share one level to go under a root, found {top_levels or 'none'}")
    top_level = top_levels[0]
    if top_level == LEVELS[0]:
        if any(area.level == LEVELS[-1] for area in areas):
            raise ValueError(f"no room for a root: the areas already use all levels ({', '.join(LEVELS)})")
        areas = [dataclasses.replace(area, level=_below(area.level)) for area in areas]
        top_level = LEVELS[1]
    root_level = LEVELS[LEVELS.index(top_level) - 1]
    root_id = _root_id(name, ids)
    top_ids = {area.id for area in top}
    # make_valid: a bow-tie among them is repaired later, and must not break the union now.
    shape = polygonal(shapely.union_all(shapely.make_valid([area.geometry for area in top])))
    root = Area(root_id, None, root_level, name, name, sum(area.population for area in top),
                float(area_km2([shape])[0]), shape)
    return [root, *(dataclasses.replace(area, parent=root_id) if area.id in top_ids else area for area in areas)]


def _below(level: str) -> str:
    """Return the level right below ``level`` (or itself when unknown, for validation to report)."""
    return LEVELS[LEVELS.index(level) + 1] if level in LEVELS[:-1] else level


def _root_id(name: str, taken: set[str]) -> str:
    """Return an id for the root: its name with blanks as dashes, unless an area already has that id."""
    root_id = re.sub(r"\s+", "-", name.strip()) or "root"
    if root_id in taken:
        raise ValueError(f"--root {name!r}: an area already has the id {root_id!r}")
    return root_id
