"""Every row accounted for: read, stored, refused by reason, late, duplicate, superseded; per feed and per file."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from prometheus_client import CollectorRegistry, generate_latest

from cityvitals import store
from cityvitals.metrics import registry
from cityvitals.observability import StoreCollector
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.replay.reader import file_identity
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import GRIDS, tiny_tree
from tests.feeds.test_delivery import CATALOG, G
from wiring.cli import main


def test_in_order_rows_of_one_batch_are_superseded_not_late(redis_client):
    ingestor = Ingestor(redis_client, "gauges", registry(), set(GRIDS))
    service = EngineService(redis_client, None, tiny_tree(), load_catalog([CATALOG]), consumer="e")
    t = time.time() - 600
    rows = [{"metric": "river_level", "area": G, "ts": t + 60 * k, "value": 5.0 + k} for k in range(4)]
    ingestor.submit(rows)  # four hours of one gauge between two ticks, in order
    report = service.tick(t + 300)
    assert (report.samples, report.late, report.duplicates, report.superseded) == (4, 0, 0, 3)
    ingestor.submit([rows[1], rows[3], dict(rows[3], ts=t + 400), dict(rows[3], ts=t + 350)])
    report = service.tick(t + 500)
    # rows[1] is older than the value held; t+350 came after t+400: both late. rows[3] is the value held.
    assert (report.late, report.duplicates, report.superseded) == (2, 1, 0)
    health = store.read_feed_health(redis_client)["gauges"]
    assert {k: health[k] for k in ("read", "accepted", "late", "duplicate", "superseded")} == {
        "read": 8, "accepted": 8, "late": 2, "duplicate": 1, "superseded": 3}


def test_refusals_are_counted_by_reason_in_the_health_and_the_metrics(redis_client):
    ingestor = Ingestor(redis_client, "push", registry(), set(GRIDS))
    now = time.time()
    ok = {"metric": "river_level", "area": G, "ts": now - 5, "value": 1.0}
    ingestor.submit([ok, dict(ok, area="nowhere"), dict(ok, ts=100.0), dict(ok, ts=now + 9999),
                     dict(ok, metric="nope"), dict(ok, value="x"), dict(ok, area="也不在")])
    health = store.read_feed_health(redis_client)["push"]
    assert (health["read"], health["accepted"], health["refused"]) == (7, 1, 6)
    assert health["refused_by"] == {"unknown_area": 2, "too_old": 1, "in_the_future": 1, "unknown_metric": 1,
                                    "bad_value": 1}
    scrape = CollectorRegistry()
    scrape.register(StoreCollector(redis_client))
    text = generate_latest(scrape).decode()
    assert 'cityvitals_samples_refused_by_reason_total{feed="push",reason="unknown_area"} 2.0' in text
    assert 'cityvitals_samples_read_total{feed="push"} 7.0' in text
    assert 'cityvitals_samples_not_applied_total{feed="push",kind="superseded"} 0.0' in text


def _export(path: Path, grids: list[str], rows: list[tuple]) -> Path:
    pd.DataFrame(rows, columns=["time", "grid", "aqi"]).to_csv(path, index=False)
    return path


def test_a_second_file_under_the_same_feed_is_replayed_and_a_finished_one_says_so(tmp_path, redis_client,
                                                                                    demo_tree):
    grids = demo_tree.ids("grid")
    first = _export(tmp_path / "a.csv", grids, [("2026-01-05 08:00", grids[0], 40), ("2026-01-05 09:00", grids[0], 41),
                                                ("2026-01-05 09:00", grids[0], 41), ("2026-01-05 08:30", grids[0], 3),
                                                ("2026-01-05 10:00", "nowhere", 1), ("1999-12-31 23:00", grids[1], 5)])
    second = _export(tmp_path / "b.csv", grids, [("2026-01-06 08:00", grids[2], 50)])
    ingestor = Ingestor(redis_client, "replay", registry(), set(grids))

    def run(path: Path) -> ReplayFeed:
        cfg = ReplayFeedConfig(type="replay", name="replay", file=path, metric="aqi", speed="max",
                               map={"time": "time", "value": "aqi", "area": "grid"})
        feed = ReplayFeed(cfg, ingestor)
        feed.run(progress=False)
        return feed

    report = run(first).report
    assert (report.read, report.stored, report.refused_by) == (6, 4, {"unknown_area": 1, "too_old": 1})
    assert (report.duplicate, report.out_of_order) == (1, 1)
    assert report.text("replay").splitlines() == [
        f"{first}: samples 1-6 of 6 read: 4 stored, 2 refused (too_old 1, unknown_area 1)",
        "of those stored, 1 repeat the newest earlier row (metric, area, time) and 1 are out of order: "
        "the engine counts them, never applies them"]
    assert run(second).report.stored == 1  # its own checkpoint, not the first file's
    again = run(first).report
    assert again.done_before and again.read == 0
    assert again.text("replay") == (
        f"{first} (sha256 {file_identity(first)}…) was replayed to its end already under feed 'replay' (6 rows): "
        "nothing to do; give another --name to replay it again")


def test_the_command_prints_the_accounting(tmp_path, redis_client, redis_url, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))
    from cityvitals.areas import AreaTree, pukou_demo
    grid = AreaTree(pukou_demo()).ids("grid")[0]
    path = _export(tmp_path / "c.csv", [grid], [("2026-01-05 08:00", grid, 40), ("2026-01-05 08:00", "x", 1)])
    args = ["feeds", "replay", str(path), "--metric", "aqi", "--speed", "max",
            "--map", "time=time", "--map", "value=aqi", "--map", "area=grid"]
    assert main(args) == 0
    assert f"{path}: samples 1-2 of 2 read: 1 stored, 1 refused (unknown_area 1)" in capsys.readouterr().out
    assert main(args) == 0
    assert "was replayed to its end already under feed 'replay'" in capsys.readouterr().out


def test_the_admin_feed_table_shows_every_count():
    from dashboard.admin import feed_rows
    health = {"read": 9, "accepted": 5, "refused": 4, "refused_by": {"too_old": 1, "unknown_area": 3},
              "late": 2, "duplicate": 1, "superseded": 7, "last_sample": None}
    row = feed_rows({"export": health}, 0.0)[0]
    assert (row["read"], row["refused"], row["not_applied"]) == (9, "4 (unknown_area 3, too_old 1)", "2 · 1 · 7")
