"""A task's lifecycle through the commands, on real SQL: each step timed, audited, refused with reasons."""

from __future__ import annotations

import pytest

from cityvitals.dispatch.commands import (
    SYSTEM,
    Actor,
    CloseTask,
    DispatchContext,
    DispatchError,
    DispatchTask,
    EscalateTask,
    HandleTask,
    RedispatchTask,
    ReopenTask,
    ReturnTask,
    SignTask,
    VerifyTask,
    escalate_overdue,
)
from cityvitals.dispatch.photos import save_photo
from cityvitals.dispatch.tasks import read_events, read_task
from cityvitals.users import read_audit
from tests.dispatch.conftest import (
    ANALYST,
    CENTRE,
    COMMITTEE,
    COMMITTEE_PERSON,
    GRID,
    HEAD,
    HEAD_PERSON,
    NOW,
    SUB_PERSON,
    SUBCENTRE,
    png,
)


def dispatch(ctx, **extra):
    """A task for the demo grid answering a red warning."""
    args = dict(area=GRID, instruction="检查电梯困人 Check the trapped-lift reports", indicator="elevator_entrapments",
                group="public_safety", value=3.0, threshold=2.0, warning_state="red", warning_since=NOW - 600,
                priority="high")
    return DispatchTask(ctx, ANALYST, **{**args, **extra}).run()


def test_the_main_path_hop_by_hop_to_the_second(ctx, clock):
    task = dispatch(ctx)
    assert (task.status, task.unit, task.created_at) == ("dispatched", HEAD, NOW)
    assert task.hop_due == NOW + 30 * 60 and task.due == NOW + 24 * 3600  # the inspect type's deadlines
    clock.tick(23)
    SignTask(ctx, HEAD_PERSON, task.id).run()
    clock.tick(2 * 86400 - 23)
    photo = save_photo(ctx.photos, task.id, png())
    HandleTask(ctx, HEAD_PERSON, task.id, "换了门机板 replaced the door board", photo=photo).run()
    clock.tick(88)
    VerifyTask(ctx, ANALYST, task.id).run()
    clock.tick(1)
    closed = CloseTask(ctx, ANALYST, task.id).run()
    assert closed.status == "closed" and closed.version == 5
    events = read_events(ctx.sql, [task.id])[task.id]
    assert [(e.step, e.actor, e.at - NOW, e.unit) for e in events] == [
        ("dispatched", "lin", 0, HEAD), ("signed", "wang", 23, HEAD), ("handled", "wang", 2 * 86400, HEAD),
        ("verified", "lin", 2 * 86400 + 88, HEAD), ("closed", "lin", 2 * 86400 + 89, HEAD)]
    assert events[2].photo == photo and (ctx.photos / photo).read_bytes() == png()
    assert events[2].note == "换了门机板 replaced the door board"
    audited = [(a["user"], a["action"]) for a in read_audit(ctx.sql)][::-1]
    assert audited == [("lin", "task_dispatched"), ("wang", "task_signed"), ("wang", "task_handled"),
                       ("lin", "task_verified"), ("lin", "task_closed")]
    assert [e.step for _, e in ctx.told] == [e.step for e in events]  # every step handed on, once


def test_down_the_levels_and_back_up(ctx, clock):
    task = dispatch(ctx, unit=SUBCENTRE)
    SignTask(ctx, SUB_PERSON, task.id).run()
    clock.tick(15)
    down = RedispatchTask(ctx, SUB_PERSON, task.id, unit=COMMITTEE).run()
    assert (down.status, down.unit, down.hop_due) == ("dispatched", COMMITTEE, NOW + 15 + 1800)
    SignTask(ctx, COMMITTEE_PERSON, task.id).run()
    with pytest.raises(DispatchError, match="is not below"):  # never sideways or up
        RedispatchTask(ctx, COMMITTEE_PERSON, task.id, unit="pukou.qiaolin/subcentre").run()
    back = ReturnTask(ctx, COMMITTEE_PERSON, task.id, "not our community: the road is the street's").run()
    assert (back.status, back.unit) == ("signed", SUBCENTRE)  # to whoever sent it, who had signed already
    top = ReturnTask(ctx, SUB_PERSON, task.id, "wrong street").run()
    assert (top.status, top.unit) == ("returned", CENTRE)  # sent from the wall: back to the wall
    again = RedispatchTask(ctx, ANALYST, task.id, unit=HEAD).run()
    assert (again.status, again.unit) == ("dispatched", HEAD)
    steps = [(e.step, e.from_unit, e.unit) for e in read_events(ctx.sql, [task.id])[task.id]]
    assert steps[2:] == [("redispatched", SUBCENTRE, COMMITTEE), ("signed", None, COMMITTEE),
                         ("returned", COMMITTEE, SUBCENTRE), ("returned", SUBCENTRE, CENTRE),
                         ("redispatched", CENTRE, HEAD)]


def test_an_unsigned_task_escalates_past_its_deadline(ctx, clock):
    task = dispatch(ctx)
    clock.tick(30 * 60)
    assert escalate_overdue(ctx) == []  # at the deadline, not past it
    clock.tick(1)
    [up] = escalate_overdue(ctx)
    assert (up.id, up.status, up.unit, up.hop_due) == (task.id, "dispatched", COMMITTEE, clock.now + 1800)
    assert escalate_overdue(ctx) == []  # once per deadline
    last = read_events(ctx.sql, [task.id])[task.id][-1]
    assert (last.step, last.actor, last.from_unit, last.note) == ("escalated", SYSTEM, HEAD,
                                                                  "past its sign deadline by 1 s")
    SignTask(ctx, COMMITTEE_PERSON, task.id).run()
    clock.tick(24 * 3600)  # not handled by the task's deadline either: up again, to the street
    [up] = escalate_overdue(ctx)
    assert up.unit == SUBCENTRE and "handling deadline" in read_events(ctx.sql, [task.id])[task.id][-1].note
    signed = SignTask(ctx, SUB_PERSON, task.id).run()
    assert signed.hop_due == clock.now + 24 * 3600  # the level backing up gets a fresh window


