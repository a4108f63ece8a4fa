"""`cityvitals areas check|import` through its argparse parsers."""

import argparse
from pathlib import Path

import pytest

from cityvitals.areas import load_areas, pukou_demo
from cityvitals.areas.commands import add_parsers
from cityvitals.areas.geojson import dump_features
from cityvitals.db import make_engine

FIXTURES = Path(__file__).parent / "fixtures"


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="cityvitals")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["areas", *argv])
    return args.func(args)


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "pukou.geojson"
    dump_features(pukou_demo(), path)
    return path


def test_check_bad_file_prints_problems_and_fails(capsys):
    path = FIXTURES / "unknown_parent.bad.geojson"
    assert run("check", str(path)) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: feature 3 (id s2, 西街道): unknown parent 'nowhere'",
        "2 areas, 1 errors, 0 repaired",
    ]


def test_check_demo_passes(demo_file, capsys):
    assert run("check", str(demo_file)) == 0
    assert capsys.readouterr().out.splitlines() == ["583 areas, 0 errors, 0 repaired"]


def test_check_repairs_are_not_failures(capsys):
    assert run("check", str(FIXTURES / "bowtie.bad.geojson")) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 areas, 0 errors, 1 repaired"


def test_check_datav_mapping_and_property_options(capsys):
    assert run("check", str(FIXTURES / "datav.good.geojson"), "--mapping", "datav") == 0
    assert run("check", str(FIXTURES / "datav.good.geojson"), "--mapping", "datav", "--id-prop", "name") == 1
    assert "unknown parent '320111'" in capsys.readouterr().out


def test_check_level_per_file(capsys):
    files = [str(FIXTURES / "levels" / "district.geojson"), str(FIXTURES / "levels" / "streets.geojson")]
    assert run("check", *files, "--level", "district", "--level", "street") == 0
    assert run("check", *files, "--level", "district", "--level", "street", "--level", "grid") == 2
    assert "once for all files or once per file" in capsys.readouterr().out


def test_import_saves_into_the_configured_database(demo_file, tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'areas.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert run("import", str(demo_file)) == 0
    assert "imported 583 areas" in capsys.readouterr().out
    engine = make_engine(url)
    assert len(load_areas(engine)) == 583
    # A file with errors is refused and the stored hierarchy stays as it was.
    assert run("import", str(FIXTURES / "cycle.bad.geojson")) == 1
    assert "nothing imported" in capsys.readouterr().out
    assert len(load_areas(engine)) == 583
    engine.dispose()
