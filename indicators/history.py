"""SQL tables the engine writes: the warnings log (state transitions) and coarse history."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, delete, func, insert, or_, select
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Mapped, mapped_column

from cityvitals.db import Base
from cityvitals.store import WarningKey


def utc(ts: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, UTC)


class WarningLog(Base):
    """One state change of one indicator in one area."""

    __tablename__ = "warning_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    indicator: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str] = mapped_column(String(8))
    to_state: Mapped[str] = mapped_column(String(8))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    yellow: Mapped[str] = mapped_column(String(40))
    red: Mapped[str] = mapped_column(String(40))
    __table_args__ = (Index("ix_warning_log_ind_area", "indicator", "area"),)


class History(Base):
    """Indicator value and state at one area, one row per indicator per history step."""

    __tablename__ = "indicator_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    indicator: Mapped[str] = mapped_column(String(64))
    area: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    state: Mapped[str] = mapped_column(String(8))
    __table_args__ = (Index("ix_history_ind_area_at", "indicator", "area", "at"),)


class DomainHistory(Base):
    """Domain scores (and the health index, as domain ``health``) of one area at one history step."""

    __tablename__ = "domain_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    area: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (Index("ix_domain_history_area_at", "area", "at"),)


class CatalogEvent(Base):
    """Result of each catalog (re)load, so the dashboard can show the last one and its errors."""

    __tablename__ = "catalog_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[str] = mapped_column(String(32))
    ok: Mapped[bool] = mapped_column()
    errors: Mapped[str] = mapped_column(Text, default="")


def log_transitions(sql: SqlEngine, rows: list[dict]) -> None:
    """Append state changes to the warnings log in one statement."""
    if rows:
        with sql.begin() as conn:
            conn.execute(insert(WarningLog), rows)


def unlogged(sql: SqlEngine, warnings: list[dict]) -> list[dict]:
    """Warning-log rows for the warnings (records from Redis) whose change into their state was never logged.

    An engine that died between writing states to Redis and logging them to SQL leaves such
    warnings; the engine taking over logs them at their ``since``, from the last state logged
    for the cell (``stale`` if none: what a first judgement logs).
    """
    if not warnings:
        return []
    keys = {WarningKey.of(w) for w in warnings}
    q = (select(WarningLog.indicator, WarningLog.area, WarningLog.to_state, WarningLog.at)
         .where(WarningLog.indicator.in_({i for i, _ in keys}), WarningLog.area.in_({a for _, a in keys}))
         .order_by(WarningLog.at, WarningLog.id))
    last: dict[tuple[str, str], tuple[str, datetime]] = {}
    with sql.connect() as conn:
        for ind, area, to_state, at in conn.execute(q):
            last[(ind, area)] = (to_state, at if at.tzinfo else at.replace(tzinfo=UTC))
    rows = []
    for w in warnings:
        key = WarningKey.of(w)
        state, at = last.get(key, ("stale", None))
        if state == w["s"] and at is not None and abs(at.timestamp() - w["since"]) < 1:
            continue
        rows.append({"at": utc(w["since"]), "indicator": key.indicator, "level": w["level"], "area": key.area,
                     "from_state": state, "to_state": w["s"], "value": w.get("v"), "yellow": w["y"], "red": w["r"]})
    return rows


def append_history(sql: SqlEngine, rows: list[dict], retention_s: float, now: float,
                   table: type[History] | type[DomainHistory] = History) -> None:
    """Append history rows (indicator values, or domain scores) and drop those older than the retention."""
    with sql.begin() as conn:
        if rows:
            conn.execute(insert(table), rows)
        conn.execute(delete(table).where(table.at < utc(now - retention_s)))


def read_domain_history(sql: SqlEngine, area: str, since: float) -> dict[str, list[float | None]]:
    """Scores of one area since a time, oldest first: domain (or ``health``) -> scores."""
    q = (select(DomainHistory.domain, DomainHistory.score)
         .where(DomainHistory.area == area, DomainHistory.at >= utc(since)).order_by(DomainHistory.at))
    out: dict[str, list[float | None]] = {}
    with sql.connect() as conn:
        for domain, score in conn.execute(q):
            out.setdefault(domain, []).append(score)
    return out


def read_history(sql: SqlEngine, indicator: str, area: str, since: float) -> list[tuple[datetime, float | None, str]]:
    """History of one indicator in one area since a time, oldest first."""
    q = (select(History.at, History.value, History.state)
         .where(History.indicator == indicator, History.area == area, History.at >= utc(since))
         .order_by(History.at))
    with sql.connect() as conn:
        return [tuple(r) for r in conn.execute(q)]


def read_values_at_step(sql: SqlEngine, area: str, since: float) -> dict[str, float | None]:
    """Values of every indicator of one area at the first history step at or after ``since``: indicator -> value.

    Two lookups on the time index (a step's rows share one time), so it stays cheap however long the history.
    """
    with sql.connect() as conn:
        step = conn.execute(select(func.min(History.at)).where(History.at >= utc(since))).scalar()
        if step is None:
            return {}
        rows = conn.execute(select(History.indicator, History.value).where(History.at == step, History.area == area))
        return {indicator: value for indicator, value in rows}


def read_transitions(sql: SqlEngine, indicator: str | None = None, area: str | None = None,
                     limit: int = 200, states: Collection[str] | None = None, level: str | None = None,
                     indicators: Collection[str] | None = None) -> list[dict]:
    """Most recent state changes, newest first, optionally for one indicator and/or area.

    ``states``: only changes into or out of one of them (the warnings among a start-up's tens of
    thousands of cells leaving stale); ``level``: at that level; ``indicators``: of those indicators.
    """
    q = select(WarningLog).order_by(WarningLog.at.desc(), WarningLog.id.desc()).limit(limit)
    if indicator:
        q = q.where(WarningLog.indicator == indicator)
    if area:
        q = q.where(WarningLog.area == area)
    if states is not None:
        q = q.where(or_(WarningLog.from_state.in_(list(states)), WarningLog.to_state.in_(list(states))))
    if level:
        q = q.where(WarningLog.level == level)
    if indicators is not None:
        q = q.where(WarningLog.indicator.in_(list(indicators)))
    with sql.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def log_catalog_event(sql: SqlEngine, version: str, errors: list[str]) -> None:
    """Log one catalog check: the version it found and its errors (none: the catalog was good)."""
    with sql.begin() as conn:
        conn.execute(insert(CatalogEvent).values(at=datetime.now(UTC), version=version, ok=not errors,
                                                 errors="\n".join(errors)))


def read_catalog_events(sql: SqlEngine, limit: int = 20) -> list[dict]:
    """The newest catalog checks that changed something, newest first."""
    q = select(CatalogEvent).order_by(CatalogEvent.id.desc()).limit(limit)
    with sql.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
