"""Rule unit tests for the catalog, in the spirit of promtool's: input series in, expected states out.

A test file names a catalog (default: the shipped one), an area tree (``demo`` or a small inline
one), a start time and an evaluation interval, and a list of tests. Each test feeds its series
through the real engine (:class:`indicators.engine.Engine`), one step per interval, and checks
the expected state (and value) of indicators in areas at given times. Series values use
promtool's notation: ``"5 5 9.3"``, ``"1+1x3"`` (1 2 3 4), ``"7x2"`` (7 7 7); ``_`` sends nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import shapely
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityvitals.areas import Area, AreaTree, pukou_demo
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.store import Sample
from cityvitals.yaml_nodes import compose_and_load, load_model, node_at, read_utf8
from indicators.compiled import compile_catalog
from indicators.engine import Engine
from indicators.loader import CatalogInvalid, load_catalog
from indicators.schema import parse_duration
from indicators.states import State


class Strict(BaseModel):
    """Unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class AreaSpec(Strict):
    """One area of an inline tree."""

    id: str
    level: Literal["district", "street", "community", "grid"]
    parent: str | None = None
    population: int = Field(default=1000, ge=0)


class Series(Strict):
    """Samples of one metric in one grid, one value per interval."""

    metric: str
    area: str
    values: str


class Expect(Strict):
    """The state (and optionally the value) of an indicator in an area at a time after the start."""

    at: float
    indicator: str
    area: str
    state: Literal["normal", "yellow", "red", "stale", "not_judged", "insufficient"]
    value: float | None = None

    @field_validator("at", mode="before")
    @classmethod
    def _duration(cls, v: str | float) -> float:
        return parse_duration(v)


class RuleTest(Strict):
    """One named test."""

    name: str
    input_series: list[Series]
    expect: list[Expect] = Field(min_length=1)


class RuleTestFile(Strict):
    """A whole rule-test file."""

    catalog: str | None = None
    areas: Literal["demo"] | list[AreaSpec] = "demo"
    start: datetime
    interval: float = Field(default=60.0, gt=0)
    profiles_on: list[str] = []
    tests: list[RuleTest] = Field(min_length=1)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, v: str | float) -> float:
        return parse_duration(v)


@dataclass
class Outcome:
    """Result of one file: how many expectations held and what failed (each line says where)."""

    checked: int = 0
    failures: list[str] | None = None

    @property
    def ok(self) -> bool:
        """Whether every test passed."""
        return not self.failures


SERIES_TOKEN = re.compile(r"^(-?\d+(?:\.\d+)?)(?:([+-]\d+(?:\.\d+)?))?x(\d+)$")


def expand(values: str) -> list[float | None]:
    """Expand promtool's series notation into one value (or None) per step."""
    out: list[float | None] = []
    for token in values.split():
        m = SERIES_TOKEN.match(token)
        if token == "_":
            out.append(None)
        elif m:
            start, step, count = float(m.group(1)), float(m.group(2) or 0), int(m.group(3))
            out += [start + step * i for i in range(count + 1)]
        else:
            try:
                out.append(float(token))
            except ValueError:
                raise ValueError(f"{token!r} is not a number, _ or a+bxN") from None
    return out


def _tree(spec: str | list[AreaSpec]) -> AreaTree:
    if spec == "demo":
        return AreaTree(pukou_demo())
    return AreaTree(Area(a.id, a.parent, a.level, a.id, a.id, a.population, 1.0, shapely.box(i, 0, i + 1, 1))
                    for i, a in enumerate(spec))


