"""Monthly statistics: stale after months, and shown "as of October" rather than "29 d" old."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard.components import data_time_text
from dashboard.indicator_table import indicator_rows
from indicators.schema import parse_duration

SH = ZoneInfo("Asia/Shanghai")


def _ts(*args: int) -> float:
    return datetime(*args, tzinfo=SH).timestamp()


def test_durations_in_weeks_months_and_quarters():
    assert [parse_duration(d) for d in ("1w", "2mo", "1q")] == [7 * 86400.0, 62 * 86400.0, 92 * 86400.0]
    with pytest.raises(ValueError, match="like 90s, 15m, 2h, 1d, 1w, 2mo or 1q"):
        parse_duration("2 months")


def test_a_monthly_statistic_is_shown_as_of_its_month():
    now = _ts(2026, 11, 29, 10)
    assert data_time_text(_ts(2026, 10, 31, 0), now, parse_duration("2mo")) == "截至10月 as of October"
    assert data_time_text(_ts(2025, 12, 31, 0), now, parse_duration("1q")) == "截至2025年12月 as of December 2025"
    assert data_time_text(now - 180, now, 900.0) == "3 min"  # live data keeps its age


def test_the_indicator_table_says_as_of_for_monthly_and_an_age_for_live_data():
    now = _ts(2026, 11, 29, 10)
    stale = {"cpi": parse_duration("2mo"), "aqi": 900.0}
    definitions = {i: {"id": i, "tier": "macro", "group": "economic_development", "name": {"zh": i, "en": i},
                       "unit": "", "direction": "higher_is_worse", "stale_after": s} for i, s in stale.items()}
    states = {"cpi": {"s": "normal", "v": 101.2, "y": 103, "r": 105, "rule": "", "since": now - 86400,
                      "ts": _ts(2026, 10, 31, 0)},
              "aqi": {"s": "normal", "v": 40, "y": 100, "r": 150, "rule": "", "since": now - 600, "ts": now - 120}}
    rows = {r["id"]: r["age"] for r in indicator_rows(definitions, states, {}, "d", now)}
    assert rows == {"cpi": "截至10月 as of October", "aqi": "2 min"}
