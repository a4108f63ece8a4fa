"""What every City Vitals process opens at start: Redis, SQL (migrated) and the area tree."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.areas import AreaTree, load_areas, pukou_demo, save_areas
from cityvitals.config import ConfigError, Settings
from cityvitals.db import connect_database, create_schema
from cityvitals.private_files import private_dir
from cityvitals.redis_server import connect, redis_url


@dataclass
class Connections:
    """A process's settings, its Redis client, its SQL engine and the area hierarchy."""

    settings: Settings
    redis_url: str
    client: redis.Redis
    sql: SqlEngine
    tree: AreaTree


def open_connections(settings: Settings) -> Connections:
    """Connect to Redis and SQL and load the areas (the demo district if none were imported)."""
    url = redis_url(settings)
    client = connect(url)
    private_dir(settings.data_dir)
    sql = connect_database(settings.database_url)
    create_schema(sql)
    areas = load_areas(sql)
    if not areas:
        areas = pukou_demo()
        save_areas(sql, areas)
    tree = AreaTree(areas)
    if not tree.ids("grid"):  # an import made before `areas import` refused it: never a ready server that cannot score
        raise ConfigError("the stored area hierarchy has no grid: the engine scores grids; "
                          "import one with all four levels (cityvitals areas import)")
    return Connections(settings, url, client, sql, tree)
