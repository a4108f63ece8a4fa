"""Dispatching from the wall: a warning in Redis becomes a task prefilled from it; the warning shows its task."""

from __future__ import annotations

import json

import pytest

from cityvitals import store
from cityvitals.dispatch.assessment import assess
from cityvitals.dispatch.commands import Actor, SignTask
from cityvitals.dispatch.tasks import read_events
from dashboard import context
from dashboard.context import DashboardContext
from dashboard.dispatch_panel import assessment_rows, run_steps, task_rows
from dashboard.dispatching import dispatch_episodes, preview, task_texts
from tests.dispatch.conftest import ANALYST, GRID, HEAD, HEAD_PERSON

SINCE = 1_796_100_000.5  # the record keeps some limits as text (a funnel's, a time of day's)
RED = {"i": "elevator_entrapments", "a": GRID, "level": "grid", "s": "red", "v": 3.0, "y": 1.0, "r": 2.0,
       "since": SINCE}
DISTRICT = {"i": "pm25", "a": "pukou", "level": "district", "s": "yellow", "v": 80.0, "y": "75", "r": "115",
            "since": SINCE}


def key(w: dict) -> str:
    return f"{w['i']}@{w['a']}@{w['since']:.3f}"


@pytest.fixture
def wall(redis_client, ctx, demo_tree):
    """A dashboard context with a red grid warning and a yellow district one in Redis."""
    for w in (RED, DISTRICT):
        redis_client.hset(store.WARNINGS, store.warning_key(w["i"], w["a"]), json.dumps(w))
    store.write_definitions(redis_client, {
        "elevator_entrapments": {"name": {"zh": "电梯困人", "en": "Elevator entrapments"}, "tier": "macro",
                                 "group": "public_safety"},
        "pm25": {"name": {"zh": "PM2.5", "en": "PM2.5"}, "tier": "macro", "group": "eco_environment"}})
    return DashboardContext(redis_client, ctx.sql, demo_tree, 5.0, dispatch=ctx)


def test_a_warning_becomes_a_task_prefilled_from_redis(wall, clock):
    assert preview(wall, [key(RED), key(DISTRICT)], "urgent")[1].startswith("PM2.5 → 生态环境局 Ecology and")
    outcome = dispatch_episodes(wall, ANALYST, [key(RED), key(DISTRICT)], "urgent", None, "")
    assert outcome.refused == []
    grid, district = outcome.tasks
    assert (grid.unit, grid.indicator, grid.group, grid.value, grid.threshold, grid.warning_state,
            grid.warning_since, grid.priority, grid.task_type) == (
        HEAD, "elevator_entrapments", "public_safety", 3.0, 2.0, "red", SINCE, "high", "urgent")
    assert grid.due == clock.now + 4 * 3600 and "电梯困人 red since" in grid.instruction
    assert (district.unit, district.priority, district.threshold) == ("dept.eco", "normal", 75.0)
    texts = task_texts(wall, {GRID, "pukou"}, clock.now + 300)
    assert texts[("elevator_entrapments", GRID, SINCE)] == f"#{grid.id} 已派发 dispatched · 5 min"
    SignTask(wall.dispatch, HEAD_PERSON, grid.id).run()
    texts = task_texts(wall, {GRID}, clock.now + 60)
    assert texts[("elevator_entrapments", GRID, SINCE)] == f"#{grid.id} 已签收 signed · 1 min"


def test_only_active_warnings_by_analysts_are_dispatched(wall, redis_client):
    made_up = f"elevator_entrapments@{GRID}@{SINCE + 1:.3f}"
    outcome = dispatch_episodes(wall, ANALYST, [made_up, "nonsense", 7], None, None, None)
    assert outcome.tasks == [] and len(outcome.refused) == 3 and "it may have cleared" in outcome.refused[0]
    viewer = dispatch_episodes(wall, Actor("sun", "viewer"), [key(RED)], None, None, None)
    assert viewer.tasks == [] and "may not dispatch" in viewer.refused[0]
    bad_type = dispatch_episodes(wall, ANALYST, [key(RED)], "survey", "asap", None)
    assert "unknown task type 'survey'" in bad_type.refused[0] and "priority must be" in bad_type.refused[0]
    assert dispatch_episodes(wall, ANALYST, "x", None, None, None).refused == ["select warnings first"]
    assert read_events(wall.sql, [1]) == {1: []}


def test_the_dispatch_panel_steps_and_ranks(wall, clock):
    context.set_context(wall)
    [task] = dispatch_episodes(wall, ANALYST, [key(RED)], None, None, None).tasks
    SignTask(wall.dispatch, HEAD_PERSON, task.id).run()
    marker, message = run_steps(wall, ANALYST, "close", [task.id], None, 4)
    assert marker == 4 and "task 1 is signed; closed needs it verified" in message  # nothing done: no refresh
    assert run_steps(wall, Actor("sun", "viewer"), "verify", [task.id], None, 4)[1].startswith("verify: —")
    [row] = task_rows(wall, clock.now + 120)
    assert (row["id"], row["status"], row["on_step"], row["unit"], row["warning"]) == (
        task.id, "已签收 signed", "2 min", HEAD, "red now")
    wall.client.hdel(store.WARNINGS, store.warning_key(RED["i"], RED["a"]))  # the warning clears, the task is open
    assert task_rows(wall, clock.now)[0]["warning"] == "已解除 cleared"
    [score] = assessment_rows(assess(wall.sql, wall.dispatch.routing, 0, clock.now + 1), wall.dispatch.routing)
    assert score["unit"].endswith(f"({HEAD})") and score["on_time"] == "1 (100%)"


def test_the_warnings_log_names_the_task_of_its_episode(wall):
    from datetime import UTC, datetime

    from dashboard.dispatching import history_tasks

    [task] = dispatch_episodes(wall, ANALYST, [key(RED)], None, None, None).tasks
    at = datetime.fromtimestamp(round(SINCE), UTC).replace(tzinfo=None)  # SQLite gives naive UTC, to the second
    changes = [{"indicator": RED["i"], "area": GRID, "at": at, "to_state": "red"},
               {"indicator": RED["i"], "area": GRID, "at": at, "to_state": "normal"},  # the clearing: no task
               {"indicator": "pm25", "area": GRID, "at": at, "to_state": "red"}]
    assert history_tasks(wall, changes) == [f"#{task.id} 已派发 dispatched", "", ""]


def test_the_map_marks_areas_with_open_tasks(wall):
    from dashboard.dispatching import open_tasks_in
    from dashboard.figures import MapLook
    from dashboard.map_view import with_tasks
    from indicators.states import State

    context.set_context(wall)
    streets = ["pukou.jiangpu", "pukou.qiaolin"]
    assert open_tasks_in(wall, streets) == [0, 0]
    [task] = dispatch_episodes(wall, ANALYST, [key(RED)], None, None, None).tasks
    assert open_tasks_in(wall, streets) == [1, 0] and open_tasks_in(wall, [GRID, "pukou"]) == [1, 1]
    look = with_tasks(MapLook([State.RED, State.NORMAL], ["a", "b"], ["■1↓", ""]), open_tasks_in(wall, streets))
    assert look.labels == ["■1↓ ⚑1", ""] and look.hover[0].endswith("⚑ 1 个待办任务 open task(s)")
    assert look.hover[1] == "b"
