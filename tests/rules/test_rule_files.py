"""Every rule-test file here passes through the real engine, and a wrong expectation is caught precisely."""

from __future__ import annotations

from pathlib import Path

import pytest

from indicators.ruletest import expand, run_file
from wiring.cli import main

HERE = Path(__file__).parent
FILES = sorted(HERE.glob("*_test.yaml"))
# expectations per file, counted by hand: a file that checks fewer than it states must fail here
EXPECTATIONS = {"overrides_test.yaml": 3, "rollups_test.yaml": 19, "shipped_catalog_test.yaml": 9,
                "timing_test.yaml": 9}


def test_every_file_has_its_count():
    assert sorted(p.name for p in FILES) == sorted(EXPECTATIONS)


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_rule_file(path):
    outcome = run_file(path)
    assert outcome.failures == []
    assert outcome.checked == EXPECTATIONS[path.name]


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


OFF_STEP = """catalog: {catalog}
areas: [{{id: g1, level: grid}}]
start: 2026-11-18T12:00:00+08:00
interval: 1m
tests:
  - name: between steps
    input_series:
      - {{metric: fire_alarms_1h, area: g1, values: "1 1 1"}}
    expect:
      - {{at: 1m, indicator: fires, area: g1, state: normal}}
      - {{at: 90s, indicator: fires, area: g1, state: red}}
      - {{at: -60, indicator: fires, area: g1, state: red}}
"""


def test_an_expectation_between_steps_is_refused_with_its_line(tmp_path, capsys):
    # 90 s on a 1-minute interval was once silently skipped: "1 expectation(s) checked ... 0 failure(s)", exit 0
    off = tmp_path / "off_test.yaml"
    off.write_text(OFF_STEP.format(catalog=HERE / "catalog.yaml"), encoding="utf-8")
    outcome = run_file(off)
    assert outcome.checked == 0
    assert outcome.failures == [
        f"{off}:11:14: tests.0.expect.1.at: 1.5m falls between steps of the 1m interval (0, 1m, 2m, ...)",
        f"{off}:12:14: tests.0.expect.2.at: -1m is before the start",
    ]
    assert main(["catalog", "test", str(off)]) == 1
    assert "0 expectation(s) checked in 1 file(s), 2 failure(s)" in capsys.readouterr().out


def test_series_notation():
    assert expand("5 _ 1+1x3 7x2 -2-0.5x2") == [5, None, 1, 2, 3, 4, 7, 7, 7, -2, -2.5, -3]
    with pytest.raises(ValueError, match="'high' is not a number"):
        expand("1 high")
