"""GeoJSON loading and validation: good files load; each bad file gives a Problem naming the feature and reason."""

import dataclasses
from pathlib import Path

import pytest
import shapely

from cityvitals.areas import Area, Problem, PropertyMapping, load_features, validate
from cityvitals.areas.geojson import check_files, dump_features

FIXTURES = Path(__file__).parent / "fixtures"

# {fixture, expected problems (substrings of str(problem), in order), severity}, as Prometheus' *.bad.yaml tests.
BAD = [
    ("unknown_parent.bad.geojson", ["feature 3 (id s2, 西街道): unknown parent 'nowhere'"], "error"),
    (
        "cycle.bad.geojson",
        [
            "feature 3 (id c1, 第一社区): level 'community' cannot sit under 'c2'",
            "feature 3 (id c1, 第一社区): cycle in parent links: c1 → c2 → c1",
            "feature 4 (id c2, 第二社区): level 'community' cannot sit under 'c1'",
            "feature 4 (id c2, 第二社区): cycle in parent links: c1 → c2 → c1",
        ],
        "error",
    ),
    ("duplicate_id.bad.geojson", ["feature 3 (id s1, 西街道): duplicate id, already used at"], "error"),
    ("bowtie.bad.geojson", ["feature 2 (id s1, 东街道): invalid geometry (Self-intersection"], "repaired"),
    ("outside_parent.bad.geojson", ["feature 3 (id s2, 西街道): lies mostly outside its parent 'd' (80% outside)"],
     "error"),
    ("broken.bad.geojson", ["broken.bad.geojson: not valid JSON: Expecting ',' delimiter at line 3"], "error"),
    ("two_roots.bad.geojson", ["feature 3 (id d2, 另一区): more than one root"], "error"),
    ("skipped_level.bad.geojson", ["feature 3 (id g1, 第1网格): level 'grid' cannot sit under 's1' of level 'street'"],
     "error"),
    ("negative_population.bad.geojson", ["feature 3 (id s2, 西街道): negative population -5"], "error"),
    ("missing_population.bad.geojson", ["feature 3 (id s2, 西街道): no population property 'population'"], "warning"),
    ("empty_geometry.bad.geojson", ["feature 3 (id s2, 西街道): empty geometry"], "error"),
    ("point_geometry.bad.geojson", ["feature 3 (id s2, 西街道): geometry must be a Polygon or MultiPolygon"], "error"),
    ("unclosed_ring.bad.geojson", ["feature 3 (id s2, 西街道): unreadable geometry"], "error"),
    ("unknown_level.bad.geojson", ["feature 3 (id s2, 西镇): unknown level 'town'"], "error"),
    ("missing_id.bad.geojson", ["feature 3: missing id property 'id'"], "error"),
    ("not_collection.bad.geojson", ["not a GeoJSON FeatureCollection, array of Features or Feature (type 'Foo')"],
     "error"),
]


