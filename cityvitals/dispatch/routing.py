"""The routing table: which unit answers for an area (and, at the top, for a domain), and task deadlines.

Units are not listed one by one (a district has hundreds of grids): every area has one unit, named
``<area id>/<suffix>`` by its level's entry, and the district has departments by domain or panel.
A unit's parent is the unit of its area's parent; a department's parent is the district's own unit.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityvitals.areas.model import LEVELS, AreaTree
from cityvitals.config import DEFAULT_ROUTING  # noqa: F401  (re-exported: the shipped routing table)
from cityvitals.vocabulary import DOMAINS, PANELS
from cityvitals.yaml_nodes import compose_and_load, load_model, node_at, read_utf8

GROUPS = tuple(dict.fromkeys(DOMAINS + PANELS))
PLACEHOLDERS = {"name_zh", "name_en"}
ID_PATTERN = r"^[a-z][a-z0-9_.-]{0,47}$"


class Names(BaseModel):
    """A bilingual name (or name template)."""

    model_config = ConfigDict(extra="forbid")
    zh: str = Field(min_length=1, max_length=64)
    en: str = Field(min_length=1, max_length=96)

    @field_validator("zh", "en")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        used = {f for _, f, _, _ in string.Formatter().parse(value) if f is not None}
        if used - PLACEHOLDERS:
            raise ValueError(f"unknown placeholder(s) {sorted(used - PLACEHOLDERS)}; use {sorted(PLACEHOLDERS)}")
        return value


class LevelUnit(BaseModel):
    """The unit every area of one level has."""

    model_config = ConfigDict(extra="forbid")
    suffix: str = Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")
    name: Names


class Department(BaseModel):
    """A district department answering for some domains or panels."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    name: Names
    groups: list[Literal[GROUPS]] = Field(min_length=1)


class TaskType(BaseModel):
    """Deadlines of one kind of task."""

    model_config = ConfigDict(extra="forbid")
    name: Names
    sign_minutes: float = Field(gt=0, le=7 * 24 * 60)
    handle_hours: float = Field(gt=0, le=90 * 24)


class RoutingFile(BaseModel):
    """The routing YAML as written."""

    model_config = ConfigDict(extra="forbid")
    levels: dict[Literal[LEVELS], LevelUnit]
    department_levels: list[Literal[LEVELS]] = []
    departments: list[Department] = []
    default_type: str
    task_types: dict[str, TaskType] = Field(min_length=1)


@dataclass(frozen=True)
class Unit:
    """One responsible unit: an area's own (grid head, committee, sub-centre, centre) or a department."""

    id: str
    name_zh: str
    name_en: str
    area: str
    level: str
    department: bool = False


def _cross_errors(path: Path, spec: RoutingFile) -> list[str]:
    """What a single field cannot say: every level present, ids unique, a group owned once, the default type."""
    problems: list[tuple[tuple, str]] = []
    missing = [lvl for lvl in LEVELS if lvl not in spec.levels]
    if missing:
        problems.append((("levels",), f"levels: no unit for level(s) {', '.join(missing)}"))
    seen_ids, seen_groups, suffixes = set(), {}, {}
    for lvl, unit in spec.levels.items():
        if unit.suffix in suffixes:
            problems.append((("levels", lvl, "suffix"), f"levels.{lvl}.suffix: {unit.suffix!r} is "
                             f"{suffixes[unit.suffix]}'s too"))
        suffixes[unit.suffix] = lvl
    for i, dept in enumerate(spec.departments):
        if dept.id in seen_ids:
            problems.append((("departments", i, "id"), f"departments.{i}.id: {dept.id!r} appears twice"))
        seen_ids.add(dept.id)
        for j, group in enumerate(dept.groups):
            if group in seen_groups:
                problems.append((("departments", i, "groups", j),
                                 f"departments.{i}.groups: {group!r} is {seen_groups[group]!r}'s already"))
            seen_groups.setdefault(group, dept.id)
    if spec.default_type not in spec.task_types:
        problems.append((("default_type",), f"default_type: {spec.default_type!r} is not one of the task_types "
                         f"({', '.join(spec.task_types)})"))
    if not problems:
        return []
    root, _ = compose_and_load(read_utf8(path))
    out = []
    for loc, reason in problems:
        mark = node_at(root, loc).start_mark if root is not None else None
        out.append(f"{path}:{mark.line + 1 if mark else 1}:{mark.column + 1 if mark else 1}: {reason}")
    return out


