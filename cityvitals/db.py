"""SQL side of the store: engine creation, the declarative base every table shares, the schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import DeclarativeBase

from cityvitals.private_files import private_file
from cityvitals.unreachable import unreachable

DIALECTS = {"postgresql": "PostgreSQL", "sqlite": "SQLite", "mysql": "MySQL"}  # as a person names them


class Base(DeclarativeBase):
    """Declarative base for all City Vitals tables."""


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite gets WAL so readers never block the engine's writes.

    A SQLite file is made readable by its owner only (it holds password hashes and the audit log).
    """
    # a SQLite file never drops a connection: pinging it on every checkout is a wasted round trip
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite"), future=True)
    if engine.dialect.name == "sqlite":
        if engine.url.database not in (None, "", ":memory:"):
            private_file(Path(engine.url.database))

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

    return engine


def connect_database(url: str) -> Engine:
    """An engine on ``url`` whose server answered; a ConfigError says in one line why it did not."""
    engine = make_engine(url)
    try:
        with engine.connect():
            pass
    except exc.DBAPIError as error:
        engine.dispose()
        where = engine.url.database if engine.dialect.name == "sqlite" else f"{engine.url.host}:{engine.url.port}"
        raise unreachable(DIALECTS.get(engine.dialect.name, engine.dialect.name), str(where), error.orig,
                          "DATABASE_URL") from None
    return engine


def create_schema(engine: Engine) -> None:
    """Bring the schema to the newest migration (``cityvitals.migrate``), creating it on a fresh database.

    Processes starting together take turns through a lock; should one still trip over another's
    half-made table (SQLite under a second process that skipped the lock), it simply tries again.
    """
    from cityvitals import migrate

    for attempt in range(3):
        try:
            migrate.upgrade(engine)
            return
        except (exc.OperationalError, exc.ProgrammingError, exc.IntegrityError):
            if attempt == 2:
                raise
