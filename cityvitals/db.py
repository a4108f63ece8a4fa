"""SQL side of the store: engine creation and the declarative base every table shares."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base for all City Vitals tables."""


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL so readers never block the engine's writes."""
    engine = create_engine(url, pool_pre_ping=True, future=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def create_schema(engine: Engine) -> None:
    """Create every table that is not there yet (all models must be imported first).

    Several processes starting together (two engine workers, gunicorn workers) race between
    create_all's existence check and its CREATE TABLE; the loser sees "already exists" and
    checks again. Each lost race means some table now exists, so one more try than there are
    tables always ends.
    """
    from cityvitals import tables  # noqa: F401  (registers the models on Base)

    tries = len(Base.metadata.tables) + 1
    for attempt in range(tries):
        try:
            Base.metadata.create_all(engine)
            return
        except (exc.OperationalError, exc.ProgrammingError, exc.IntegrityError):
            if attempt == tries - 1:
                raise
