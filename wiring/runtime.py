"""Assemble a process from settings: the connections, the catalog, the engine and its hot reload."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals import store
from cityvitals.archive import ArchiveJob, Archiver
from cityvitals.areas import LEVELS
from cityvitals.config import Settings
from cityvitals.connections import Connections, open_connections
from cityvitals.leader import Leadership
from indicators.history import log_catalog_event
from indicators.loader import Catalog, CatalogInvalid, catalog_digest, load_catalog
from indicators.service import EngineService
from indicators.value_recorder import ValueRecorder

log = logging.getLogger(__name__)


@dataclass
class Runtime(Connections):
    """Everything a process of City Vitals works with: the connections, the catalog and the engine."""

    catalog: Catalog
    service: EngineService | None = None
    last_check: tuple = ()  # (files' digest, version, errors) of the last catalog check


def open_runtime(settings: Settings) -> Runtime:
    """Open the connections and load the catalog."""
    connections = open_connections(settings)
    catalog = load_catalog([settings.catalog_path])
    return Runtime(**vars(connections), catalog=catalog)


class EngineRound:
    """The engine's periodic job: tick only while this process leads the engine role.

    A process that has just taken the lead first catches up: it claims what the previous leader
    read but never acknowledged and rebuilds its values from the latest ones in Redis.
    """

    def __init__(self, service: EngineService, leadership: Leadership) -> None:
        self.service, self.leadership = service, leadership
        self.leading = False

    def __call__(self) -> None:
        if not self.leadership.held():
            if self.leading:
                log.warning("engine: lost the lead; standing by")
            self.leading = False
            return
        if not self.leading:
            claimed = self.service.take_over()
            log.info("engine: leading now (%d unacknowledged entries claimed)", claimed)
            self.leading = True
        self.service.tick()


def start_engine(rt: Runtime, scheduler: BackgroundScheduler) -> Leadership:
    """Schedule the engine tick (led by one process at a time) and this process's catalog hot reload.

    Returns the engine's leadership, to release when the process stops (a standby takes over at
    its next round instead of waiting for the lock to lapse).
    """
    values = ValueRecorder(rt.settings.archive_path, rt.settings.value_step_s, rt.settings.archive_days)
    rt.service = EngineService(rt.client, rt.sql, rt.tree, rt.catalog, consumer=rt.settings.engine_name,
                               retention_s=rt.settings.history_days * 86400, values=values, tz=rt.settings.timezone,
                               snapshot_dir=snapshot_dir(rt.settings))
    leadership = Leadership(rt.client, "engine", ttl_s=max(3 * rt.settings.tick_seconds, 3.0))
    scheduler.add_job(EngineRound(rt.service, leadership), "interval", seconds=rt.settings.tick_seconds,
                      id="engine-tick", max_instances=1, coalesce=True, next_run_time=_now())
    scheduler.add_job(reload_catalog, "interval", args=[rt], seconds=5, id="catalog-reload", max_instances=1,
                      coalesce=True)
    return leadership


def snapshot_dir(settings: Settings) -> Path:
    """Where an engine of this name keeps its snapshot (``indicators/snapshot.py``), in the data directory."""
    return settings.data_dir / "engine-snapshot" / (settings.engine_name or "engine")


def save_engine_snapshot(rt: Runtime) -> None:
    """Save the stopped engine's snapshot, so that its restart goes on from it (a failure is logged, not raised)."""
    if rt.service is None:
        return
    try:
        path = rt.service.save_snapshot()
    except OSError as exc:
        log.warning("engine snapshot not saved (%s): the next start scores every indicator anew", exc)
        return
    if path is not None:
        log.info("engine snapshot saved in %s", path)


def start_archive(rt: Runtime, scheduler: BackgroundScheduler) -> Leadership:
    """Schedule the sample archiver (led by one process at a time); returns its leadership, to release at stop."""
    levels = {a: level for level in LEVELS for a in rt.tree.ids(level)}
    name = rt.settings.engine_name and f"archive-{rt.settings.engine_name}"
    archiver = Archiver(rt.client, rt.settings.archive_path, levels, consumer=name, keep_days=rt.settings.archive_days)
    leadership = Leadership(rt.client, "archive", ttl_s=10.0)  # renewed by a thread while a round runs
    scheduler.add_job(ArchiveJob(archiver, leadership), "interval", seconds=2, id="archive", max_instances=1,
                      coalesce=True, next_run_time=_now())
    return leadership


def reload_catalog(rt: Runtime) -> bool:
    """Swap in the catalog if its files changed and it is valid; otherwise keep the last good one.

    Files are parsed only when their bytes changed since the last check (a load of the shipped
    catalog takes seconds of CPU; a hash of its files, milliseconds). Every check's result goes to
    Redis (the dashboard's catalog view); each change of result is also logged in SQL
    (``catalog_event``), so refused reloads are kept after Redis is gone.
    """
    path, fresh = rt.settings.catalog_path, None
    try:
        digest = catalog_digest([path])
        if digest == (rt.last_check[0] if rt.last_check else rt.catalog.version):
            errors = list(rt.last_check[2]) if rt.last_check else []
        else:
            fresh, errors = load_catalog([path]), []
    except CatalogInvalid as exc:
        errors = [str(e) for e in exc.errors]
    except OSError as exc:
        digest, errors = None, [f"{path}: {exc}"]
    version = fresh.version if fresh is not None else rt.catalog.version
    store.record_catalog(rt.client, rt.catalog.version, errors=errors)
    if (version, errors) != rt.last_check[1:]:
        log_catalog_event(rt.sql, version, errors)
    rt.last_check = (digest, version, errors)
    if fresh is None or fresh.version == rt.catalog.version:
        return False
    rt.catalog = fresh
    if rt.service is not None:
        rt.service.set_catalog(fresh)
    log.info("catalog %s loaded: %d indicators", fresh.version, len(fresh.indicators))
    return True


def _now() -> datetime:
    return datetime.now(UTC)
