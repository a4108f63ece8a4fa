"""Tasks and task events as plain records, read from and written to SQL.

A step is written as one transaction: the task row is updated only if its version is the one the
step was checked against (two people signing at once: one wins, the other hears why), and the
event row goes in beside it, so a task never moves without its event nor an event without its move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields

from sqlalchemy import Connection, func, or_, select, update
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.dispatch.sql import ResponderUnitRow, TaskEventRow, TaskRow

STATUSES = ("dispatched", "signed", "handled", "verified", "closed", "returned")
OPEN = ("dispatched", "signed", "handled", "verified", "returned")
PRIORITIES = ("low", "normal", "high", "urgent")


@dataclass(frozen=True)
class Task:
    """One task as stored."""

    id: int
    created_at: float
    area: str
    unit: str
    status: str
    priority: str
    task_type: str
    indicator: str | None
    group: str | None
    value: float | None
    threshold: float | None
    warning_state: str | None
    warning_since: float | None
    instruction: str
    dispatcher: str
    due: float
    hop_due: float
    step_at: float
    version: int

    def as_dict(self) -> dict:
        """The task as JSON-ready values."""
        return asdict(self)


@dataclass(frozen=True)
class TaskEvent:
    """One step of one task."""

    task_id: int
    at: float
    step: str
    actor: str
    unit: str
    from_unit: str | None = None
    note: str = ""
    photo: str | None = None
    answer_key: str | None = None  # set when another system's answer made the step

    def as_dict(self) -> dict:
        """The event as JSON-ready values."""
        return asdict(self)


_TASK_FIELDS = tuple(f.name for f in fields(Task))
_EVENT_FIELDS = tuple(f.name for f in fields(TaskEvent))


class Conflict(RuntimeError):
    """The task changed between the check and the write."""


InTransaction = Callable[[Connection, "Task"], None]  # more to write with a step (its audit entry)


def insert_task(sql: SqlEngine, values: dict, event: TaskEvent, also: InTransaction | None = None) -> Task:
    """Create a task with its first event (and ``also``, in the same transaction); the task as stored."""
    with sql.begin() as conn:
        task_id = conn.execute(TaskRow.__table__.insert().values(version=1, **values)).inserted_primary_key[0]
        ev = {**event.as_dict(), "task_id": task_id}
        conn.execute(TaskEventRow.__table__.insert().values(**ev))
        task = _task(conn, task_id)
        if also is not None:
            also(conn, task)
        return task


def write_step(sql: SqlEngine, task: Task, changes: dict, event: TaskEvent,
               also: InTransaction | None = None) -> tuple[Task, list[TaskEvent]]:
    """Apply one step to a task checked at ``task.version``; the task after it and all its events.

    ``also`` writes in the same transaction (one commit per step: the step is what a responder waits
    for). Conflict if someone stepped the task meanwhile.
    """
    t = TaskRow.__table__
    with sql.begin() as conn:
        done = conn.execute(update(t).where(t.c.id == task.id, t.c.version == task.version)
                            .values(version=task.version + 1, **changes)).rowcount
        if done != 1:
            raise Conflict(f"task {task.id} changed meanwhile; reload it and try again")
        conn.execute(TaskEventRow.__table__.insert().values(**event.as_dict()))
        after = _task(conn, task.id)
        if also is not None:
            also(conn, after)
        return after, _events(conn, [task.id])[task.id]


def _task(conn: Connection, task_id: int) -> Task | None:
    row = conn.execute(select(TaskRow.__table__).where(TaskRow.__table__.c.id == task_id)).mappings().first()
    return None if row is None else Task(**{k: row[k] for k in _TASK_FIELDS})


def answered(sql: SqlEngine, key: str) -> TaskEvent | None:
    """The step an answer with this Idempotency-Key made, if one did."""
    t = TaskEventRow.__table__
    with sql.connect() as conn:
        row = conn.execute(select(t).where(t.c.answer_key == key)).mappings().first()
    return None if row is None else TaskEvent(**{k: row[k] for k in _EVENT_FIELDS})


def read_task(sql: SqlEngine, task_id: int) -> Task | None:
    """The task with this id, or None."""
    with sql.connect() as conn:
        return _task(conn, task_id)


def read_events(sql: SqlEngine, task_ids: Iterable[int]) -> dict[int, list[TaskEvent]]:
    """The events of the given tasks, oldest first, by task."""
    with sql.connect() as conn:
        return _events(conn, task_ids)


def _events(conn: Connection, task_ids: Iterable[int]) -> dict[int, list[TaskEvent]]:
    ids = sorted(set(task_ids))
    out: dict[int, list[TaskEvent]] = {i: [] for i in ids}
    if not ids:
        return out
    t = TaskEventRow.__table__
    for row in conn.execute(select(t).where(t.c.task_id.in_(ids)).order_by(t.c.id)).mappings():
        out[row["task_id"]].append(TaskEvent(**{k: row[k] for k in _EVENT_FIELDS}))
    return out


def list_tasks(sql: SqlEngine, *, units: Iterable[str] | None = None, statuses: Iterable[str] | None = None,
               areas: Iterable[str] | None = None, limit: int = 200) -> list[Task]:
    """Tasks (newest first), of some units (held now or on the way), statuses or areas."""
    t, e = TaskRow.__table__, TaskEventRow.__table__
    query = select(t).order_by(t.c.id.desc()).limit(limit)
    if units is not None:
        units = sorted(set(units))
        passed = select(e.c.task_id).where(or_(e.c.unit.in_(units), e.c.from_unit.in_(units)))
        query = query.where(or_(t.c.unit.in_(units), t.c.id.in_(passed)))
    if statuses is not None:
        query = query.where(t.c.status.in_(sorted(set(statuses))))
    if areas is not None:
        query = query.where(t.c.area.in_(sorted(set(areas))))
    with sql.connect() as conn:
        return [Task(**{k: r[k] for k in _TASK_FIELDS}) for r in conn.execute(query).mappings()]


def open_by_area(sql: SqlEngine) -> dict[str, int]:
    """How many open tasks each area has (one grouped query: the wall's map asks at every refresh)."""
    t = TaskRow.__table__
    query = select(t.c.area, func.count()).where(t.c.status.in_(OPEN)).group_by(t.c.area)
    with sql.connect() as conn:
        return {area: n for area, n in conn.execute(query)}


def overdue_tasks(sql: SqlEngine, now: float, top_unit: str, limit: int = 500) -> list[Task]:
    """Tasks waiting to be signed or handled past their step's deadline, except those already at the top."""
    t = TaskRow.__table__
    query = (select(t).where(t.c.status.in_(("dispatched", "signed")), t.c.hop_due < now, t.c.unit != top_unit)
             .order_by(t.c.hop_due).limit(limit))
    with sql.connect() as conn:
        return [Task(**{k: r[k] for k in _TASK_FIELDS}) for r in conn.execute(query).mappings()]


def responder_units(sql: SqlEngine, user_id: int) -> frozenset[str]:
    """The units a responder is bound to."""
    t = ResponderUnitRow.__table__
    with sql.connect() as conn:
        return frozenset(conn.execute(select(t.c.unit).where(t.c.user_id == user_id)).scalars())


def bind_units(sql: SqlEngine, user_id: int, units: Iterable[str]) -> None:
    """Bind a responder to exactly these units (replacing what they had)."""
    t = ResponderUnitRow.__table__
    with sql.begin() as conn:
        conn.execute(t.delete().where(t.c.user_id == user_id))
        for unit in sorted(set(units)):
            conn.execute(t.insert().values(user_id=user_id, unit=unit))
