"""The work-order pipeline through the real Redis: hand-computed aggregates, refusals, restart, HTTP push."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests

from cityvitals import store
from cityvitals.metrics import registry
from cityvitals.tokens import create_token
from feeds.http_push.api import EVENTS_ROUTE, ROUTE
from feeds.ingest import Ingestor
from feeds.workorders.aggregate import PRODUCED
from feeds.workorders.pipeline import WorkOrderFeed, WorkOrderPipeline
from feeds.workorders.replay import replay_events
from tests.conftest import stream_samples

CATALOG_DIR = Path(__file__).resolve().parents[2] / "indicators" / "catalog"
NOW = 1_767_000_000.0  # 2025-12-29 09:20 UTC
H, M = 3600.0, 60.0


def _pipeline(client, tree, feed: str = "workorders") -> WorkOrderPipeline:
    return WorkOrderPipeline(Ingestor(client, feed, registry(), frozenset(tree.ids("grid")), clock=lambda: NOW))


def ev(order: str, source: str, area: str, step: str, ts: float, **extra) -> dict:
    return {"order": order, "source": source, "area": area, "step": step, "ts": ts, **extra}


def lifecycle(order, source, area, steps: dict[str, float], **extra) -> list[dict]:
    """Events of one order; ``extra`` (rating, resolution) rides on its last step."""
    out = [ev(order, source, area, s, NOW + t) for s, t in steps.items()]
    out[-1].update(extra)
    return out


def hand_events(a: str, b: str) -> list[dict]:
    """Seven orders in grids a and b whose aggregates are worked out by hand in the test below."""
    return [
        # a: 12345, closed after 6 h, signed 10 min after dispatch, satisfied, solved in the grid
        *lifecycle("HL-1", "12345", a, {"received": -10 * H, "dispatched": -10 * H + M, "signed": -10 * H + 11 * M,
                                        "handled": -5 * H, "verified": -4 * H, "closed": -4 * H},
                   satisfied=True, resolved="grid"),
        # a: 12345 received 30 min ago, signed 20 min after dispatch, still open
        *lifecycle("HL-2", "12345", a, {"received": -30 * M, "dispatched": -29 * M, "signed": -9 * M}),
        # a: city management, deadline 24 h -> due 6 h ago, closed after 20 h (on time), unsatisfied, escalated
        *lifecycle("CM-1", "citymgmt", a, {"received": -30 * H, "dispatched": -30 * H + 2 * M,
                                           "signed": -30 * H + 32 * M, "closed": -10 * H},
                   satisfied=False, resolved="escalated"),
        # a: city management, due 16 h ago, signed 40 min after dispatch, still open -> overdue
        *lifecycle("CM-2", "citymgmt", a, {"received": -40 * H, "dispatched": -40 * H + M, "signed": -40 * H + 41 * M}),
        # a: grid app, closed at once after 52 h (deadline 48 h: late), solved in the grid, not rated
        *lifecycle("GA-1", "grid_app", a, {"received": -60 * H, "closed": -8 * H}, resolved="grid"),
        # b: 12345 two hours ago, signed after 5 min, open
        *lifecycle("HL-3", "12345", b, {"received": -2 * H, "dispatched": -2 * H + M, "signed": -2 * H + 6 * M}),
        # b: a petition three hours ago, open (deadline 15 days)
        *lifecycle("P-1", "petition", b, {"received": -3 * H}),
    ]


def published(client) -> dict[tuple[str, str], float]:
    return {(s.metric, s.area): s.value for s in stream_samples(client) if s.ts == NOW}


def test_hand_computed_aggregates_through_redis(redis_client, demo_tree):
    grids = sorted(demo_tree.ids("grid"))
    a, b, other = grids[0], grids[1], grids[2]
    pipeline = _pipeline(redis_client, demo_tree)
    assert pipeline.submit(hand_events(a, b)).refused == []
    result = WorkOrderFeed(pipeline).run_once(now=NOW)
    assert result is not None and result.refused == []
    got = published(redis_client)
    expected_a = {
        "hotline_orders_1h": 1, "orders_open": 2, "orders_overdue": 1, "orders_due_24h": 3,
        "orders_closed_on_time_24h": 1, "orders_closed_7d": 3, "orders_rated_7d": 2, "orders_satisfied_7d": 1,
        "orders_solved_in_grid_7d": 2, "orders_escalated_7d": 1, "orders_enforcement_7d": 0,
        "order_sign_minutes": 25.0, "order_close_hours": 20.0, "citymgmt_cases_7d": 2, "citymgmt_closed_7d": 1,
        "citymgmt_ontime_7d": 1, "grid_events_24h": 0, "petitions_24h": 0, "nonpolice_calls_1h": 0,
    }
    assert {m: got[(m, a)] for m in expected_a} == expected_a
    expected_b = {"hotline_orders_1h": 0, "orders_open": 2, "orders_overdue": 0, "petitions_24h": 1,
                  "order_sign_minutes": 5.0, "orders_closed_7d": 0}
    assert {m: got[(m, b)] for m in expected_b} == expected_b
    assert ("order_close_hours", b) not in got  # nothing closed: no median, rather than a made-up 0
    assert got[("orders_open", other)] == 0 and ("order_sign_minutes", other) not in got
    # closure rate and satisfaction as the catalog computes them: 1/3 on time, 1/2 satisfied
    assert got[("orders_closed_on_time_24h", a)] / got[("orders_due_24h", a)] == pytest.approx(1 / 3)
    assert got[("orders_satisfied_7d", a)] / got[("orders_rated_7d", a)] == 0.5
    assert store.read_feed_health(redis_client)["workorders"]["events_accepted"] == len(hand_events(a, b))


def test_the_pipeline_feeds_metrics_the_catalog_reads():
    text = "\n".join(p.read_text(encoding="utf-8") for p in CATALOG_DIR.glob("*.yaml"))
    read = set(re.findall(r"(?:metric|numerator|denominator): (\w+)", text))
    assert set(PRODUCED) <= read & registry().keys(), set(PRODUCED) - read


def test_bad_events_are_refused_counted_and_dead_lettered(redis_client, demo_tree):
    g = sorted(demo_tree.ids("grid"))[0]
    pipeline = _pipeline(redis_client, demo_tree)
    batch = [
        ev("A", "12345", g, "received", NOW - H),
        ev("A", "12345", g, "teleported", NOW - H + 10),            # 1 unknown step
        ev("A", "12345", g, "dispatched", NOW - H + 60),
        ev("A", "12345", g, "handled", NOW - H + 600),
        ev("A", "12345", g, "signed", NOW - H + 700),                # 4 out of lifecycle order
        ev("B", "12345", g, "received", NOW - H),
        ev("B", "12345", g, "dispatched", NOW - 2 * H),              # 6 time goes backwards
        ev("C", "12345", "nowhere", "received", NOW - H),            # 7 unknown grid
        ev("B", "12345", g, "received", NOW - H),                    # 8 duplicate
        ev("D", "fax", g, "received", NOW - H),                      # 9 unknown source
        ev("E", "12345", g, "closed", NOW - H),                      # 10 step of an order never received
        ev("B", "12345", g, "dispatched", NOW - H + 30),
    ]
    result = pipeline.submit(batch)
    assert result.accepted == 5
    reasons = {r.index: r.reason for r in result.refused}
    assert sorted(reasons) == [1, 4, 6, 7, 8, 9, 10]
    assert "unknown step 'teleported'" in reasons[1]
    assert "signed out of lifecycle order (already handled)" in reasons[4]
    assert "time goes backwards" in reasons[6]
    assert "unknown grid 'nowhere'" in reasons[7]
    assert reasons[8].startswith("duplicate")
    assert "unknown source 'fax'" in reasons[9]
    assert "closed before received" in reasons[10]
    dead = redis_client.xrange(store.DEADLETTER)
    assert [json.loads(f["item"])["order"] for _, f in dead] == ["A", "A", "B", "C", "B", "D", "E"]
    health = store.read_feed_health(redis_client)["workorders"]
    assert (health["events_accepted"], health["refused"]) == (5, 7)
    WorkOrderFeed(pipeline).run_once(now=NOW)
    assert published(redis_client)[("orders_open", g)] == 2  # A and B, the good events around the bad kept


def test_open_orders_survive_a_restart(redis_client, demo_tree):
    g = sorted(demo_tree.ids("grid"))[0]
    first = _pipeline(redis_client, demo_tree)
    first.submit([ev("R-1", "12345", g, "received", NOW - 2 * H), ev("R-2", "110", g, "received", NOW - 50 * M)])
    del first
    second = _pipeline(redis_client, demo_tree)  # a new process: nothing but Redis in common
    result = second.submit([ev("R-1", "12345", g, "dispatched", NOW - H), ev("R-2", "110", g, "received", NOW)])
    assert result.accepted == 1 and result.refused[0].reason.startswith("duplicate")
    WorkOrderFeed(second).run_once(now=NOW)
    got = published(redis_client)
    assert (got[("orders_open", g)], got[("nonpolice_calls_1h", g)]) == (2, 1)


def test_orders_closed_long_ago_are_retired(redis_client, demo_tree):
    g = sorted(demo_tree.ids("grid"))[0]
    pipeline = _pipeline(redis_client, demo_tree)
    pipeline.submit(lifecycle("OLD", "12345", g, {"received": -10 * 24 * H, "closed": -9 * 24 * H})
                    + lifecycle("NEW", "12345", g, {"received": -2 * H}))
    WorkOrderFeed(pipeline).run_once(now=NOW)
    assert sorted(store.all_orders(redis_client)) == ["NEW"]


def test_replay_of_csv_and_ndjson_files(redis_client, demo_tree, tmp_path):
    g = sorted(demo_tree.ids("grid"))[0]
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text("order,source,area,step,ts,satisfied,resolved\n"
                        f"F-1,12345,{g},received,{NOW - 5 * H},,\n"
                        f"F-1,12345,{g},closed,2025-12-29T08:20:00+00:00,true,grid\n"
                        f"F-2,12345,{g},received,yesterday,,\n", encoding="utf-8")
    nd = tmp_path / "orders.ndjson"
    nd.write_text(json.dumps(ev("F-3", "12345", g, "received", NOW - H)) + "\n{broken\n", encoding="utf-8")
    pipeline = _pipeline(redis_client, demo_tree)
    from_csv = replay_events(pipeline, csv_file)
    assert from_csv.accepted == 2 and [r.index for r in from_csv.refused] == [2]
    assert "neither Unix seconds nor an ISO 8601 time" in from_csv.refused[0].reason
    from_nd = replay_events(pipeline, nd)
    assert from_nd.accepted == 1 and "orders.ndjson:2: not valid JSON" in from_nd.refused[0].reason
    WorkOrderFeed(pipeline).run_once(now=NOW)
    got = published(redis_client)
    assert (got[("orders_open", g)], got[("orders_closed_7d", g)], got[("orders_satisfied_7d", g)]) == (1, 1, 1)


def test_events_pushed_over_http(push_api, redis_client, demo_tree):
    url, sql, grids = push_api
    events_url = url.replace(ROUTE, EVENTS_ROUTE)
    token = create_token(sql, "hotline")
    now = time.time()
    body = [ev("W-1", "12345", grids[0], "received", now - 600), ev("W-1", "12345", grids[0], "signed", now - 900),
            ev("W-2", "12345", "nowhere", "received", now), ev("W-3", "110", grids[1], "received", now - 60)]
    r = requests.post(events_url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 207, r.text
    out = r.json()
    assert out["feed"] == "events:hotline" and out["accepted"] == 2
    assert [x["index"] for x in out["refused"]] == [1, 2]
    assert "time goes backwards" in out["refused"][0]["reason"]
    assert sorted(store.all_orders(redis_client)) == ["W-1", "W-3"]
    unauthorised = requests.post(events_url, json=body, timeout=5)
    assert unauthorised.status_code == 401
    nd = "\n".join([json.dumps(ev("W-4", "110", grids[1], "received", now)), "{no"]).encode()
    r = requests.post(events_url, data=nd, headers={"Authorization": f"Bearer {token}",
                                                     "Content-Type": "application/x-ndjson"}, timeout=5)
    assert r.status_code == 207 and r.json()["refused"][0]["index"] == 1
    assert store.read_feed_health(redis_client)["events:hotline"]["refused"] == 3
