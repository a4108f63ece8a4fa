"""Every rule-test file here passes through the real engine, and a wrong expectation is caught precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityvitals.cli import main
from indicators.ruletest import expand, run_file

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("*_test.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_rule_file(path):
    outcome = run_file(path)
    assert outcome.failures == []
    assert outcome.checked >= 2


def test_a_wrong_expectation_fails_with_where_and_what(tmp_path):
    text = (HERE / "rollups_test.yaml").read_text(encoding="utf-8")
    wrong = tmp_path / "wrong_test.yaml"
    wrong.write_text(text.replace("catalog: catalog.yaml", f"catalog: {HERE / 'catalog.yaml'}")
                     .replace("{at: 0m, indicator: fires, area: c1, state: normal, value: 4}",
                              "{at: 0m, indicator: fires, area: c1, state: red, value: 4}"), encoding="utf-8")
    outcome = run_file(wrong)
    assert outcome.failures == [f"{wrong}:counts add up: fires @ c1 at t=0m: expected red, got normal (value 4)"]
    assert main(["catalog", "test", str(wrong)]) == 1


def test_a_malformed_file_is_refused_with_its_line(tmp_path):
    bad = tmp_path / "bad_test.yaml"
    bad.write_text("start: 2026-11-18T12:00:00+08:00\ntests:\n  - name: x\n    input_series: []\n"
                   "    expect:\n      - {at: soon, indicator: fires, area: g1, state: red}\n", encoding="utf-8")
    [problem] = run_file(bad).failures
    assert problem.startswith(f"{bad}:6:") and "soon" in problem


def test_series_notation():
    assert expand("5 _ 1+1x3 7x2 -2-0.5x2") == [5, None, 1, 2, 3, 4, 7, 7, 7, -2, -2.5, -3]
    with pytest.raises(ValueError, match="'high' is not a number"):
        expand("1 high")
