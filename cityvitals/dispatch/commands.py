"""Every action on a task as one command: ``validate()`` checks, ``run()`` does it.

``validate()`` checks the input and the actor's rights and raises one DispatchError listing every
reason; ``run()`` takes the step, writes the event, audits it and hands the event on (to the
work-order pipeline, to webhooks) through the context's ``notify``.

The Dash callbacks, the HTTP API and the ``cityvitals task`` command all call these, so nothing is
checked in one door and not in another. Who may do what:

- dispatch, verify, close, reopen: an analyst or admin (the dispatching level, at the wall);
- sign, re-dispatch down, return, handle: a responder bound to the unit holding the task (or an admin);
- escalate by hand: either of them; past a deadline the escalation job does it as ``system``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Connection
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.dispatch.photos import PhotoError, check_photo, photo_problem, save_photo
from cityvitals.dispatch.routing import GROUPS, Routing, Unit
from cityvitals.dispatch.tasks import (
    PRIORITIES,
    Conflict,
    Task,
    TaskEvent,
    insert_task,
    overdue_tasks,
    read_events,
    read_task,
    write_step,
)
from cityvitals.text import shown, text_problem
from cityvitals.users import audit, role_at_least

log = logging.getLogger(__name__)
MAX_NOTE = 500
SYSTEM = "system"  # the actor of automatic escalations
RESPONDER = "responder"


@dataclass(frozen=True)
class Actor:
    """Who takes a step: their name, role and (for a responder) the units they are bound to."""

    name: str
    role: str | None
    units: frozenset[str] = frozenset()

    @property
    def dispatcher(self) -> bool:
        """Whether they act for the dispatching level (analyst or admin)."""
        return role_at_least(self.role, "analyst")

    def holds(self, unit: str) -> bool:
        """Whether they may act for ``unit`` (bound to it, or an admin)."""
        return self.role == "admin" or (self.role == RESPONDER and unit in self.units)


class DispatchError(ValueError):
    """A command was refused; ``reasons`` lists every reason, ``status`` is the HTTP answer it deserves."""

    def __init__(self, reasons: list[str], status: int = 422) -> None:
        super().__init__("; ".join(reasons))
        self.reasons, self.status = reasons, status


Notify = Callable[[Task, TaskEvent, Sequence[TaskEvent]], None]  # the task, its new event, all its events


@dataclass
class DispatchContext:
    """What every command needs: SQL, the routing table, a clock (tests move it) and who hears of events."""

    sql: SqlEngine
    routing: Routing
    clock: Callable[[], float] = time.time
    notify: list[Notify] = field(default_factory=list)
    photos: Path | None = None  # where uploaded photos are kept (None: no photos)

    def tell(self, task: Task, event: TaskEvent, history: Sequence[TaskEvent]) -> None:
        """Hand an event on with the task's events so far; a listener that fails is logged, never undoes the step."""
        for listener in self.notify:
            try:
                listener(task, event, history)
            except Exception:  # noqa: BLE001 - one broken listener must not stop the others or the step
                log.exception("task %s: a listener failed on %s", task.id, event.step)


def _note_problem(note: Any, what: str, required: bool) -> str | None:
    if note in (None, "") and not required:
        return None
    return text_problem(note, what, MAX_NOTE)


