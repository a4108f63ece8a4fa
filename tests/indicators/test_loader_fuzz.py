"""Property-based: any file content gives a catalog or CatalogInvalid with located errors, never a crash."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.loader import CatalogInvalid, load_catalog
from tests.conftest import documents, nested

GOOD = (Path(__file__).parent / "fixtures" / "good.yaml").read_text(encoding="utf-8")

KEYS = ["id", "name", "tier", "group", "source", "rollup", "direction", "thresholds", "overrides", "stale_after"]


def load_text(tmp_path: Path, text: str | bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    try:
        load_catalog([path])
    except CatalogInvalid as exc:
        assert exc.errors, "a refused catalog names at least one error"
        for err in exc.errors:
            assert err.path == str(path) and err.line >= 1 and err.reason


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_is_loaded_or_refused_with_located_errors(tmp_path, text):
    load_text(tmp_path, text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(min_size=1, max_size=40), at=st.integers(0, len(GOOD)))
def test_any_bytes_in_a_good_file_are_loaded_or_refused_with_located_errors(tmp_path, junk, at):
    raw = GOOD.encode("utf-8")
    load_text(tmp_path, raw[:at] + junk + raw[at:])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_any_yaml_document_is_loaded_or_refused(tmp_path, doc):
    load_text(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), value=documents)
def test_a_good_indicator_with_one_field_replaced_is_loaded_or_refused(tmp_path, key, value):
    doc = yaml.safe_load(GOOD)
    doc["indicators"][0][key] = value
    load_text(tmp_path, yaml.safe_dump(doc, allow_unicode=True))



@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS + ["description", "weight"]), depth=st.integers(1, 3000),
       opener=st.sampled_from(["[", "{"]))
def test_any_depth_of_nesting_in_any_field_is_refused_with_its_place_not_a_crash(tmp_path, key, depth, opener):
    doc = yaml.safe_load(GOOD)
    doc["indicators"][0][key] = "PLACEHOLDER"
    text = yaml.safe_dump(doc, allow_unicode=True).replace("PLACEHOLDER", nested(depth, opener))
    load_text(tmp_path, text)


def test_a_yaml_nested_thousands_deep_names_the_line_and_column(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text(GOOD + "\nextra: " + nested(5000, "["), encoding="utf-8")
    try:
        load_catalog([path])
    except CatalogInvalid as exc:
        (err,) = exc.errors
        assert (err.path, err.line) == (str(path), GOOD.count("\n") + 2)
        assert "nested more than 100 levels deep" in err.reason
    else:
        raise AssertionError("a 5000-deep file was accepted")


LAUGHS = "".join(f"{k}: &{k} [{', '.join([f'*{p}' if p else 'lol'] * 9)}]\n"
                 for k, p in zip("abcdefgh", ["", *"abcdefg"], strict=True))


@settings(max_examples=30, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS + ["description", "unit"]))
def test_an_alias_bomb_in_any_field_is_refused_quickly(tmp_path, key):
    """Eight levels of nine aliases stand for 43 million items: refused within the deadline, not expanded."""
    doc = yaml.safe_load(GOOD)
    doc["indicators"][0][key] = "PLACEHOLDER"
    body = yaml.safe_dump(doc, allow_unicode=True).replace("PLACEHOLDER", "*h")
    load_text(tmp_path, "x-bomb:\n" + "".join("  " + line + "\n" for line in LAUGHS.splitlines()) + body)


profile_keys = ["id", "name", "start", "end", "x"]
override_keys = ["level", "area", "schedule", "profile", "yellow", "red", "x"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profile_key=st.sampled_from(profile_keys), override_key=st.sampled_from(override_keys),
       value=documents | st.sampled_from(["06-01", "13-45", "flood_season", "grid", {"hours": "07:00-09:30"}]))
def test_profiles_and_overrides_with_a_field_replaced_are_loaded_or_refused(tmp_path, profile_key, override_key,
                                                                            value):
    doc = yaml.safe_load(GOOD)
    doc["profiles"][0][profile_key] = value
    doc["indicators"][0]["overrides"][0][override_key] = value
    load_text(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(formula=st.lists(st.sampled_from(["level", "river_level", "aqi", "1", "0", "9", "1e308", "+", "-", "*", "/",
                                         "**", "%", "(", ")", "min(", "max(", "abs(", "div(", ",", "<", "and",
                                         "__import__", "'x'", "[", "lambda", ".real"]), max_size=14).map("".join))
def test_any_formula_is_loaded_or_refused(tmp_path, formula):
    doc = yaml.safe_load(GOOD)
    doc["indicators"][1]["source"] = {"formula": formula}
    load_text(tmp_path, yaml.safe_dump(doc, allow_unicode=True))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_a_good_file_beside_any_other_is_loaded_or_refused_naming_the_bad_file(tmp_path, doc):
    folder = tmp_path / "two"
    folder.mkdir(exist_ok=True)
    (folder / "a_good.yaml").write_text(GOOD, encoding="utf-8")
    other = folder / "b_other.yaml"
    other.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        load_catalog([folder])
    except CatalogInvalid as exc:
        assert exc.errors and all(e.line >= 1 and e.reason for e in exc.errors)
        assert {e.path for e in exc.errors} <= {str(folder / "a_good.yaml"), str(other)}
