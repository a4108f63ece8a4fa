"""Tasks, their events and the responders' units, in SQL (times as Unix seconds, like acknowledgements)."""

from __future__ import annotations

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityvitals.db import Base

UNIT_WIDTH = 112  # an area id (64) plus "/" plus a suffix (16), or a department id (48)
ANSWER_KEY_WIDTH = 96  # as the webhook's own keys


class TaskRow(Base):
    """One dispatched task: where, why (the warning it answers), who holds it now and until when."""

    __tablename__ = "dispatch_task"
    __table_args__ = (Index("ix_dispatch_task_status_hop_due", "status", "hop_due"),
                      {"sqlite_autoincrement": True})  # a task number is never handed out twice
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[float] = mapped_column(Float)
    area: Mapped[str] = mapped_column(String(64), index=True)
    unit: Mapped[str] = mapped_column(String(UNIT_WIDTH), index=True)  # who holds it now
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16))
    task_type: Mapped[str] = mapped_column(String(32))
    indicator: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group: Mapped[str | None] = mapped_column(String(32), nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    warning_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    warning_since: Mapped[float | None] = mapped_column(Float, nullable=True)
    instruction: Mapped[str] = mapped_column(Text, default="")
    dispatcher: Mapped[str] = mapped_column(String(64))
    due: Mapped[float] = mapped_column(Float)  # the task's deadline to be handled
    hop_due: Mapped[float] = mapped_column(Float)  # the current step's deadline (to sign, or to handle)
    step_at: Mapped[float] = mapped_column(Float)  # when the current step began
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every step: two at once, one wins


class TaskEventRow(Base):
    """One step of one task: what, by whom, when, and where the task went."""

    __tablename__ = "dispatch_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    step: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(UNIT_WIDTH))  # who holds the task after the step
    from_unit: Mapped[str | None] = mapped_column(String(UNIT_WIDTH), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    photo: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # the Idempotency-Key of the answer (from another system) that made this step: the same answer twice, one step
    answer_key: Mapped[str | None] = mapped_column(String(ANSWER_KEY_WIDTH), nullable=True, unique=True)


class ResponderUnitRow(Base):
    """A responder's binding to one unit: they see and step that unit's tasks."""

    __tablename__ = "dispatch_responder"
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str] = mapped_column(String(UNIT_WIDTH), primary_key=True)