def load_routing(path: Path) -> tuple[RoutingFile | None, list[str]]:
    """The routing file, or None and every problem as ``file:line:col: reason`` (no area is named in it)."""
    spec, errors = load_model(path, RoutingFile)
    if spec is None:
        return None, errors
    errors = _cross_errors(path, spec)
    return (None, errors) if errors else (spec, [])


class RoutingError(ValueError):
    """The routing file was refused; the message lists every problem."""


def read_routing(path: Path, tree: AreaTree) -> Routing:
    """The routing table of ``path``; a RoutingError listing every problem if it is refused."""
    spec, errors = load_routing(path)
    if spec is None:
        raise RoutingError("\n".join(errors))
    return Routing(spec, tree)


class Routing:
    """The checked routing table over one area tree: units, who is above whom, deadlines by task type."""

    def __init__(self, spec: RoutingFile, tree: AreaTree) -> None:
        self.spec, self.tree = spec, tree
        self.root = tree.ids("district")[0]
        self._suffix_level = {u.suffix: lvl for lvl, u in spec.levels.items()}
        self._departments = {d.id: d for d in spec.departments}
        self._by_group = {g: d.id for d in spec.departments for g in d.groups}

    @property
    def task_types(self) -> dict[str, TaskType]:
        """The task types by name."""
        return self.spec.task_types

    def unit(self, unit_id: str) -> Unit | None:
        """The unit with this id, or None if there is none."""
        if unit_id in self._departments:
            d = self._departments[unit_id]
            return Unit(d.id, d.name.zh, d.name.en, self.root, "district", department=True)
        area_id, _, suffix = unit_id.rpartition("/")
        level = self._suffix_level.get(suffix)
        if level is None or area_id not in self.tree or self.tree[area_id].level != level:
            return None
        return self.area_unit(area_id)

    def area_unit(self, area_id: str) -> Unit:
        """The area's own unit (its grid head, committee, sub-centre or centre)."""
        area = self.tree[area_id]
        spec = self.spec.levels[area.level]
        names = {"name_zh": area.name_zh, "name_en": area.name_en}
        return Unit(f"{area_id}/{spec.suffix}", spec.name.zh.format(**names), spec.name.en.format(**names),
                    area_id, area.level)

    def route(self, area_id: str, group: str | None = None) -> Unit:
        """The unit a new task for ``area_id`` (about an indicator of ``group``) goes to."""
        level = self.tree[area_id].level
        if group in self._by_group and level in self.spec.department_levels:
            return self.unit(self._by_group[group])
        return self.area_unit(area_id)

    def parent(self, unit: Unit) -> Unit | None:
        """The unit one level up ("the second level backs up"); None at the top."""
        if unit.department:
            return self.area_unit(self.root)
        parent = self.tree[unit.area].parent
        return None if parent is None else self.area_unit(parent)

    def below(self, unit: Unit) -> list[Unit]:
        """The units one level below ``unit`` (a task can be re-dispatched to them): the district's has departments."""
        if unit.department:
            return [self.area_unit(a.id) for a in self.tree.children(self.root)]
        units = [self.area_unit(a.id) for a in self.tree.children(unit.area)]
        return [self.unit(d) for d in self._departments] + units if unit.area == self.root else units

    def is_below(self, lower: Unit, upper: Unit) -> bool:
        """Whether ``lower`` is somewhere below ``upper`` (a department is below the district's own unit)."""
        if lower.department:
            return not upper.department and upper.area == self.root
        if upper.department:
            return lower.area != self.root
        return upper.area in {a.id for a in self.tree.ancestors(lower.area)}

    def deadlines_s(self, task_type: str) -> tuple[float, float]:
        """Seconds to sign and seconds to handle for a task type."""
        t = self.spec.task_types[task_type]
        return t.sign_minutes * 60.0, t.handle_hours * 3600.0


def check_file(path: Path) -> list[str]:
    """Every problem of a routing file (none: it is good)."""
    try:
        return load_routing(path)[1]
    except yaml.YAMLError as exc:  # a second read that fails where the first did not: the file changed
        return [f"{path}: {exc}"]
