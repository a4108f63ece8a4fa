"""Read and write area hierarchies as GeoJSON, from our own export or from DataV-style boundary files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon

from cityvitals.areas.crs import geometry_to_wgs84
from cityvitals.areas.model import LEVELS, Area, area_km2, feature
from cityvitals.areas.root import make_root
from cityvitals.areas.validate import WARNING, Problem, validate

_MISSING = object()


@dataclass(frozen=True)
class PropertyMapping:
    """Which feature property holds what; dotted names reach into nested objects ("parent.adcode")."""

    id: str = "id"
    name: str = "name"
    name_en: str | None = "name_en"
    parent: str = "parent"
    population: str | None = "population"
    level: str | None = "level"
    kind: str | None = "kind"
    category: str | None = "category"

    @classmethod
    def datav(cls) -> PropertyMapping:
        """Return the mapping for DataV GeoAtlas exports: adcode ids, parent as {"adcode": ...}, no population."""
        return cls(id="adcode", name_en=None, parent="parent.adcode", population=None, kind=None, category=None)


class _FeatureError(ValueError):
    """A feature that cannot become an Area; the message is the reason."""


def load_features(
    paths: Sequence[Path], mapping: PropertyMapping, level: str | None = None
) -> tuple[list[Area], list[Problem]]:
    """Read areas from GeoJSON files; ``level`` applies to every feature, else each feature's level property."""
    areas, _, problems = _read(paths, mapping, [level] * len(paths))
    return areas, problems


def check_files(
    paths: Sequence[Path], mapping: PropertyMapping, levels: Sequence[str | None], root: str | None = None,
    crs: str = "wgs84",
) -> tuple[list[Area], list[Problem]]:
    """Read and validate areas, levels[i] applying to paths[i]; return the usable areas and every problem.

    An area without a population is kept with 0 (a warning says so: rates per resident are not
    judged there). ``root`` names a root made from the union of the top-level areas (see make_root).
    ``crs`` is the files' coordinate system (gcj02, bd09): the areas are kept in WGS-84.
    """
    areas, origins, problems = _read(paths, mapping, levels, crs)
    if root is not None:
        try:
            areas = make_root(areas, root)
        except ValueError as error:
            return [], [*problems, Problem("--root", "", str(error))]
        origins = [f"--root {root}", *origins]
    usable, found = validate(areas, origins)
    return usable, problems + found


def dump_features(areas: Sequence[Area], path: Path) -> None:
    """Write ``areas`` to ``path`` as a FeatureCollection in the default mapping, at full precision."""
    features = [
        feature(
            area,
            {
                "id": area.id,
                "name": area.name_zh,
                "name_en": area.name_en,
                "parent": area.parent,
                "level": area.level,
                "population": area.population,
                "kind": area.kind,
                "category": area.category,
            },
        )
        for area in areas
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))


def _read(
    paths: Sequence[Path], mapping: PropertyMapping, levels: Sequence[str | None], crs: str = "wgs84"
) -> tuple[list[Area], list[str], list[Problem]]:
    """Read every file; return the areas, where each came from, and the problems met on the way."""
    areas: list[Area] = []
    origins: list[str] = []
    problems: list[Problem] = []
    for path, level in zip(paths, levels, strict=True):
        try:
            features = _features(path)
        except _FeatureError as error:
            problems.append(Problem(str(path), "", str(error)))
            continue
        for number, raw in enumerate(features, start=1):
            origin = f"{path}#feature {number}"
            try:
                area, missing_population = _area(raw, mapping, level, crs)
            except _FeatureError as error:
                problems.append(Problem(origin, _id_of(raw, mapping), str(error), name=_name_of(raw, mapping)))
                continue
            if missing_population:
                problems.append(Problem(origin, area.id, f"no population property '{mapping.population}': rates "
                                        "per resident are not judged there", WARNING, area.name_zh))
            areas.append(area)
            origins.append(origin)
    return areas, origins, problems