@pytest.mark.parametrize(("name", "expected", "severity"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_names_feature_and_reason(name, expected, severity):
    path = FIXTURES / name
    _, problems = check_files([path], PropertyMapping(), [None])
    messages = [str(p) for p in problems]
    assert len(messages) == len(expected), messages
    for message, substring in zip(messages, expected, strict=True):
        assert message.startswith(f"{path}: ") and substring in message
    assert {p.severity for p in problems} == {severity}


def test_good_file_in_our_format():
    areas, problems = load_features([FIXTURES / "ours.good.geojson"], PropertyMapping())
    assert problems == []
    by_id = {a.id: a for a in areas}
    assert len(by_id) == 10
    assert by_id["d"].parent is None
    assert (by_id["g2"].parent, by_id["g2"].level, by_id["g2"].kind, by_id["g2"].category) == (
        "c1",
        "grid",
        "special",
        "school",
    )
    assert (by_id["s1"].name_zh, by_id["s1"].name_en, by_id["s1"].population) == ("东街道", "East Street", 600)
    # 0.05° × 0.1° at 32°N.
    assert by_id["s1"].area_km2 == pytest.approx(52.4, abs=0.1)
    assert validate(areas) == (areas, [])


def test_datav_file_with_nested_parent_adcode():
    areas, problems = check_files([FIXTURES / "datav.good.geojson"], PropertyMapping.datav(), [None])
    assert problems == []
    assert [(a.id, a.parent, a.level) for a in areas] == [
        # The district's own parent (the city, 320100) lies outside the hierarchy.
        ("320111", None, "district"),
        ("320111001", "320111", "street"),
        ("320111002", "320111", "street"),
    ]
    assert areas[1].name_en == areas[1].name_zh == "江浦街道"
    assert areas[1].population == 0


def test_multipolygon_feature():
    areas, problems = check_files([FIXTURES / "multipolygon.good.geojson"], PropertyMapping(), [None])
    assert problems == []
    assert [a.geometry.geom_type for a in areas] == ["MultiPolygon", "MultiPolygon"]


def test_one_file_per_level_with_the_level_given():
    district, problems = load_features([FIXTURES / "levels" / "district.geojson"], PropertyMapping(), "district")
    streets, more = load_features([FIXTURES / "levels" / "streets.geojson"], PropertyMapping(), "street")
    assert problems == more == []
    assert [a.level for a in district + streets] == ["district", "street", "street"]
    assert validate(district + streets)[1] == []


def test_files_without_level_say_so():
    _, problems = load_features([FIXTURES / "levels" / "streets.geojson"], PropertyMapping())
    assert "missing level" in str(problems[0])


def test_repaired_bowtie_keeps_both_loops():
    areas, problems = check_files([FIXTURES / "bowtie.bad.geojson"], PropertyMapping(), [None])
    street = next(a for a in areas if a.id == "s1")
    assert street.geometry.is_valid and street.geometry.geom_type == "MultiPolygon"
    assert street.geometry.area == pytest.approx(0.05 * 0.1 / 2)
    assert "repaired with make_valid" in problems[0].reason


def test_unrepairable_geometry_is_an_error():
    # A ring that runs out and back along the same line encloses nothing; no repair can keep it.
    spike = shapely.Polygon([(118.6, 32.0), (118.65, 32.05), (118.6, 32.0), (118.6, 32.0)])
    root = Area("d", None, "district", "区", "District", 1, 1.0, shapely.box(118.5, 31.9, 118.7, 32.1))
    street = Area("s", "d", "street", "街道", "Street", 1, 0.0, spike)
    usable, problems = validate([root, street])
    assert [a.id for a in usable] == ["d"]
    assert problems[0].severity == "error" and "cannot repair" in problems[0].reason


def test_descendants_of_a_bad_area_are_not_usable():
    areas, _ = load_features([FIXTURES / "ours.good.geojson"], PropertyMapping())
    broken = [a if a.id != "c1" else dataclasses.replace(a, population=-1) for a in areas]
    usable, problems = validate(broken)
    assert [p.feature for p in problems] == ["c1"]
    assert {a.id for a in usable} == {"d", "s1", "s2", "c2", "c3", "g3", "g4"}


def test_problem_text():
    assert str(Problem("a.geojson#feature 3", "320111001", "unknown parent '320111999'")) == (
        "a.geojson: feature 3 (id 320111001): unknown parent '320111999'"
    )
    assert str(Problem("a.geojson", "", "not valid JSON")) == "a.geojson: not valid JSON"
    assert str(Problem("", "x", "negative population -1")) == "area x: negative population -1"


def test_dump_and_load_round_trip(tmp_path):
    areas, _ = load_features([FIXTURES / "ours.good.geojson"], PropertyMapping())
    dump_features(areas, tmp_path / "out.geojson")
    again, problems = load_features([tmp_path / "out.geojson"], PropertyMapping())
    assert problems == []
    assert again == areas
