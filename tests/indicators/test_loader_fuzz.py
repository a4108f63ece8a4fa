"""Property-based: any file content gives a catalog or CatalogInvalid with located errors, never a crash."""

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indicators.loader import CatalogInvalid, load_catalog

GOOD = (Path(__file__).parent / "fixtures" / "good.yaml").read_text(encoding="utf-8")

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)
KEYS = ["id", "name", "tier", "group", "source", "rollup", "direction", "thresholds", "overrides", "stale_after"]


def load_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
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
