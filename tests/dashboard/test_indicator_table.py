"""The all-indicators table of one area, called as the plain functions its callback calls."""

from __future__ import annotations

from dashboard.indicator_table import indicator_rows, trend_text

NOW = 1_800_000_000.0
DEFS = {
    "aqi": {"id": "aqi", "tier": "macro", "group": "eco_environment", "unit": "", "direction": "higher_is_worse",
            "name": {"zh": "空气质量指数", "en": "Air quality index"}},
    "fires": {"id": "fires", "tier": "panel", "group": "public_safety", "unit": "", "direction": "higher_is_worse",
              "name": {"zh": "火灾<b>", "en": "Fires"}},
    "green": {"id": "green", "tier": "macro", "group": "eco_environment", "unit": "%", "direction": "lower_is_worse",
              "name": {"zh": "绿化率", "en": "Green cover"}},
}


def _record(state: str, value: float) -> dict:
    return {"s": state, "v": value, "ts": NOW - 30, "since": NOW - 600, "y": "100", "r": "200", "rule": "default"}


def test_every_indicator_is_a_row_red_first_and_one_never_scored_is_stale():
    states = {"aqi": _record("red", 250.0), "green": _record("normal", 40.0)}
    rows = indicator_rows(DEFS, states, {"aqi": 200.0}, "g1", NOW)
    assert [r["id"] for r in rows] == ["aqi", "fires", "green"]
    aqi, fires, _ = rows
    assert aqi["state"] == "■ red" and aqi["value"] == "250" and aqi["limits"] == "▲100 ■200"
    assert aqi["age"] == "30 s" and aqi["since"] == "10 min" and aqi["trend"] == "↑ +25% ✗"
    assert "(/indicator/aqi?area=g1)" in aqi["name"] and 'class="en" lang="en">Air quality index<' in aqi["name"]
    assert fires["state"] == "◌ stale" and fires["value"] == "—" and fires["trend"] == "—"
    assert "火灾&lt;b&gt;" in fires["name"]  # names are escaped in the HTML cell
    assert "公共安全" in fires["group"] and "Public safety" in fires["group"]


def test_trend_says_which_way_and_whether_that_is_worse():
    assert trend_text(50.0, 40.0, "lower_is_worse") == "↓ -20% ✗"
    assert trend_text(50.0, 60.0, "lower_is_worse") == "↑ +20%"
    assert trend_text(0.0, 3.0, "higher_is_worse") == "↑ +3 ✗"
    assert trend_text(5.0, 5.0, "band") == "→ 0" and trend_text(4.0, 6.0, "band") == "↑ +50%"
    assert trend_text(None, 5.0, "band") == "—" and trend_text(5.0, None, "band") == "—"


def test_no_judgement_lists_after_normal_never_as_normal():
    states = {"aqi": _record("insufficient", 3.0), "fires": _record("not_judged", 0.0),
              "green": _record("normal", 40.0)}
    rows = indicator_rows(DEFS, states, {}, "g1", NOW)
    assert [(r["id"], r["state"]) for r in rows] == [("green", "● normal"), ("aqi", "○ insufficient"),
                                                     ("fires", "– not_judged")]
