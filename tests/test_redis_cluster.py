"""The live store on a real three-master Redis Cluster gives exactly what it gives on one server."""

from __future__ import annotations

import threading

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from cityvitals import store
from cityvitals.areas import AreaTree, pukou_demo
from cityvitals.config import DEFAULT_CATALOG, ConfigError
from cityvitals.metrics import registry
from cityvitals.redis_server import connect
from cityvitals.web import redis_limiter
from feeds.ingest import Ingestor
from feeds.simulator.city import SimulatedCity
from indicators.loader import load_catalog
from indicators.service import EngineService

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
            "definitions": store.read_definitions(client),
            "pending": client.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"]}


def test_engine_and_ingest_on_a_cluster_match_one_server(cluster, redis_client, one_street, live_catalog):
    on_cluster = _run(cluster, one_street, live_catalog)
    on_server = _run(redis_client, one_street, live_catalog)
    assert on_cluster["pending"] == on_server["pending"] == 0
    assert on_cluster["summaries"]["district"] and on_cluster["grid"]
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


def test_unreachable_cluster_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot reach Redis at redis\\+cluster://127.0.0.1:1"):
        connect("redis+cluster://127.0.0.1:1")
