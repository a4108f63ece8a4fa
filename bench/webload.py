"""The app under gunicorn and HTTP dashboard clients: shared by bench.dashboard, bench.load and the tests.

A client does what the browser does: it loads a page (which sets the session and CSRF cookies),
then POSTs ``/_dash-update-component`` with the payloads Dash's renderer sends: the overview refresh
of its area every period, and now and then a drill (the pages router asked for a child's page).
Like the browser it keeps what the overview store says it shows, and sends it with the next refresh.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from cityvitals.security import CSRF_COOKIE
from cityvitals.vocabulary import DOMAINS
from dashboard import ids

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
ACCESS_FORMAT = "%(p)s %(s)s %(m)s %(U)s"  # worker pid first: which worker answered


@dataclass(frozen=True)
class Result:
    """One request: what, when it started and ended (monotonic), status (0: no answer), bytes."""

    kind: str
    start: float
    end: float
    status: int
    size: int
    error: str = ""  # the exception when there was no answer
    body: bytes = b""  # the answer's body (kept only for callbacks whose answer the client reads)

    @property
    def ok(self) -> bool:
        """Whether the request got a 2xx answer."""
        return 200 <= self.status < 300

    @property
    def seconds(self) -> float:
        """Round-trip time."""
        return self.end - self.start


@contextmanager
def gunicorn(env: dict[str, str], port: int, log_dir: Path, workers: int = 2, threads: int = 1,
             boot_timeout: float = 120.0) -> Iterator[subprocess.Popen]:
    """Run ``gunicorn app:server`` on 127.0.0.1:``port`` until every worker has answered; stop it afterwards.

    Keep-alive outlasts a client's 2 s refresh period: with gunicorn's default of 2 s the server closes
    idle connections just as clients reuse them, and those requests fail without reaching the app.
    """
    access = log_dir / "access.log"
    cmd = [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}",
           "--timeout", "60", "--keep-alive", "5", "--access-logfile", str(access), "--access-logformat", ACCESS_FORMAT,
           "app:server"]
    proc = subprocess.Popen(cmd, cwd=REPO, env={**os.environ, **env}, stdout=(log_dir / "gunicorn.log").open("w"),
                            stderr=subprocess.STDOUT)
    try:
        _wait_for_workers(f"http://127.0.0.1:{port}", access, workers, proc, boot_timeout)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def answering_pids(access_log: Path) -> list[int]:
    """Worker pids that answered a request, in the order they first did."""
    pids: list[int] = []
    for line in access_log.read_text().splitlines() if access_log.exists() else []:
        pid = int(line.split()[0].strip("<>"))
        if pid not in pids:
            pids.append(pid)
    return pids


def _wait_for_workers(base: str, access: Path, workers: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(answering_pids(access)) < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn: {len(answering_pids(access))} of {workers} workers answered "
                               f"(exit code {proc.poll()})")
        try:
            requests.get(f"{base}/healthz", timeout=5)
        except requests.RequestException:
            time.sleep(0.3)


class DashClient:
    """One browser's worth of requests against the dashboard."""

    def __init__(self, base: str, timeout: float = 10.0) -> None:
        self.base, self.timeout = base, timeout
        self.http = requests.Session()
        self.outputs: dict[str, str] = {}
        self.n = 0
        self.page: tuple[str, dict | None] = ("", None)  # the overview shown: its area and its store's data

    def open(self, path: str = "/") -> Result:
        """Load a page (session and CSRF cookies) and learn the callbacks' output names."""
        result = self._send("page", "GET", path)
        deps = self.http.get(f"{self.base}/_dash-dependencies", timeout=self.timeout).json()
        self.outputs = {d["output"].split(".")[2] if d["output"].startswith("..") else d["output"]: d["output"]
                        for d in deps}
        return result

    def refresh(self, area_id: str, full: bool = False) -> Result:
        """The overview refresh of ``area_id``, as the interval fires it.

        Another area than the last, or ``full``, is a page just opened: its store is empty, so every part comes.
        """
        self.n += 1
        shown = self.page[1] if self.page[0] == area_id and not full else None
        outputs = [{"id": ids.HEALTH, "property": "children"},
                   [{"id": ids.tile(d), "property": "children"} for d in DOMAINS],
                   {"id": ids.MAP, "property": "figure"}, {"id": ids.TICKER, "property": "children"},
                   {"id": ids.TICKER_HEAD, "property": "children"},
                   {"id": ids.HEADER_STATUS, "property": "children"}, {"id": ids.FEEDS, "property": "children"},
                   {"id": ids.MAP_LEGEND, "property": "children"}, {"id": ids.OVERVIEW_SHOWN, "property": "data"}]
        result = self._callback("overview", ids.HEALTH, outputs,
                                [{"id": ids.INTERVAL, "property": "n_intervals", "value": self.n},
                                 {"id": ids.MAP_BY, "property": "value", "value": ""}],
                                [{"id": ids.AREA_STORE, "property": "data", "value": area_id},
                                 {"id": ids.OVERVIEW_SHOWN, "property": "data", "value": shown}])
        if result.ok and result.body:  # 204: nothing changed, the store keeps its data
            sent = json.loads(result.body)["response"].get(ids.OVERVIEW_SHOWN, {}).get("data", shown)
            self.page = (area_id, sent)
        return result

    def drill(self, area_id: str) -> Result:
        """Open the overview of ``area_id`` as a click on the map does (the pages router's callback)."""
        self.page = (area_id, None)  # a new page: its store starts empty
        outputs = [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}]
        return self._callback("drill", "_pages_content", outputs,
                              [{"id": "_pages_location", "property": "pathname", "value": f"/area/{area_id}"},
                               {"id": "_pages_location", "property": "search", "value": ""}], [])

    def _callback(self, kind: str, first_output: str, outputs: list, inputs: list, state: list) -> Result:
        body = {"output": self.outputs[first_output], "outputs": outputs, "inputs": inputs, "state": state,
                "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}
        headers = {"X-CSRFToken": self.http.cookies.get(CSRF_COOKIE, "")}
        return self._send(kind, "POST", "/_dash-update-component", json=body, headers=headers,
                          keep=kind in ("overview", "panel", "panel-open"))

    def _send(self, kind: str, method: str, path: str, keep: bool = False, **kw) -> Result:
        start = time.monotonic()
        try:
            resp = self.http.request(method, f"{self.base}{path}", timeout=self.timeout, **kw)
            status, size, error = resp.status_code, len(resp.content), ""
        except requests.RequestException as exc:
            status, size, error, resp = 0, 0, type(exc).__name__, None
        return Result(kind, start, time.monotonic(), status, size, error, resp.content if keep and resp else b"")


def bench_env(client, url: str | None, tmp: str) -> dict[str, str]:
    """The environment of the app under test: the bench's Redis, SQLite and data dir in ``tmp``."""
    redis_url = url or f"unix://{client.connection_pool.connection_kwargs['path']}"
    return {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp}/cv.sqlite", "CITYVITALS_DATA_DIR": tmp,
            "CITYVITALS_SECRET_KEY": "bench"}