def _features(path: Path) -> list:
    """Return the features of a FeatureCollection, a bare array of Features (DataV) or a single Feature."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise _FeatureError(f"not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from error
    except (OSError, UnicodeDecodeError) as error:
        raise _FeatureError(f"cannot read the file: {error}") from error
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and document.get("type") == "Feature":
        return [document]
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        kind = document.get("type") if isinstance(document, dict) else type(document).__name__
        raise _FeatureError(f"not a GeoJSON FeatureCollection, array of Features or Feature (type '{kind}')")
    features = document.get("features")
    if not isinstance(features, list):
        raise _FeatureError("the FeatureCollection has no 'features' list")
    return features


def _area(raw: object, mapping: PropertyMapping, level: str | None, crs: str = "wgs84") -> tuple[Area, bool]:
    """Build an Area from one raw feature; also say whether its population was missing."""
    if not isinstance(raw, dict) or not isinstance(raw.get("properties"), dict):
        raise _FeatureError("not a GeoJSON Feature with properties")
    properties = raw["properties"]
    area_id = _text(_get(properties, mapping.id))
    if area_id is None:
        raise _FeatureError(f"missing id property '{mapping.id}'")
    area_level = level or (_text(_get(properties, mapping.level)) if mapping.level else None)
    if area_level is None:
        raise _FeatureError(f"missing level: give a level for the file or a '{mapping.level}' property")
    geometry = geometry_to_wgs84(_geometry(raw.get("geometry")), crs)
    population = _get(properties, mapping.population) if mapping.population else 0
    name_zh = _text(_get(properties, mapping.name)) or area_id
    area = Area(
        id=area_id,
        # The root's parent (a city, for a DataV district) lies outside the hierarchy.
        parent=None if area_level == LEVELS[0] else _text(_get(properties, mapping.parent)),
        level=area_level,
        name_zh=name_zh,
        name_en=(_text(_get(properties, mapping.name_en)) if mapping.name_en else None) or name_zh,
        population=0 if population in (_MISSING, None) else _whole_number(population),
        area_km2=float(area_km2([geometry])[0]),
        geometry=geometry,
        kind=_text(_get(properties, mapping.kind)) if mapping.kind else None,
        category=_text(_get(properties, mapping.category)) if mapping.category else None,
    )
    return area, population in (_MISSING, None)


def _geometry(raw: object) -> Polygon | MultiPolygon:
    """Parse a GeoJSON geometry that must be a Polygon or a MultiPolygon."""
    if raw is None:
        raise _FeatureError("missing geometry")
    try:
        geometry = shapely.from_geojson(json.dumps(raw))
    except (shapely.errors.GEOSException, TypeError, ValueError) as error:
        raise _FeatureError(f"unreadable geometry: {error}") from error
    if not isinstance(geometry, Polygon | MultiPolygon):
        raise _FeatureError(f"geometry must be a Polygon or MultiPolygon, not {geometry.geom_type}")
    return geometry


def _get(properties: dict, name: str) -> object:
    """Return a property by name, or by dotted path into nested objects; _MISSING if absent."""
    if name in properties:
        return properties[name]
    value: object = properties
    for key in name.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _text(value: object) -> str | None:
    """Return a property as text (DataV adcodes are numbers); None when absent or empty."""
    if value is _MISSING or value is None or value == "":
        return None
    return str(value)


def _whole_number(value: object) -> int:
    """Return a population given as a number or numeric text, refusing fractions."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise _FeatureError(f"population '{value}' is not a number") from error
    if not number.is_integer():
        raise _FeatureError(f"population '{value}' is not a whole number")
    return int(number)


def _id_of(raw: object, mapping: PropertyMapping) -> str:
    """Return a raw feature's id for a problem report, or "" if it has none."""
    return _property_text(raw, mapping.id)


def _name_of(raw: object, mapping: PropertyMapping) -> str:
    """Return a raw feature's name for a problem report, or "" if it has none."""
    return _property_text(raw, mapping.name)


def _property_text(raw: object, name: str) -> str:
    """Return one property of a raw feature as text, or "" if the feature or the property is missing."""
    properties = raw.get("properties") if isinstance(raw, dict) else None
    return (_text(_get(properties, name)) if isinstance(properties, dict) else None) or ""
