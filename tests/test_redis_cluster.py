"""The live store on a real three-master Redis Cluster gives exactly what it gives on one server."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
import yaml
from flask import Flask
from werkzeug.serving import make_server

from cityvitals import store
from cityvitals.areas import AreaTree, pukou_demo, save_areas
from cityvitals.config import DEFAULT_CATALOG, ConfigError
from cityvitals.db import create_schema, make_engine
from cityvitals.leader import Leadership
from cityvitals.metrics import registry
from cityvitals.redis_server import connect
from feeds.ingest import Ingestor
from feeds.simulator.city import SimulatedCity
from indicators.history import read_transitions
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import engines, stop, wait_logged
from wiring.web import redis_limiter

NOW = 1_790_000_000.0


@pytest.fixture
def cluster(redis_cluster_url):
    """A client on the session's cluster, emptied before and after the test."""
    client = connect(redis_cluster_url)
    client.flushall()
    yield client
    client.flushall()
    client.close()


@pytest.fixture(scope="module")
def one_street():
    """The demo district cut to one street, to keep the test quick."""
    return AreaTree([a for a in pukou_demo() if a.id == "pukou" or a.id.startswith("pukou.qiaolin")])


@pytest.fixture(scope="module")
def live_catalog():
    """The shipped catalog."""
    return load_catalog([DEFAULT_CATALOG])