def healthz_times(base: str, n: int) -> list[float]:
    """Round trips of ``n`` sequential ``GET /healthz``."""
    client = DashClient(base)
    return [client._send("healthz", "GET", "/healthz").seconds for _ in range(n)]


def run_clients(base: str, clients: int, period_s: float, duration_s: float, areas: list[str],
                drill_every: int = 5, seed: int = 1, full: bool = False) -> list[Result]:
    """``clients`` dashboards refreshing every ``period_s`` for ``duration_s``; every request's result.

    ``full``: every refresh as a page just opened (all parts sent), the most a refresh can cost.
    """
    stop_at = time.monotonic() + duration_s

    def one(k: int) -> list[Result]:
        rng = random.Random(seed + k)
        client = DashClient(base)
        mine = [client.open()]
        time.sleep(rng.uniform(0, period_s))  # browsers do not refresh in lockstep
        rounds = 0
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            rounds += 1
            if rounds % drill_every == 0:
                mine.append(client.drill(rng.choice(areas)))
            mine.append(client.refresh(areas[0] if rounds % drill_every else rng.choice(areas), full))
            time.sleep(max(0.0, period_s - (time.monotonic() - t0)))
        return mine

    return run_threads(clients, duration_s, one)


def run_threads(clients: int, duration_s: float, one) -> list[Result]:
    """Run ``one(k)`` for each of ``clients`` browsers in its own thread; every result they return."""
    results: list[Result] = []
    lock = threading.Lock()

    def keep(k: int) -> None:
        mine = one(k)
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=keep, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration_s + 60)
    return results