def test_escalation_stops_at_the_top(ctx, clock):
    task = dispatch(ctx, area="pukou", group=None)
    assert task.unit == CENTRE
    clock.tick(86400 * 3)
    assert escalate_overdue(ctx) == []
    with pytest.raises(DispatchError, match="is the top"):
        EscalateTask(ctx, ANALYST, task.id, "by hand").run()


def test_reopen_when_verification_fails(ctx, clock):
    task = dispatch(ctx)
    SignTask(ctx, HEAD_PERSON, task.id).run()
    HandleTask(ctx, HEAD_PERSON, task.id, "done").run()
    with pytest.raises(DispatchError) as refused:
        ReopenTask(ctx, ANALYST, task.id).run()
    assert refused.value.reasons == ["reason must be text, got NoneType"]
    again = ReopenTask(ctx, ANALYST, task.id, "the lift still stops between floors").run()
    assert (again.status, again.unit) == ("signed", HEAD)
    HandleTask(ctx, HEAD_PERSON, task.id, "door board and the brake").run()
    VerifyTask(ctx, ANALYST, task.id).run()
    assert CloseTask(ctx, ANALYST, task.id).run().status == "closed"


def test_illegal_steps_are_refused_with_a_reason(ctx):
    task = dispatch(ctx)
    cases = [
        (CloseTask(ctx, ANALYST, task.id), 409, "task 1 is dispatched; closed needs it verified"),
        (HandleTask(ctx, HEAD_PERSON, task.id, "x"), 409, "task 1 is dispatched; handled needs it signed"),
        (SignTask(ctx, SUB_PERSON, task.id), 403, f"zhao (responder) may not signed task 1: only a responder of "
                                                   f"{HEAD}"),
        (SignTask(ctx, ANALYST, task.id), 403, "lin (analyst) may not signed"),
        (VerifyTask(ctx, HEAD_PERSON, task.id), 403, "only an analyst or admin"),
        (SignTask(ctx, HEAD_PERSON, 999), 404, "no task 999"),
        (SignTask(ctx, HEAD_PERSON, "1"), 422, "task must be a task number, got '1'"),
    ]
    for command, status, reason in cases:
        with pytest.raises(DispatchError) as refused:
            command.run()
        assert refused.value.status == status and reason in str(refused.value), (reason, refused.value)
    assert read_task(ctx.sql, task.id).version == 1  # nothing moved
    assert [e.step for e in read_events(ctx.sql, [task.id])[task.id]] == ["dispatched"]


def test_a_bad_dispatch_lists_every_reason(ctx, clock):
    with pytest.raises(DispatchError) as refused:
        DispatchTask(ctx, ANALYST, area="nowhere", instruction="", task_type="survey", priority="asap",
                     due=NOW - 1, unit="nowhere/head", group="weather", value=float("nan")).run()
    assert refused.value.reasons == [
        "unknown area 'nowhere'", "unknown task type 'survey' (one of inspect, repair, urgent)",
        "priority must be one of low, normal, high, urgent, got 'asap'", "unknown domain or panel 'weather'",
        "instruction is empty", "value must be a finite number, got nan",
        f"deadline {NOW - 1:.0f} is in the past (now {NOW:.0f})", "unknown unit 'nowhere/head'"]
    with pytest.raises(DispatchError, match="may not dispatch: analyst or admin only"):
        DispatchTask(ctx, Actor("v", "viewer"), area=GRID, instruction="x").run()
    with pytest.raises(DispatchError, match="may not dispatch"):
        DispatchTask(ctx, HEAD_PERSON, area=GRID, instruction="x").run()
    assert read_audit(ctx.sql) == []


def test_two_people_step_at_once_one_wins(ctx):
    task = dispatch(ctx)
    first, second = SignTask(ctx, HEAD_PERSON, task.id), SignTask(ctx, Actor("admin", "admin"), task.id)
    first.validate(), second.validate()
    first.run()
    with pytest.raises(DispatchError, match="is signed"):
        second.run()
    assert [e.step for e in read_events(ctx.sql, [task.id])[task.id]] == ["dispatched", "signed"]


def test_a_failing_listener_never_undoes_a_step(sqlite_engine, routing, clock):
    def broken(task, event, history):
        raise RuntimeError("webhook down")

    ctx = DispatchContext(sqlite_engine, routing, clock, [broken])
    task = dispatch(ctx)
    assert SignTask(ctx, HEAD_PERSON, task.id).run().status == "signed"


def test_tasks_survive_on_postgresql(postgres_engine, routing, clock):
    ctx = DispatchContext(postgres_engine, routing, clock)
    task = dispatch(ctx)
    SignTask(ctx, HEAD_PERSON, task.id).run()
    clock.tick(3600)
    HandleTask(ctx, HEAD_PERSON, task.id, "ok").run()
    assert read_task(postgres_engine, task.id).status == "handled"
    assert [e.at - NOW for e in read_events(postgres_engine, [task.id])[task.id]] == [0, 0, 3600]
