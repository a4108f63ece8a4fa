"""What callbacks read from: the Redis client, the SQL engine and the area tree of this process."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.areas import AreaTree
from cityvitals.dispatch.commands import DispatchContext
from dashboard.memo import Memo

READS = 512  # reads kept per store stamp (dashboard/data.py): a few per area watched, the latest stamps only


@dataclass
class DashboardContext:
    """Connections and reference data shared by all callbacks."""

    client: redis.Redis
    sql: SqlEngine
    tree: AreaTree
    tick_seconds: float
    catalog_path: Path | None = None  # the files the engines load (the admin page checks them)
    dispatch: DispatchContext | None = None  # tasks: the same commands as the API and the CLI (None: no dispatch)
    closure_target: float = 99.87  # the dispatch panel's target closure rate, percent
    archive_path: Path | None = None  # the archive directory: trends and history at every level read its values
    timezone: str = "Asia/Shanghai"  # the city's zone: every time shown is in it (dashboard/clock.py)
    reads: Memo = field(default_factory=lambda: Memo(READS))  # of this store, by stamp (data.per_write)


_context: list[DashboardContext] = []


def set_context(ctx: DashboardContext) -> None:
    """Install the context (once per process, by create_app)."""
    _context[:] = [ctx]


def get() -> DashboardContext:
    """The installed context."""
    return _context[0]
