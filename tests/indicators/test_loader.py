"""Catalog loading: good files load; each bad file is refused with file, line and reason."""

from pathlib import Path

import numpy as np
import pytest
import simpleeval

from indicators.formula import evaluate
from indicators.loader import CatalogInvalid, load_catalog

FIXTURES = Path(__file__).parent / "fixtures"

BAD = [
    ("inverted.bad.yaml", 10, "yellow (115.0) must be below red (75.0) for higher_is_worse"),
    ("unknown_metric.bad.yaml", 2, 'indicator "pm25": source reads unknown metric or indicator pm99'),
    ("cycle.bad.yaml", 2, 'indicator "a": formula cycle'),
    ("duplicate.bad.yaml", 11, 'indicator "aqi": duplicate id'),
    ("unknown_group.bad.yaml", 5, "group: 'weather' is not one of the macro groups"),
    ("missing_name.bad.yaml", 2, 'indicator "aqi": name: Field required'),
    ("unknown_key.bad.yaml", 11, "unknown key 'treshold_red'"),
    ("unknown_level.bad.yaml", 12, "overrides.0.level: Input should be 'district', 'street', 'community' or 'grid'"),
    ("syntax.bad.yaml", 4, "YAML syntax"),
    ("repeated_key.bad.yaml", 11, "key 'thresholds' given twice in one mapping (first at line 10)"),
]


def test_good_catalog_loads_in_dependency_order():
    cat = load_catalog([FIXTURES / "good.yaml"])
    assert [i.id for i in cat.indicators] == ["level", "level_margin"]
    assert "flood_season" in cat.profiles
    assert cat.positions["level_margin"].endswith("good.yaml:16")


@pytest.mark.parametrize(("name", "line", "reason"), BAD, ids=[b[0] for b in BAD])
def test_bad_file_is_refused_with_file_line_and_reason(name, line, reason):
    with pytest.raises(CatalogInvalid) as exc:
        load_catalog([FIXTURES / name])
    messages = [str(e) for e in exc.value.errors]
    assert any(m.startswith(f"{FIXTURES / name}:{line}:") and reason in m for m in messages), messages


def test_all_errors_are_reported_not_just_the_first():
    with pytest.raises(CatalogInvalid) as exc:
        load_catalog([FIXTURES / "inverted.bad.yaml", FIXTURES / "unknown_group.bad.yaml"])
    assert len(exc.value.errors) == 2


def test_formula_is_vectorised_and_safe():
    out = evaluate("div(a, b) * 100 + max(a, 0)", {"a": np.array([1.0, 2.0]), "b": np.array([4.0, 0.0])})
    assert out[0] == 26.0 and np.isnan(out[1])
    with pytest.raises(simpleeval.FunctionNotDefined, match="__import__"):
        evaluate("__import__('os').system('true')", {})
