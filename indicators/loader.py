"""Load and check the catalog: every error as ``file:line:col: indicator "id": reason``, all at once."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from pydantic import ValidationError

from cityvitals.metrics import Metric, registry
from cityvitals.yaml_nodes import compose_and_load, node_at, read_utf8, syntax_error
from indicators.formula import FormulaError, names_in
from indicators.schema import CatalogFile, Indicator, Profile


@dataclass(frozen=True)
class CatalogError:
    """One problem, located in a file."""

    path: str
    line: int
    col: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.reason}"


class CatalogInvalid(Exception):
    """The catalog has errors; ``errors`` lists every one of them."""

    def __init__(self, errors: list[CatalogError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


@dataclass(frozen=True)
class Catalog:
    """A validated catalog: indicators in dependency order (an indicator after those it reads)."""

    indicators: tuple[Indicator, ...]
    profiles: dict[str, Profile]
    files: tuple[str, ...]
    version: str
    positions: dict[str, str] = field(default_factory=dict)  # indicator id -> "file:line"
    metrics: frozenset[str] = frozenset()  # the metric registry it was checked against

    def metric_inputs(self, ind: Indicator) -> set[str]:
        """Metrics an indicator reads (a name that is a metric means the metric)."""
        return reads(ind) & self.metrics

    def indicator_inputs(self, ind: Indicator) -> set[str]:
        """Other indicators an indicator reads."""
        return reads(ind) - self.metrics

    def __getitem__(self, indicator_id: str) -> Indicator:
        return self.by_id[indicator_id]

    @property
    def by_id(self) -> dict[str, Indicator]:
        """Indicators by id."""
        return {i.id: i for i in self.indicators}


def _indicator_label(data: object, loc: tuple) -> str:
    if len(loc) >= 2 and loc[0] == "indicators" and isinstance(loc[1], int) and isinstance(data, dict):
        items = data.get("indicators") or []
        given = items[loc[1]].get("id") if loc[1] < len(items) and isinstance(items[loc[1]], dict) else None
        if isinstance(given, str):  # anything else may be huge (an alias bomb): never formatted
            return f'indicator "{given[:64]}": '
        return f"indicator #{loc[1] + 1}: "
    return ""


def parse_file(path: Path) -> tuple[CatalogFile | None, yaml.Node | None, list[CatalogError]]:
    """Parse one YAML file into the schema, collecting every validation error with its position."""
    text = ""
    try:
        text = read_utf8(path)
        root, data = compose_and_load(text)
    except yaml.YAMLError as exc:
        return None, None, [CatalogError(str(path), *syntax_error(exc, text))]
    if root is None:
        return CatalogFile(), None, []
    try:
        return CatalogFile.model_validate(data), root, []
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith(("function-", "tuple["))))
            reason = err["msg"].removeprefix("Value error, ")
            # Whole-indicator checks name their field first ("thresholds: ..."): point at that field.
            head = reason.split(": ", 1)[0]
            if err["type"] == "value_error" and " " not in head:
                loc += tuple(int(p) if p.isdigit() else p for p in head.split("."))
                reason = reason[len(head) + 2 :]
            node = node_at(root, loc)
            field_path = ".".join(str(p) for p in loc[2:]) if loc[:1] == ("indicators",) else ".".join(map(str, loc))
            where = f"{field_path}: " if field_path and err["type"] != "extra_forbidden" else ""
            if err["type"] == "extra_forbidden":
                reason = f"unknown key {loc[-1]!r}"
            errors.append(
                CatalogError(str(path), node.start_mark.line + 1, node.start_mark.column + 1,
                             f"{_indicator_label(data, err['loc'])}{where}{reason}")
            )
        return None, root, errors


def catalog_files(paths: list[Path]) -> list[Path]:
    """Expand directories into their ``*.yaml`` files, sorted."""
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.glob("*.yaml")) if p.is_dir() else [p])
    return out


def catalog_digest(paths: list[Path]) -> str:
    """The version a catalog of these files would have: a hash of their bytes, cheap next to a load."""
    digest = hashlib.sha256()
    for path in catalog_files(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _position(path: Path, root: yaml.Node | None, index: int) -> tuple[int, int]:
    node = node_at(root, ("indicators", index)) if root is not None else None
    return (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)


def load_catalog(paths: list[Path], metrics: dict[str, Metric] | None = None) -> Catalog:
    """Load, validate and order the catalog; raises CatalogInvalid listing every error."""
    metrics = registry() if metrics is None else metrics
    files = catalog_files(paths)
    errors: list[CatalogError] = []
    located: list[tuple[Indicator, str, int, int]] = []
    profiles: dict[str, Profile] = {}
    for path in files:
        parsed, root, errs = parse_file(path)
        errors += errs
        if parsed is None:
            continue
        profiles.update({p.id: p for p in parsed.profiles})
        for i, ind in enumerate(parsed.indicators):
            located.append((ind, str(path), *_position(path, root, i)))
    errors += _cross_check(located, metrics, profiles)
    if errors:
        raise CatalogInvalid(errors)
    order = _dependency_order({ind.id: ind for ind, *_ in located}, metrics.keys())
    by_id = {ind.id: ind for ind, *_ in located}
    return Catalog(
        indicators=tuple(by_id[i] for i in order),
        profiles=profiles,
        files=tuple(map(str, files)),
        version=catalog_digest(files),
        positions={ind.id: f"{p}:{line}" for ind, p, line, _ in located},
        metrics=frozenset(metrics),
    )


def without_statistics(catalog: Catalog) -> Catalog:
    """The same catalog judged by plain thresholds: no minimum evidence, no funnel limits (a baseline)."""
    plain = tuple(i.model_copy(update={"evidence": None, "funnel": None}) for i in catalog.indicators)
    return replace(catalog, indicators=plain, version=f"{catalog.version}-plain")


def reads(ind: Indicator) -> set[str]:
    """Names (metrics or indicators) an indicator's source reads."""
    s = ind.source
    if s.metric is not None:
        return {s.metric}
    if s.formula is not None:
        return names_in(s.formula)
    return names_in(s.numerator) | names_in(s.denominator)