def _number_problem(value: Any, what: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{what} must be a finite number, got {shown(value)}"
    return None


class DispatchTask:
    """Create a task for an area (answering a warning, or not) and send it to the responsible unit."""

    def __init__(self, ctx: DispatchContext, actor: Actor, *, area: Any, instruction: Any,
                 task_type: Any = None, priority: Any = "normal", due: Any = None, unit: Any = None,
                 indicator: Any = None, group: Any = None, value: Any = None, threshold: Any = None,
                 warning_state: Any = None, warning_since: Any = None) -> None:
        self.ctx, self.actor = ctx, actor
        self.input = dict(area=area, instruction=instruction, task_type=task_type, priority=priority, due=due,
                          unit=unit, indicator=indicator, group=group, value=value, threshold=threshold,
                          warning_state=warning_state, warning_since=warning_since)

    def validate(self) -> tuple[Unit, dict]:
        """The unit and the task's values; DispatchError with every reason otherwise."""
        i, routing, now = self.input, self.ctx.routing, self.ctx.clock()
        reasons: list[str] = []
        if not self.actor.dispatcher:
            raise DispatchError([f"{self.actor.name} ({self.actor.role}) may not dispatch: analyst or admin only"],
                                403)
        if not isinstance(i["area"], str) or i["area"] not in routing.tree:
            reasons.append(f"unknown area {shown(i['area'])}")
        task_type = i["task_type"] or routing.spec.default_type
        if task_type not in routing.task_types:
            reasons.append(f"unknown task type {shown(task_type)} (one of {', '.join(routing.task_types)})")
        if i["priority"] not in PRIORITIES:
            reasons.append(f"priority must be one of {', '.join(PRIORITIES)}, got {shown(i['priority'])}")
        if i["group"] is not None and i["group"] not in GROUPS:
            reasons.append(f"unknown domain or panel {shown(i['group'])}")
        for name in ("indicator", "warning_state"):
            if i[name] is not None and text_problem(i[name], name, 64):
                reasons.append(text_problem(i[name], name, 64))
        reasons += [p for p in (_note_problem(i["instruction"], "instruction", True),
                                *(_number_problem(i[k], k) for k in ("value", "threshold", "warning_since", "due")))
                    if p]
        if _number_problem(i["due"], "due") is None and i["due"] is not None and i["due"] <= now:
            reasons.append(f"deadline {i['due']:.0f} is in the past (now {now:.0f})")
        unit = None
        if i["unit"] is not None:
            unit = routing.unit(i["unit"]) if isinstance(i["unit"], str) else None
            if unit is None:
                reasons.append(f"unknown unit {shown(i['unit'])}")
        if reasons:
            raise DispatchError(reasons)
        unit = unit or routing.route(i["area"], i["group"])
        sign_s, handle_s = routing.deadlines_s(task_type)
        due = float(i["due"]) if i["due"] is not None else now + handle_s
        values = {k: i[k] for k in ("area", "priority", "indicator", "group", "value", "threshold",
                                    "warning_state", "warning_since")}
        values.update(task_type=task_type, instruction=i["instruction"].strip(), created_at=now, unit=unit.id,
                      status="dispatched", dispatcher=self.actor.name, due=due, hop_due=min(due, now + sign_s),
                      step_at=now)
        return unit, values

    def run(self) -> Task:
        """Create the task with its ``dispatched`` event; the task as stored."""
        unit, values = self.validate()
        event = TaskEvent(0, values["created_at"], "dispatched", self.actor.name, unit.id,
                          note=values["instruction"])
        task = insert_task(self.ctx.sql, values, event, lambda conn, task: audit(
            conn, self.actor.name, "task_dispatched", task=task.id, area=task.area, unit=unit.id,
            indicator=task.indicator, due=round(task.due)))
        first = replace(event, task_id=task.id)
        self.ctx.tell(task, first, [first])
        return task


class StepCommand:
    """One step of an existing task; subclasses say from which statuses, by whom, and what changes."""

    step: ClassVar[str]
    from_statuses: ClassVar[tuple[str, ...]]
    by_unit: ClassVar[bool] = False  # the holding unit's people take it (else the dispatching level)

    def __init__(self, ctx: DispatchContext, actor: Actor, task_id: Any, note: Any = None, **extra: Any) -> None:
        self.ctx, self.actor, self.task_id, self.note, self.extra = ctx, actor, task_id, note, extra
        self.events: list[TaskEvent] = []  # the task's events once run() has taken the step

    def validate(self) -> Task:
        """The task as checked; DispatchError with every reason the step is refused."""
        if isinstance(self.task_id, bool) or not isinstance(self.task_id, int):
            raise DispatchError([f"task must be a task number, got {shown(self.task_id)}"])
        task = read_task(self.ctx.sql, self.task_id)
        if task is None:
            raise DispatchError([f"no task {self.task_id}"], 404)
        if not self.may(task):
            who = "a responder of " + task.unit if self.by_unit else "an analyst or admin"
            raise DispatchError([f"{self.actor.name} ({self.actor.role}) may not {self.step} task {task.id}: "
                                 f"only {who}"], 403)
        reasons = []
        if task.status not in self.from_statuses:
            reasons.append(f"task {task.id} is {task.status}; {self.step} needs it "
                           f"{' or '.join(self.from_statuses)}")
        reasons += self.problems(task)
        if reasons:
            raise DispatchError(reasons, 409 if task.status not in self.from_statuses else 422)
        return task

    def may(self, task: Task) -> bool:
        """Whether the actor may take this step on this task."""
        return self.actor.holds(task.unit) if self.by_unit else self.actor.dispatcher

    def problems(self, task: Task) -> list[str]:
        """What else is wrong with the input (none by default)."""
        return []

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        """The task's new values and the step's event."""
        raise NotImplementedError

    def run(self) -> Task:
        """Take the step; the task as it is after it."""
        task = self.validate()
        now = self.ctx.clock()
        values, event = self.changes(task, now)
        def audited(conn: Connection, after: Task) -> None:
            audit(conn, self.actor.name, f"task_{self.step}", task=task.id, unit=event.unit,
                  from_unit=event.from_unit, status=after.status, note=event.note)

        try:
            after, self.events = write_step(self.ctx.sql, task, {"step_at": now, **values}, event, audited)
        except Conflict as exc:
            raise DispatchError([str(exc)], 409) from None
        self.ctx.tell(after, event, self.events)
        return after

    def event(self, task: Task, now: float, unit: str | None = None, from_unit: str | None = None,
              photo: str | None = None) -> TaskEvent:
        """Make this step's event on ``task`` at ``now``."""
        return TaskEvent(task.id, now, self.step, self.actor.name, unit or task.unit, from_unit,
                         (self.note or "").strip(), photo, self.extra.get("answer_key"))

    def handle_window(self, task: Task, now: float) -> float:
        """The deadline to handle: the task's, or a fresh window if that has passed (the level backing up)."""
        return task.due if task.due > now else now + self.ctx.routing.deadlines_s(task.task_type)[1]

    def sign_window(self, task: Task, now: float) -> float:
        """The deadline to sign a task just sent to a unit."""
        return now + self.ctx.routing.deadlines_s(task.task_type)[0]


class SignTask(StepCommand):
    """The holding unit signs for the task (签收)."""

    step, from_statuses, by_unit = "signed", ("dispatched",), True

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        return {"status": "signed", "hop_due": self.handle_window(task, now)}, self.event(task, now)


class RedispatchTask(StepCommand):
    """Send the task down to a unit below the one holding it (or, once returned, to any unit)."""

    step, from_statuses, by_unit = "redispatched", ("signed", "returned"), True

    def may(self, task: Task) -> bool:
        return self.actor.holds(task.unit) or (task.status == "returned" and self.actor.dispatcher)

    def problems(self, task: Task) -> list[str]:
        target = self.extra.get("unit")
        unit = self.ctx.routing.unit(target) if isinstance(target, str) else None
        if unit is None:
            return [f"unknown unit {shown(target)}"]
        holder = self.ctx.routing.unit(task.unit)
        if task.status != "returned" and (holder is None or not self.ctx.routing.is_below(unit, holder)):
            return [f"{unit.id} is not below {task.unit}: re-dispatch goes down a level (escalate goes up)"]
        if unit.id == task.unit:
            return [f"task {task.id} is at {unit.id} already"]
        return [p for p in [_note_problem(self.note, "note", False)] if p]

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        target = self.extra["unit"]
        return ({"status": "dispatched", "unit": target, "hop_due": self.sign_window(task, now)},
                self.event(task, now, target, task.unit))


class ReturnTask(StepCommand):
    """The holding unit hands the task back up with a reason (wrong unit): to whoever sent it there."""

    step, from_statuses, by_unit = "returned", ("dispatched", "signed"), True

    def problems(self, task: Task) -> list[str]:
        return [p for p in [_note_problem(self.note, "reason", True)] if p]

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        sender = next((e.from_unit for e in reversed(read_events(self.ctx.sql, [task.id])[task.id])
                       if e.unit == task.unit and e.step in ("dispatched", "redispatched", "escalated")), None)
        if sender is None:  # sent from the wall: back to the district centre, for the wall to send anew
            top = self.ctx.routing.area_unit(self.ctx.routing.root).id
            return ({"status": "returned", "unit": top, "hop_due": self.sign_window(task, now)},
                    self.event(task, now, top, task.unit))
        return ({"status": "signed", "unit": sender, "hop_due": self.handle_window(task, now)},
                self.event(task, now, sender, task.unit))


class HandleTask(StepCommand):
    """The holding unit reports the task handled, with a note and optionally a photo (处置)."""

    step, from_statuses, by_unit = "handled", ("signed",), True

    def problems(self, task: Task) -> list[str]:
        photo = self.extra.get("photo")
        bad_photo = photo is not None and photo_problem(self.ctx.photos, task.id, photo)
        return [p for p in [_note_problem(self.note, "note", True), bad_photo] if p]

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        return ({"status": "handled", "hop_due": self.sign_window(task, now)},
                self.event(task, now, photo=self.extra.get("photo")))


class VerifyTask(StepCommand):
    """The dispatching level checks the work was done (核查)."""

    step, from_statuses = "verified", ("handled",)

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        return {"status": "verified"}, self.event(task, now)


class CloseTask(StepCommand):
    """The dispatching level closes a verified task (办结); an unverified one cannot be closed."""

    step, from_statuses = "closed", ("verified",)

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        return {"status": "closed"}, self.event(task, now)


class ReopenTask(StepCommand):
    """Verification failed: back to the unit that handled it, to handle again, with a reason."""

    step, from_statuses = "reopened", ("handled", "verified")

    def problems(self, task: Task) -> list[str]:
        return [p for p in [_note_problem(self.note, "reason", True)] if p]

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        return {"status": "signed", "hop_due": self.handle_window(task, now)}, self.event(task, now)


class EscalateTask(StepCommand):
    """Send the task one level up ("the second level backs up"): by hand, or past a deadline as ``system``."""

    step, from_statuses, by_unit = "escalated", ("dispatched", "signed"), True

    def may(self, task: Task) -> bool:
        return self.actor.name == SYSTEM or self.actor.holds(task.unit) or self.actor.dispatcher

    def problems(self, task: Task) -> list[str]:
        holder = self.ctx.routing.unit(task.unit)
        if holder is None or self.ctx.routing.parent(holder) is None:
            return [f"{task.unit} is the top: there is no level above to escalate to"]
        return [p for p in [_note_problem(self.note, "reason", True)] if p]

    def changes(self, task: Task, now: float) -> tuple[dict, TaskEvent]:
        above = self.ctx.routing.parent(self.ctx.routing.unit(task.unit)).id
        return ({"status": "dispatched", "unit": above, "hop_due": self.sign_window(task, now)},
                self.event(task, now, above, task.unit))


class AddPhoto:
    """Keep a photo for a task, as evidence its handle step may name: by the holding unit, checked by Pillow."""

    def __init__(self, ctx: DispatchContext, actor: Actor, task_id: int, data: bytes) -> None:
        self.ctx, self.actor, self.task_id, self.data = ctx, actor, task_id, data

    def validate(self) -> Task:
        """The task the photo is for; DispatchError if there is none, it is not the actor's, or not an image."""
        task = read_task(self.ctx.sql, self.task_id)
        if task is None or self.ctx.photos is None:
            raise DispatchError([f"no task {self.task_id}" if task is None else "this server keeps no photos"], 404)
        if not self.actor.holds(task.unit):
            raise DispatchError([f"only a responder of {task.unit} may add a photo"], 403)
        try:
            check_photo(self.data)
        except PhotoError as exc:
            raise DispatchError([str(exc)]) from None
        return task

    def run(self) -> str:
        """Store the photo; the name the handle step names it by."""
        return save_photo(self.ctx.photos, self.validate().id, self.data)


STEPS: dict[str, type[StepCommand]] = {c.step: c for c in (
    SignTask, RedispatchTask, ReturnTask, HandleTask, VerifyTask, CloseTask, ReopenTask, EscalateTask)}
# what a person asks for -> the command (the event names are past tense, the actions are verbs)
ACTIONS: dict[str, type[StepCommand]] = {
    "sign": SignTask, "redispatch": RedispatchTask, "return": ReturnTask, "handle": HandleTask,
    "verify": VerifyTask, "close": CloseTask, "reopen": ReopenTask, "escalate": EscalateTask}


def escalate_overdue(ctx: DispatchContext) -> list[Task]:
    """Escalate every task past its signing or handling deadline one level up; the tasks escalated.

    Run periodically (APScheduler in the web process); a task someone stepped meanwhile is skipped.
    """
    now, top = ctx.clock(), ctx.routing.area_unit(ctx.routing.root).id
    escalated = []
    for task in overdue_tasks(ctx.sql, now, top):
        what = "sign" if task.status == "dispatched" else "handling"
        reason = f"past its {what} deadline by {now - task.hop_due:.0f} s"
        try:
            escalated.append(EscalateTask(ctx, Actor(SYSTEM, None), task.id, reason).run())
        except DispatchError as exc:
            log.info("task %s not escalated: %s", task.id, exc)
    return escalated
