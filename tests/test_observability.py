"""/healthz, /readyz and /metrics of the real web server, over HTTP, with real Redis and SQL."""

from __future__ import annotations

import time

import requests
from prometheus_client.parser import text_string_to_metric_families

from cityvitals import store
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import serve


def test_health_readiness_and_metrics(redis_client, sqlite_engine, demo_tree, tmp_path):
    with serve(redis_client, sqlite_engine, demo_tree, tmp_path, "viewer") as url:
        assert requests.get(f"{url}/healthz", timeout=5).text == "ok\n"
        r = requests.get(f"{url}/readyz", timeout=5)
        assert r.status_code == 503 and "no catalog published" in r.json()["problems"][0]

        service = EngineService(redis_client, sqlite_engine, demo_tree, load_catalog([DEFAULT_CATALOG]))
        grids = demo_tree.ids("grid")
        ingestor = Ingestor(redis_client, "probe", registry(), set(grids))
        ingestor.submit([{"metric": "aqi", "area": g, "ts": time.time() - 2, "value": 40.0} for g in grids[:30]]
                        + [{"metric": "aqi", "area": "nowhere", "ts": time.time(), "value": 1.0}])
        service.tick()
        r = requests.get(f"{url}/readyz", timeout=5)
        assert r.status_code == 200 and r.json() == {"ready": True, "problems": []}

        requests.post(f"{url}/_dash-update-component", json={}, timeout=5)  # refused (no CSRF token), still timed
        text = requests.get(f"{url}/metrics", timeout=5).text
    assert 'cityvitals_samples_accepted_total{feed="probe"} 30.0' in text
    assert 'cityvitals_samples_refused_total{feed="probe"} 1.0' in text
    assert "cityvitals_deadletter_entries 1.0" in text
    assert "cityvitals_tick_seconds " in text and "cityvitals_last_tick_age_seconds " in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    by_worst = {(m.labels["level"], m.labels["state"]): m.value
                for m in families["cityvitals_areas_by_worst_state"].samples}
    summaries = store.read_summaries(redis_client, "grid")
    assert sum(n for (level, _), n in by_worst.items() if level == "grid") == len(grids) == len(summaries)
    for state in ("normal", "stale", "yellow", "red"):
        assert by_worst[("grid", state)] == sum(s["worst"] == state for s in summaries.values())
    macro = sum(i.tier == "macro" for i in service.engine.catalog.indicators)
    indicators = {m.labels["state"]: m.value for m in families["cityvitals_macro_indicators"].samples
                  if m.labels["level"] == "street"}
    assert sum(indicators.values()) == macro * len(demo_tree.ids("street"))
    assert "cityvitals_callback_seconds_count 1.0" in text


def test_readyz_names_a_sql_outage(redis_client, demo_tree, tmp_path):
    from cityvitals.db import make_engine

    broken = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with serve(redis_client, broken, demo_tree, tmp_path, "viewer") as url:
        r = requests.get(f"{url}/readyz", timeout=10)
    assert r.status_code == 503 and any(p.startswith("sql: OperationalError") for p in r.json()["problems"])