def _cross_check(located: list, metrics: dict[str, Metric], profiles: dict[str, Profile]) -> list[CatalogError]:
    """Checks that need the whole catalog: duplicates, unknown names and profiles, cycles."""
    errors: list[CatalogError] = []
    seen: dict[str, str] = {}
    ids = {ind.id for ind, *_ in located}
    deps: dict[str, set[str]] = {}
    where: dict[str, tuple[str, int, int]] = {}
    for ind, path, line, col in located:
        label = f'indicator "{ind.id}": '
        if ind.id in seen:
            errors.append(CatalogError(path, line, col, f"{label}duplicate id (first defined at {seen[ind.id]})"))
            continue
        seen[ind.id] = f"{path}:{line}"
        where[ind.id] = (path, line, col)
        try:
            names = reads(ind)
        except FormulaError as exc:
            errors.append(CatalogError(path, line, col, f"{label}{exc}"))
            continue
        unknown = sorted(names - metrics.keys() - ids)
        if unknown:
            errors.append(CatalogError(path, line, col,
                                       f"{label}source reads unknown metric or indicator {', '.join(unknown)}"))
        deps[ind.id] = (names - metrics.keys()) & ids  # a name that is a metric means the metric
        for o in ind.overrides:
            if o.profile and o.profile not in profiles:
                errors.append(CatalogError(path, line, col, f'{label}override names unknown profile "{o.profile}"'))
    errors += _mixed_sources(located, deps, where)
    for cycle_member in _cycle_members(deps):
        path, line, col = where[cycle_member]
        errors.append(CatalogError(path, line, col,
                                   f'indicator "{cycle_member}": formula cycle through {cycle_member}'))
    return errors


def _mixed_sources(located: list, deps: dict[str, set[str]],
                   where: dict[str, tuple[str, int, int]]) -> list[CatalogError]:
    """An indicator reads only indicators valued where it is: from grids, or from the same level's own samples."""
    level = {ind.id: ind.source.level for ind, *_ in located}
    kind = lambda lv: f"read from the {lv}'s own samples" if lv else "rolled up from grids"  # noqa: E731
    return [CatalogError(*where[name], f'indicator "{name}": reads "{dep}", {kind(level[dep])}, '
                                       f"but is itself {kind(level[name])}")
            for name, needed in deps.items() for dep in sorted(needed) if level[dep] != level[name]]


def _cycle_members(deps: dict[str, set[str]]) -> list[str]:
    """Indicators that lie on a dependency cycle."""
    remaining = {k: set(v) for k, v in deps.items()}
    changed = True
    while changed:  # peel off indicators whose dependencies are all resolved
        changed = False
        for k in [k for k, v in remaining.items() if not (v & remaining.keys())]:
            del remaining[k]
            changed = True
    return sorted(remaining)


def _dependency_order(by_id: dict[str, Indicator], metrics: Collection[str]) -> list[str]:
    """Order indicators so every indicator comes after the indicators it reads."""
    done: list[str] = []
    placed: set[str] = set()
    pending = list(by_id)
    while pending:
        for ind_id in pending:
            if (reads(by_id[ind_id]) - set(metrics)) & by_id.keys() <= placed:
                done.append(ind_id)
                placed.add(ind_id)
        pending = [i for i in pending if i not in placed]
    return done