def run_file(path: Path) -> Outcome:
    """Run every test of one file; a file that cannot be read fails with its problems located."""
    spec, errors = load_model(path, RuleTestFile)
    if errors:
        return Outcome(0, errors)
    if errors := _off_step(path, spec):
        return Outcome(0, errors)
    catalog_path = (path.parent / spec.catalog).resolve() if spec.catalog else DEFAULT_CATALOG
    try:
        catalog = compile_catalog(load_catalog([catalog_path]))  # once for every test of the file
        tree = _tree(spec.areas)
    except (CatalogInvalid, ValueError) as exc:
        return Outcome(0, [f"{path}: {exc}"])
    outcome = Outcome(0, [])
    for test in spec.tests:
        outcome.checked += _run_test(path, spec, test, Engine(tree, catalog), outcome.failures)
    return outcome


def _step(at: float, interval: float) -> int | None:
    """The evaluation step an expectation's time falls on; None if it falls between steps or before the start."""
    k = round(at / interval)
    return k if k >= 0 and math.isclose(k * interval, at, rel_tol=1e-9, abs_tol=1e-6) else None


def _off_step(path: Path, spec: RuleTestFile) -> list[str]:
    """Every expectation whose time is not a step of the interval, as ``file:line:col: ...: reason``."""
    off = [(i, j, e.at) for i, t in enumerate(spec.tests) for j, e in enumerate(t.expect)
           if _step(e.at, spec.interval) is None]
    if not off:
        return []
    root, _ = compose_and_load(read_utf8(path))  # it loaded a moment ago: only the positions are wanted
    errors = []
    for i, j, at in off:
        loc = ("tests", i, "expect", j, "at")
        mark = node_at(root, loc).start_mark
        why = "is before the start" if at < 0 else (f"falls between steps of the {_t(spec.interval)} interval "
                                                    f"(0, {_t(spec.interval)}, {_t(2 * spec.interval)}, ...)")
        errors.append(f"{path}:{mark.line + 1}:{mark.column + 1}: {'.'.join(map(str, loc))}: {_t(at)} {why}")
    return errors


def _run_test(path: Path, spec: RuleTestFile, test: RuleTest, engine: Engine, failures: list[str]) -> int:
    where = f"{path}:{test.name}"
    engine.switched_on = set(spec.profiles_on)
    try:
        series = [(s, expand(s.values)) for s in test.input_series]
    except ValueError as exc:
        failures.append(f"{where}: bad series values: {exc}")
        return 0
    unknown = [e for e in test.expect if e.indicator not in engine.ind_ids or e.area not in engine.tree]
    for e in unknown:
        failures.append(f"{where}: unknown indicator or area in expectation: {e.indicator} @ {e.area}")
    at_step = {id(e): _step(e.at, spec.interval) for e in test.expect}  # run_file refused any None
    steps = max([len(v) for _, v in series] + [k + 1 for k in at_step.values()])
    t0, checked = spec.start.timestamp(), 0
    for k in range(steps):
        now = t0 + k * spec.interval
        engine.ingest([Sample(s.metric, s.area, now, v) for s, values in series if k < len(values)
                       and (v := values[k]) is not None])
        result = engine.tick(now)
        for e in test.expect:
            if e in unknown or at_step[id(e)] != k:
                continue
            checked += 1
            level = engine.tree[e.area].level
            lv = result.levels[level]
            r, c = engine.ind_ids.index(e.indicator), lv.area_ids.index(e.area)
            got, value = State(int(lv.state[r, c])).label, float(lv.value[r, c])
            if got != e.state:
                failures.append(f"{where}: {e.indicator} @ {e.area} at t={_t(e.at)}: expected {e.state}, "
                                f"got {got} (value {value:.6g})")
            elif e.value is not None and not math.isclose(value, e.value, rel_tol=1e-6, abs_tol=1e-9):
                failures.append(f"{where}: {e.indicator} @ {e.area} at t={_t(e.at)}: expected value {e.value:g}, "
                                f"got {value:.6g}")
    if checked != len(test.expect) - len(unknown):  # every expectation is checked, or the test fails
        failures.append(f"{where}: {len(test.expect) - len(unknown) - checked} expectation(s) never checked")
    return checked


def _t(seconds: float) -> str:
    return f"{seconds / 60:g}m"
