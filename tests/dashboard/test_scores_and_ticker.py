"""Scores coloured by band with their data share; ticker and warnings rows with raised, peak, clearing (#20)."""

from __future__ import annotations

import pytest

from dashboard.components import band_class, share_span, warning_phase
from dashboard.overview import health_body, macro_only, ticker_line, tile_body
from dashboard.warning_board import active_rows, change_text
from tests.dashboard.conftest import text

NOW = 1_800_000_000.0
RED = {"i": "noise", "a": "d", "level": "district", "s": "red", "v": 74.0, "y": "65", "r": "70", "since": NOW - 600,
       "ts": NOW - 10, "raised": 71.5, "peak": 78.25, "num": None, "den": None, "p": None, "ps": None}
DEFS = {"noise": {"name": {"zh": "噪声", "en": "Noise"}, "tier": "macro", "min_duration": 60.0, "clear_after": 300.0}}


@pytest.mark.parametrize("score, band", [(80.0, "band-healthy"), (79.9, "band-attention"), (60.0, "band-attention"),
                                         (59.9, "band-unhealthy"), (None, "band-unknown")])
def test_a_score_takes_the_class_of_its_band(score, band):
    assert band_class(score) == band


def test_every_score_has_its_data_share_beside_it():
    body = health_body({"health": 79.0, "share": 0.92, "worst": "red", "below": {}})
    assert body[0].children[0].className == "value band-attention" and body[0].children[0].children == "79.0"
    assert "数据 92%" in text(body) and "data 92%" in text(body)
    tile = tile_body("public_safety", {"score": 55.0, "share": 0.5, "red": 1, "data_ts": NOW - 5}, [], NOW)
    middle = tile[1].children
    assert middle[0].className == "tile-score band-unhealthy"
    assert middle[1].className == "share tile-share low" and "数据 50%" in text(middle[1])  # few indicators current
    assert "数据 —" in text(share_span(None))


def test_insufficient_evidence_is_counted_apart_never_as_normal_or_a_warning():
    tile = tile_body("public_safety", {"score": 100.0, "share": 1.0, "normal": 3, "insufficient": 2}, [], NOW)
    counts = {c.className: c.children for c in tile[2].children}
    assert counts["count state-insufficient"] == "○ 2" and counts["count state-normal"] == "● 3"


def test_a_ticker_row_shows_the_value_that_raised_it_and_its_peak_beside_the_current_value():
    line = ticker_line(RED, NOW, DEFS)
    assert line.className == "ticker-line state-red"
    assert text(line.children[3]) == "74 / 70"
    assert "起 71.5 · 峰 78.25" in text(line) and "raised 71.5 · peak 78.25" in text(line)


def test_a_clearing_warning_looks_different_and_counts_down_its_clear_duration():
    clearing = {**RED, "v": 66.0, "p": "normal", "ps": NOW - 120}
    line = ticker_line(clearing, NOW, DEFS)
    assert line.className == "ticker-line state-red clearing" and warning_phase(clearing) == "clearing"
    assert "→ normal in 3 min" in text(line)  # clear_after 300 s, 120 s of it counted
    rising = {**RED, "s": "yellow", "p": "red", "ps": NOW - 30}
    assert ticker_line(rising, NOW, DEFS).className == "ticker-line state-yellow escalating"
    assert "→ red in 30 s" in text(ticker_line(rising, NOW, DEFS))  # a raise waits min_duration (60 s)


def test_the_overview_ticker_keeps_the_macro_set():
    defs = {**DEFS, "fire_checks": {"tier": "panel"}}
    assert macro_only([RED, {**RED, "i": "fire_checks"}], defs) == [RED]


def test_the_warnings_page_rows_carry_raised_peak_and_the_clearing_phase(world_context):
    rows = active_rows([{**RED, "name": "噪声", "unit": "dB", "min_duration": 60.0, "clear_after": 300.0,
                         "p": "normal", "ps": NOW - 120}], {}, NOW)
    assert rows[0]["trail"] == "71.5 / 78.25" and rows[0]["phase"] == "clearing"
    assert rows[0]["change"].endswith("→ normal in 3 min")
    assert change_text({**RED, "min_duration": 60.0}, NOW) == ""


@pytest.fixture
def world_context(redis_client, sqlite_engine):
    from dashboard import context
    from dashboard.context import DashboardContext
    from tests.conftest import tiny_tree

    context.set_context(DashboardContext(redis_client, sqlite_engine, tiny_tree(), 5.0))
