"""Finding 12: the data directory is its owner's only: 0700, and its files (SQLite, WAL, Redis, key) 0600."""

from __future__ import annotations

import stat

from sqlalchemy import text

from cityvitals import redis_server
from cityvitals.config import load_settings
from cityvitals.db import create_schema, make_engine
from cityvitals.redis_server import connect, redis_url
from cityvitals.security import secret_key
from cityvitals.users import audit


def test_everything_in_the_data_directory_is_private(tmp_path):
    data = tmp_path / "data"
    settings = load_settings(data, env={})
    client = connect(redis_url(settings))  # the embedded redis-server, in the data directory
    try:
        client.set("probe", "1")
        client.save()  # its dump file
        sql = make_engine(settings.database_url)
        create_schema(sql)
        audit(sql, "probe", "file_modes")
        with sql.connect() as conn:  # a reader keeps the -wal and -shm files there
            conn.execute(text("SELECT 1"))
            secret_key(data, env={})
            files = [p for p in data.rglob("*") if p.is_file()]
            names = {p.name for p in files}
            assert {"cityvitals.sqlite", "cityvitals.sqlite-wal", "redis.db", "secret_key"} <= names, names
            for path in [data, *(p for p in data.rglob("*") if p.is_dir())]:
                assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
            for path in files:
                assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))
        sql.dispose()
    finally:
        client.close()
        for server in redis_server._EMBEDDED:
            server.shutdown()
        redis_server._EMBEDDED.clear()


def test_an_existing_world_readable_database_is_made_private(tmp_path):
    db = tmp_path / "old.sqlite"
    db.write_text("")
    db.chmod(0o644)
    make_engine(f"sqlite:///{db}").dispose()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
