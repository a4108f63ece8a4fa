"""The warnings page's log of past changes: the warnings among a start-up's flood of cells leaving stale."""

from __future__ import annotations

import time

import pytest

from cityvitals import store
from dashboard import context
from dashboard.context import DashboardContext
from dashboard.warning_board import PAST_ROWS, past_rows
from indicators.history import log_transitions, utc
from tests.conftest import tiny_tree

NOW = time.time()
DEFS = {"noise": {"tier": "macro", "group": "ecological_environment", "name": {"zh": "噪声", "en": "Noise"}},
        "fire": {"tier": "macro", "group": "public_safety", "name": {"zh": "火灾", "en": "Fires"}}}


def change(k: int, indicator: str, area: str, level: str, to_state: str, from_state: str = "stale") -> dict:
    return {"at": utc(NOW - 3600 + k), "indicator": indicator, "level": level, "area": area,
            "from_state": from_state, "to_state": to_state, "value": 1.0, "yellow": "1", "red": "2"}


@pytest.fixture
def logged(redis_client, sqlite_engine, tmp_path):
    """Four warnings, then ten times the page's rows of cells leaving stale for normal (an engine's start)."""
    store.write_definitions(redis_client, DEFS)
    store.record_catalog(redis_client, str(tmp_path), errors=[])  # a new version: the definitions are read anew
    context.set_context(DashboardContext(redis_client, sqlite_engine, tiny_tree(), 5.0))
    warnings = [change(0, "noise", "d.s.c1", "community", "yellow"), change(1, "fire", "d.s", "street", "red"),
                change(2, "noise", "d.s.c2.g4", "grid", "red"), change(3, "noise", "d", "district", "normal", "red")]
    quiet = [change(10 + k, "noise", "d.s.c1.g1", "grid", "normal") for k in range(PAST_ROWS * 10)]
    log_transitions(sqlite_engine, warnings + quiet)


def test_the_warnings_show_however_many_newer_quiet_changes_were_logged(logged):
    rows = past_rows("d", None, ["red", "yellow"], None)
    assert [(r["indicator"], r["area"], r["to_state"]) for r in rows] == [
        ("noise", "d", "normal"), ("noise", "d.s.c2.g4", "red"), ("fire", "d.s", "red"), ("noise", "d.s.c1", "yellow")]


def test_the_filters_by_state_level_group_and_area_apply_before_the_newest_are_taken(logged):
    assert [r["area"] for r in past_rows("d", None, ["yellow"], None)] == ["d.s.c1"]
    assert [r["area"] for r in past_rows("d", None, ["red", "yellow"], "grid")] == ["d.s.c2.g4"]
    assert [r["area"] for r in past_rows("d", "public_safety", ["red", "yellow"], None)] == ["d.s"]
    assert [r["area"] for r in past_rows("d.s.c2", None, ["red", "yellow"], None)] == ["d.s.c2.g4"]
    assert len(past_rows("d", None, ["normal"], None)) == PAST_ROWS  # the quiet ones when asked for
