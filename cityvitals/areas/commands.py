"""`cityvitals areas check|import`: validate boundary files and load them into the database."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from cityvitals.areas.crs import CRS
from cityvitals.areas.geojson import PropertyMapping, check_files
from cityvitals.areas.model import LEVELS, Area
from cityvitals.areas.sql import save_areas
from cityvitals.areas.validate import ERROR, REPAIRED, WARNING, Problem
from cityvitals.config import load_settings
from cityvitals.db import connect_database, create_schema
from cityvitals.users import audit

_MAPPINGS = {"default": PropertyMapping, "datav": PropertyMapping.datav}
# Command-line option → PropertyMapping field it overrides.
_PROPERTY_OPTIONS = {"id_prop": "id", "name_prop": "name", "parent_prop": "parent", "population_prop": "population"}


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register `areas check` and `areas import` on the top-level sub-command parsers."""
    areas = subparsers.add_parser("areas", help="check or import the area hierarchy (GeoJSON)")
    commands = areas.add_subparsers(dest="areas_command", required=True)
    check = commands.add_parser("check", help="report every problem in boundary files, change nothing")
    check.set_defaults(func=run_check)
    load = commands.add_parser("import", help="validate boundary files and replace the stored hierarchy")
    load.set_defaults(func=run_import)
    for parser in (check, load):
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="GeoJSON FeatureCollection")
        parser.add_argument("--mapping", choices=sorted(_MAPPINGS), default="default", help="property names preset")
        parser.add_argument(
            "--level",
            action="append",
            choices=LEVELS,
            help="level of the features: once for all files or once per file (default: a level property)",
        )
        parser.add_argument("--crs", choices=CRS, default="wgs84",
                            help="coordinates of the files: gcj02 for AMap, Tencent and DataV, bd09 for Baidu")
        parser.add_argument("--root", metavar="NAME",
                            help="make the missing root, named NAME, from the union of the top-level areas")
        for option, field in _PROPERTY_OPTIONS.items():
            flag = "--" + option.replace("_", "-")
            parser.add_argument(flag, dest=option, metavar="P", help=f"property holding the {field}")


def run_check(args: argparse.Namespace) -> int:
    """Print every problem and a summary; return 1 if any is an error."""
    checked = _check(args)
    if checked is None:
        return 2
    return 1 if _has_errors(checked[1]) else 0


def run_import(args: argparse.Namespace) -> int:
    """Validate and, only if there is no error, replace the stored hierarchy; return the exit code."""
    checked = _check(args)
    if checked is None:
        return 2
    areas, problems = checked
    if _has_errors(problems):
        print("nothing imported: fix the errors above")
        return 1
    if not any(area.level == LEVELS[-1] for area in areas):
        # The engine scores grids and rolls them up: without any it would fail every round.
        print(f"nothing imported: no area of level '{LEVELS[-1]}'; the engine judges grids and rolls them up "
              f"to {', '.join(LEVELS[-2::-1])}, so the hierarchy needs all four levels "
              "(give the lowest file --level grid, and --root NAME if the district is missing)")
        return 1
    engine = connect_database(load_settings().database_url)  # a SQLite file's missing folder is made
    try:
        create_schema(engine)  # the audit log too
        save_areas(engine, areas)
        audit(engine, "cli", "areas_import", files=[str(f) for f in args.files], areas=len(areas))
    finally:
        engine.dispose()
    print(f"imported {len(areas)} areas into {engine.url.render_as_string(hide_password=True)}")
    return 0


def _check(args: argparse.Namespace) -> tuple[list[Area], list[Problem]] | None:
    """Load and validate the files named in ``args``, printing each problem and a summary; None on bad usage."""
    levels = args.level or [None]
    if len(levels) not in (1, len(args.files)):
        print(f"give --level once for all files or once per file ({len(args.files)} files, {len(levels)} levels)")
        return None
    overrides = {field: getattr(args, option) for option, field in _PROPERTY_OPTIONS.items() if getattr(args, option)}
    mapping = dataclasses.replace(_MAPPINGS[args.mapping](), **overrides)
    if len(levels) == 1:
        levels = levels * len(args.files)
    areas, problems = check_files(args.files, mapping, levels, args.root, args.crs)
    for problem in problems:
        print(problem)
    errors = sum(problem.severity == ERROR for problem in problems)
    repaired = sum(problem.severity == REPAIRED for problem in problems)
    warnings = sum(problem.severity == WARNING for problem in problems)
    print(f"{len(areas)} areas, {errors} errors, {repaired} repaired" + (f", {warnings} warnings" if warnings else ""))
    return areas, problems


def _has_errors(problems: list[Problem]) -> bool:
    return any(problem.severity == ERROR for problem in problems)