def _run(client, tree, catalog) -> dict:
    """Two simulator rounds and engine ticks; the district's, streets' and one grid's published results."""
    city = SimulatedCity(tree, registry(), seed=7)
    ingestor = Ingestor(client, "sim", registry(), set(tree.ids("grid")), clock=lambda: NOW + 120)
    service = EngineService(client, None, tree, catalog)
    service.publish_catalog()
    for minute in (0, 1):
        assert not ingestor.submit([s._asdict() for s in city.samples(NOW + 60 * minute)]).refused
        service.tick(NOW + 60 * minute + 5)
    grid = sorted(tree.ids("grid"))[0]
    return {"summaries": {lv: store.read_summaries(client, lv) for lv in ("district", "street")},
            "grid": store.read_states(client, grid),
            "warnings": sorted(store.read_warnings(client), key=lambda w: (w["i"], w["a"])),
            "ticker": {a: store.read_ticker(client, a) for a in (tree.root.id, *tree.ids("street"))},
            "definitions": store.read_definitions(client),
            "pending": client.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"]}


def test_engine_and_ingest_on_a_cluster_match_one_server(cluster, redis_client, one_street, live_catalog):
    on_cluster = _run(cluster, one_street, live_catalog)
    on_server = _run(redis_client, one_street, live_catalog)
    assert on_cluster["pending"] == on_server["pending"] == 0
    assert on_cluster["summaries"]["district"] and on_cluster["grid"]
    assert len(on_cluster["ticker"][one_street.root.id]) == len(on_cluster["warnings"]) > 0
    assert len(on_cluster["definitions"]) == len(live_catalog.indicators)
    assert on_cluster == on_server


def test_rate_limits_count_in_the_cluster(redis_cluster_url, cluster):
    server = Flask("limited")
    limiter = redis_limiter(server, redis_cluster_url, cluster)

    @server.get("/x")
    @limiter.limit("2 per minute")
    def x() -> str:
        return "ok"

    http = make_server("127.0.0.1", 0, server, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    codes = [requests.get(f"http://127.0.0.1:{http.server_port}/x", timeout=5).status_code for _ in range(3)]
    http.shutdown()
    assert codes == [200, 200, 429]
    assert [k.split("/")[0] for k in cluster.scan_iter()] == ["cv:LIMITER"]


def test_a_led_write_goes_through_on_a_cluster_only_while_leading(cluster):
    leader, other = Leadership(cluster, "probe", ttl_s=5.0), Leadership(cluster, "probe", ttl_s=5.0)
    assert leader.write(lambda pipe: pipe.set("cv:probe", "leader"))  # no transaction: keys of other slots
    assert not other.write(lambda pipe: pipe.set("cv:probe", "other"))
    assert cluster.get("cv:probe") == "leader"
    leader.release()
    assert other.write(lambda pipe: pipe.set("cv:probe", "other"))  # freed at once, not after the 5 s TTL
    other.release()


def test_unreachable_cluster_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot reach Redis at redis\\+cluster://127.0.0.1:1"):
        connect("redis+cluster://127.0.0.1:1")


def _catalog(path: Path, metrics: list[str]) -> Path:
    """One grid-readable indicator per metric (worst grid decides), no hold time: a value decides at once."""
    indicators = [{
        "id": f"t_{m}", "name": {"zh": m, "en": m}, "tier": "macro", "group": "public_safety", "unit": "",
        "description": "test", "source": {"metric": m}, "rollup": "max", "direction": "higher_is_worse",
        "thresholds": {"yellow": 40, "red": 60}, "stale_after": "1d"} for m in metrics]
    path.write_text(yaml.safe_dump({"indicators": indicators}, allow_unicode=True))
    return path


def _push_rounds(client, grids: list[str], metrics: list[str], pause_s: float, sent: dict) -> None:
    """One round per metric: a sample for every grid, each (metric, grid) once, values 10..99."""
    ingestor = Ingestor(client, "cluster-feed", registry(), set(grids))
    for k, metric in enumerate(metrics):
        items = [{"metric": metric, "area": g, "ts": time.time(), "value": float(10 + (7 * k + 13 * j) % 90)}
                 for j, g in enumerate(grids)]
        result = ingestor.submit(items)
        assert not result.refused and not result.held
        sent.update({(i["metric"], i["area"]): i["value"] for i in items})
        sent["accepted"] = sent.get("accepted", 0) + result.accepted
        time.sleep(pause_s)  # paced on purpose: the leader is killed while rounds still come in


@pytest.mark.timeout(600)  # its waits are bounded at 120 + 60 + 60 + 60 s and more
def test_two_engine_workers_share_the_cluster_and_a_killed_leader_loses_and_doubles_nothing(
        tmp_path, redis_cluster_url, cluster, one_street):
    metrics = [m for m, d in registry().items() if d.min <= 10 and d.max >= 100][:24]
    grids = sorted(one_street.ids("grid"))
    db = f"sqlite:///{tmp_path / 'cv.sqlite'}"
    sql = make_engine(db)
    create_schema(sql)
    save_areas(sql, [one_street[a] for lv in ("district", "street", "community", "grid") for a in one_street.ids(lv)])
    env = {**os.environ, "REDIS_URL": redis_cluster_url, "DATABASE_URL": db, "CITYVITALS_DATA_DIR": str(tmp_path),
           "CITYVITALS_TICK_SECONDS": "1", "CITYVITALS_CATALOG": str(_catalog(tmp_path / "cat.yaml", metrics))}
    sent: dict = {}
    with engines(tmp_path, {name: {**env, "CITYVITALS_ENGINE_NAME": f"engine-{name}"} for name in "ab"}) as procs:
        (a, log_a), (b, log_b) = procs
        logs = [log_a, log_b]
        wait_logged(lambda: "leading now" in log_a.read_text() + log_b.read_text(), "a leader", logs)
        leader, follower, follower_log = (a, b, log_b) if "leading now" in log_a.read_text() else (b, a, log_a)
        feed = threading.Thread(target=_push_rounds, args=(cluster, grids, metrics, 0.35, sent))
        feed.start()
        wait_logged(lambda: _values_scored(cluster, metrics, grids, sent) > 0, "the leader scoring the feed's rounds",
                    logs, timeout=120)
        # kill it mid-tick: while it holds entries it has read but not acknowledged
        wait_logged(lambda: cluster.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"] > 0, "a tick in flight",
                    logs, timeout=20, poll_s=0.001)
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        scored_by_leader = _values_scored(cluster, metrics, grids, sent)
        feed.join(60)
        wait_logged(lambda: "leading now" in follower_log.read_text(), "the other leads", logs)
        claimed = int(re.search(r"leading now \((\d+) unacknowledged", follower_log.read_text()).group(1))
        wait_logged(lambda: _caught_up(cluster), "every entry read and acknowledged", logs, timeout=60)
        # the tick that acknowledged the last entries logs its warnings in SQL after that
        warned = sum(v >= 40 for k, v in sent.items() if k != "accepted")
        wait_logged(lambda: sum(_warnings_logged(sql).values()) >= warned, "the last warnings logged", logs, timeout=60)
        stop(follower)
    assert sent.pop("accepted") == len(sent) == len(metrics) * len(grids)
    assert claimed > 0  # the follower took over entries the dead leader had read
    assert 0 < scored_by_leader < len(sent)  # the leader died mid-run: the follower scored the rest
    (group,) = [g for g in cluster.xinfo_groups(store.SAMPLES) if g["name"] == store.ENGINE_GROUP]
    assert group["last-delivered-id"] == cluster.xinfo_stream(store.SAMPLES)["last-generated-id"]
    # none lost: every sample is the value of its grid's state
    for metric in metrics:
        states = store.read_state_of(cluster, f"t_{metric}", grids)
        assert {g: states[g]["v"] for g in grids} == {g: sent[(metric, g)] for g in grids}
    # none doubled (nor lost) in the warnings log: each grid that warns went into its warning exactly once
    expected = Counter({(f"t_{m}", g): 1 for (m, g), v in sent.items() if v >= 40})
    assert _warnings_logged(sql) == expected


def _values_scored(client, metrics: list[str], grids: list[str], sent: dict) -> int:
    """How many of the samples sent so far are their grid's state value."""
    return sum(states[g]["v"] == sent.get((m, g)) for m in metrics
               for states in [store.read_state_of(client, f"t_{m}", grids)] for g in states)


def _warnings_logged(sql) -> Counter:
    """How many times each (indicator, grid) went into a warning, by the SQL log."""
    return Counter((t["indicator"], t["area"]) for t in read_transitions(sql, limit=100_000)
                   if t["level"] == "grid" and t["to_state"] in ("yellow", "red"))


def _caught_up(client) -> bool:
    """Whether the engine group has read every entry of the stream and acknowledged it."""
    (group,) = [g for g in client.xinfo_groups(store.SAMPLES) if g["name"] == store.ENGINE_GROUP]
    last = client.xinfo_stream(store.SAMPLES)["last-generated-id"]
    return group["last-delivered-id"] == last and group["pending"] == 0
