"""Boundary files as cities have them: bare arrays, one Feature, no root, no population, overlaps, odd ids."""

import argparse
import json
from pathlib import Path

import pytest
import shapely

from cityvitals.areas import PropertyMapping, load_areas
from cityvitals.areas.commands import add_parsers
from cityvitals.areas.geojson import check_files
from cityvitals.db import make_engine


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="cityvitals")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["areas", *argv])
    return args.func(args)


def box(x: float, y: float, w: float = 0.1, h: float = 0.1) -> dict:
    return shapely.geometry.mapping(shapely.box(x, y, x + w, y + h))


def datav(adcode: str, name: str, parent: str, level: str, geometry: dict) -> dict:
    """One feature as DataV GeoAtlas writes it (no population)."""
    return {"type": "Feature", "geometry": geometry,
            "properties": {"adcode": adcode, "name": name, "parent": {"adcode": parent}, "level": level}}


def two_districts_without_city() -> list[dict]:
    """A bare array: two districts of a city whose own polygon is not in the file, each with a street and a block."""
    features = []
    for i, (code, name) in enumerate([("A 1", "东区"), ("B 2", "西区")]):
        x = 118.0 + 0.1 * i
        features += [datav(code, name, "city", "district", box(x, 32.0)),
                     datav(f"{code}.s", f"{name}街道", code, "street", box(x, 32.0)),
                     datav(f"{code}.s.c", f"{name}社区", f"{code}.s", "community", box(x, 32.0))]
    return features


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty CITYVITALS_DATA_DIR two folders deep that does not exist yet."""
    folder = tmp_path / "not" / "yet"
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(folder))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return folder


def test_bare_array_without_a_root_is_refused_with_a_hint(tmp_path, capsys):
    path = tmp_path / "districts.json"
    path.write_text(json.dumps(two_districts_without_city(), ensure_ascii=False))
    assert run("check", str(path), "--mapping", "datav") == 1
    assert "more than one root: 'A 1' is already the root" in capsys.readouterr().out


def test_root_made_from_the_union_moves_every_level_down(tmp_path):
    path = tmp_path / "districts.json"
    path.write_text(json.dumps(two_districts_without_city(), ensure_ascii=False))
    areas, problems = check_files([path], PropertyMapping.datav(), [None], root="Sample City")
    assert problems == []  # DataV files have no population: rates per resident are not judged
    by_id = {a.id: a for a in areas}
    root = by_id["Sample-City"]
    assert (root.parent, root.level, root.name_zh) == (None, "district", "Sample City")
    assert root.geometry.symmetric_difference(shapely.box(118.0, 32.0, 118.2, 32.1)).area < 1e-12
    assert [(by_id[i].level, by_id[i].parent) for i in ("A 1", "A 1.s", "A 1.s.c")] == [
        ("street", "Sample-City"), ("community", "A 1"), ("grid", "A 1.s")]


def test_import_with_root_into_a_missing_data_dir(tmp_path, data_dir, capsys):
    path = tmp_path / "districts.json"
    path.write_text(json.dumps(two_districts_without_city(), ensure_ascii=False))
    assert run("import", str(path), "--mapping", "datav", "--root", "Sample City") == 0
    assert capsys.readouterr().out.splitlines()[-2:] == [
        "7 areas, 0 errors, 0 repaired", f"imported 7 areas into sqlite:///{data_dir}/cityvitals.sqlite"]
    stored = load_areas(make_engine(f"sqlite:///{data_dir}/cityvitals.sqlite"))
    assert sorted(a.id for a in stored if a.level == "grid") == ["A 1.s.c", "B 2.s.c"]
    assert {a.population for a in stored} == {0}


def test_a_root_needs_room_above_four_levels(tmp_path):
    path = tmp_path / "full.json"
    features = two_districts_without_city() + [datav("A 1.s.c.g", "格", "A 1.s.c", "grid", box(118.0, 32.0))]
    path.write_text(json.dumps(features))
    areas, problems = check_files([path], PropertyMapping.datav(), [None], root="City")
    assert areas == []
    assert str(problems[-1]) == "--root: no room for a root: the areas already use all levels " \
                                "(district, street, community, grid)"


def test_no_grid_level_is_refused_at_import_and_nothing_stored(tmp_path, data_dir, capsys):
    path = tmp_path / "districts.json"
    features = [datav("d", "区", "", "district", box(118.0, 32.0, 0.2)),
                datav("s", "街道", "d", "street", box(118.0, 32.0))]
    path.write_text(json.dumps(features))
    assert run("check", str(path), "--mapping", "datav") == 0  # checking one level's file is fine
    assert run("import", str(path), "--mapping", "datav") == 1
    out = capsys.readouterr().out
    assert "nothing imported: no area of level 'grid'; the engine judges grids" in out
    assert not (data_dir / "cityvitals.sqlite").exists()


def test_a_single_feature_is_a_file_of_one(tmp_path):
    path = tmp_path / "one.geojson"
    path.write_text(json.dumps(datav("d", "区", "", "district", box(118.0, 32.0))))
    areas, problems = check_files([path], PropertyMapping.datav(), [None])
    assert [a.id for a in areas] == ["d"] and problems == []


def test_overlapping_siblings_are_named_with_their_size(tmp_path):
    path = tmp_path / "overlap.json"
    features = [datav("d", "区", "", "district", box(118.0, 32.0, 0.3)),
                datav("s 1", "东街道", "d", "street", box(118.0, 32.0)),
                datav("s 2", "西街道", "d", "street", box(118.05, 32.0)),  # half of each overlaps
                datav("s 3", "北街道", "d", "street", box(118.2, 32.0))]
    path.write_text(json.dumps(features, ensure_ascii=False))
    areas, problems = check_files([path], PropertyMapping.datav(), [None])
    assert len(areas) == 4  # a warning, not an error
    overlaps = [str(p) for p in problems if "overlaps" in p.reason]
    # 0.05° × 0.1° at 32.05°N.
    assert overlaps == [f"{path}: feature 2 (id s 1, 东街道): overlaps its sibling '西街道' (id s 2) by 52.4 km² "
                        "(50.0% of the smaller)"]


def test_land_no_child_covers_is_reported_on_the_parent(tmp_path):
    path = tmp_path / "gap.json"
    features = [datav("d", "区", "", "district", box(118.0, 32.0, 0.3)),
                datav("s 1", "东街道", "d", "street", box(118.0, 32.0)),
                datav("s 2", "西街道", "d", "street", box(118.1, 32.0))]  # the third 0.1° is nobody's
    path.write_text(json.dumps(features, ensure_ascii=False))
    areas, problems = check_files([path], PropertyMapping.datav(), [None])
    assert len(areas) == 3
    # 0.3° × 0.1° at 32.05°N, its last third (0.1° × 0.1°) uncovered.
    assert [str(p) for p in problems] == [f"{path}: feature 1 (id d, 区): its 2 children leave 105 km² (33.3%) "
                                          "of it uncovered: points there lie in no grid"]
