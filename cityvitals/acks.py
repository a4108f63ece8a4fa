"""Acknowledgements of warnings, in SQL: who saw a warning episode, when, and what they said."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Float, Index, Integer, String, Text, select
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Mapped, mapped_column

from cityvitals.db import Base

MAX_COMMENT = 500


class WarningAck(Base):
    """One acknowledgement of one warning episode (an indicator in an area since a time)."""

    __tablename__ = "warning_ack"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    indicator: Mapped[str] = mapped_column(String(64))
    area: Mapped[str] = mapped_column(String(64))
    since: Mapped[float] = mapped_column(Float)  # the episode: when the warning state began
    user: Mapped[str] = mapped_column(String(64))
    comment: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_warning_ack_episode", "indicator", "area", "since"),)


def acknowledge(sql: SqlEngine, indicator: str, area: str, since: float, user: str, comment: str) -> None:
    """Record an acknowledgement; a comment longer than MAX_COMMENT characters is refused."""
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"comment has {len(comment)} characters; at most {MAX_COMMENT}")
    with sql.begin() as conn:
        conn.execute(WarningAck.__table__.insert().values(
            at=datetime.now(UTC), indicator=indicator, area=area, since=since, user=user, comment=comment))


def read_acks(sql: SqlEngine, indicators: set[str]) -> dict[tuple[str, str, float], dict]:
    """Acknowledgements of the given indicators, keyed by episode; the newest one per episode wins."""
    if not indicators:
        return {}
    t = WarningAck.__table__
    with sql.connect() as conn:
        rows = conn.execute(select(t).where(t.c.indicator.in_(sorted(indicators))).order_by(t.c.id)).mappings()
        return {(r["indicator"], r["area"], round(r["since"], 3)): dict(r) for r in rows}
