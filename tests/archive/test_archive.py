"""The sample archive against real Redis and real files: partitions, bad input, replays, retention, compaction."""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq

from cityvitals import store
from cityvitals.archive import Archiver, RoundReport, read_samples
from cityvitals.archive.files import files, partition_dir, partitions
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from tests.archive.conftest import LEVELS
from tests.conftest import GRIDS

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _drain(archiver: Archiver) -> RoundReport:
    """Run rounds until the stream is archived; the rounds' figures summed."""
    total = RoundReport()
    while (r := archiver.round()).entries:
        for name in ("entries", "samples", "bad", "resent", "files"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
    return total


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return sorted(zip(frame.metric.astype(str), frame.area.astype(str), frame.ts, frame.value, strict=True))


def _everything(root) -> pd.DataFrame:
    return read_samples(root, 0.0, 4e9)


def test_ingested_samples_land_in_their_day_and_level_and_read_back(tmp_path, redis_client):
    t = NOW.timestamp()
    known = {*GRIDS, "d.s.c1", "elsewhere.g9"}  # a community, and an area the archiver's tree lacks
    ingestor = Ingestor(redis_client, "gauges", registry(), known, clock=lambda: t)
    items = [{"metric": "aqi", "area": a, "ts": t - 86400 * k - 60, "value": float(k * 10 + i)}
             for k in range(3) for i, a in enumerate(sorted(known))]
    assert ingestor.submit(items).accepted == len(items)
    archiver = Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test")
    report = _drain(archiver)
    assert (report.samples, report.bad) == (len(items), 0)
    found = {(day, level): sum(pq.read_metadata(p).num_rows for p in files(d))
             for day, level, d in partitions(tmp_path)}
    assert found == {(day, level): n for day in ("2026-12-05", "2026-12-06", "2026-12-07")
                     for level, n in (("community", 1), ("grid", 4), ("unknown", 1))}
    assert _rows(_everything(tmp_path)) == sorted((i["metric"], i["area"], i["ts"], i["value"]) for i in items)
    today = read_samples(tmp_path, NOW - timedelta(hours=2), NOW, areas=["d.s.c1.g1", "elsewhere.g9"])
    assert _rows(today) == [("aqi", "d.s.c1.g1", t - 60, 1.0), ("aqi", "elsewhere.g9", t - 60, 5.0)]
    assert read_samples(tmp_path, NOW, NOW + timedelta(days=1)).empty
    assert redis_client.xpending(store.SAMPLES, store.ARCHIVE_GROUP)["pending"] == 0


def test_a_bad_line_is_counted_and_logged_and_the_good_samples_around_it_kept(tmp_path, redis_client, caplog):
    t = NOW.timestamp()
    store.append_samples(redis_client, "a", [store.Sample("aqi", "d.s.c1.g1", t, 1.0)])
    bad = redis_client.xadd(store.SAMPLES, {"src": "b", "n": 4, "data": "\n".join([
        f"aqi\td.s.c1.g2\t{t!r}\t2.0", "aqi\td.s.c1.g2\tnot-a-time\t3.0", "half a line",
        f"aqi\td.s.c1.g3\t{float('nan')!r}\t4.0", f"aqi\td.s.c1.g3\t{t!r}\t5.0"])})
    store.append_samples(redis_client, "a", [store.Sample("aqi", "d.s.c1.g4", t, 6.0)])
    with caplog.at_level(logging.WARNING, logger="cityvitals.archive"):
        report = _drain(Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test"))
    assert (report.samples, report.bad) == (4, 3)
    assert f"entry {bad}: 3 sample(s)" in caplog.text
    assert sorted(_everything(tmp_path).value) == [1.0, 2.0, 5.0, 6.0]


def test_a_resent_batch_is_archived_once(tmp_path, redis_client):
    t = NOW.timestamp()
    samples = [store.Sample("aqi", g, t, float(i)) for i, g in enumerate(GRIDS)]
    for _ in range(2):  # a feed that resent after a lost reply: the same batch id twice in the stream
        pipe = redis_client.pipeline()
        store.queue_samples(pipe, "gauges", samples, bid="b-1")
        pipe.execute()
    report = _drain(Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test"))
    assert (report.samples, report.resent) == (4, 1)
    assert len(_everything(tmp_path)) == 4


def test_a_round_written_but_never_acknowledged_is_rewritten_not_doubled(tmp_path, redis_client):
    t = NOW.timestamp()
    samples = [store.Sample("aqi", g, t - 86400 * k, float(k)) for k in range(2) for g in GRIDS]
    store.append_samples(redis_client, "gauges", samples, batch=3)
    first = Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test")
    entries = store.read_raw_entries(redis_client, "archive-test", store.ARCHIVE_GROUP, count=first.max_entries)
    first.write(entries)  # and killed before it acknowledged them
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet"))
    restarted = Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test")
    assert _drain(restarted).samples == len(samples)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet")) == written  # same names
    assert len(_everything(tmp_path)) == len(samples)


def test_replayed_history_lands_in_its_own_days(tmp_path, redis_client):
    grids = sorted(GRIDS)
    rows = [(f"2026-03-0{d} 08:00:00", "pm25", g, str(d * 10 + i)) for d in (1, 2) for i, g in enumerate(grids)]
    path = tmp_path / "export.csv"
    pd.DataFrame(rows, columns=["time", "metric", "grid", "value"]).to_csv(path, index=False)
    cfg = ReplayFeedConfig(type="replay", name="export", file=path, speed="max", timezone="UTC",
                           map={"time": "time", "metric": "metric", "area": "grid", "value": "value"})
    assert ReplayFeed(cfg, Ingestor(redis_client, "export", registry(), set(grids))).run(progress=False) == len(rows)
    root = tmp_path / "archive"
    _drain(Archiver(redis_client, root, LEVELS, consumer="archive-test"))
    assert [(day, level) for day, level, _ in partitions(root)] == [("2026-03-01", "grid"), ("2026-03-02", "grid")]
    march_2 = read_samples(root, datetime(2026, 3, 2), datetime(2026, 3, 3))
    assert sorted(march_2.value) == [20.0, 21.0, 22.0, 23.0]


def test_retention_deletes_old_days_and_compaction_merges_files_keeping_every_sample(tmp_path, redis_client):
    t = NOW.timestamp()
    archiver = Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test", keep_days=90, max_entries=2)
    ages = (0, 1, 89, 91, 400)
    samples = [store.Sample(m, g, t - 86400 * age - i, float(i)) for age in ages for i in range(5)
               for m in ("aqi", "pm25") for g in GRIDS]
    store.append_samples(redis_client, "gauges", samples, batch=8)
    _drain(archiver)
    assert max(len(files(d)) for *_, d in partitions(tmp_path)) > 1  # many small files per partition
    twice = files(next(d for day, _, d in partitions(tmp_path) if day == "2026-12-06"))[0]
    shutil.copy(twice, twice.with_name("9" + twice.name))  # a round written again under another name
    assert len(_everything(tmp_path)) == len(samples)  # read once all the same
    gone, compacted = archiver.maintain(NOW)
    assert gone == ["2025-11-02", "2026-09-07"]
    assert compacted == 2
    counts = {day: len(files(d)) for day, _, d in partitions(tmp_path)}
    assert counts == {"2026-09-09": 1, "2026-12-06": 1, "2026-12-07": counts["2026-12-07"]}
    assert counts["2026-12-07"] > 1  # today's is still being written (and has fewer than max_files)
    assert _rows(_everything(tmp_path)) == sorted(s for s in samples if s.ts > t - 90 * 86400)
    merged = next(files(d)[0] for day, _, d in partitions(tmp_path) if day == "2026-12-06")
    table = pq.read_table(merged)
    assert table.column_names == ["metric", "area", "ts", "value", "batch"]
    assert table.select(["metric", "area", "ts"]).to_pylist() == sorted(
        table.select(["metric", "area", "ts"]).to_pylist(), key=lambda r: (r["metric"], r["area"], r["ts"]))


def test_today_is_merged_in_chunks_and_whole_once_the_day_is_over(tmp_path, redis_client):
    t = NOW.timestamp()
    archiver = Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test", max_entries=1, max_files=3)
    grid = partition_dir(tmp_path, "2026-12-07", "grid")

    def rounds(k: int, first: int) -> None:
        for i in range(first, first + k):
            store.append_samples(redis_client, "gauges", [store.Sample("aqi", g, t + i, float(i)) for g in GRIDS])
        _drain(archiver)

    rounds(7, 0)
    assert len(files(grid)) == 7
    assert archiver.maintain(NOW) == ([], 1)
    rounds(2, 7)
    assert archiver.maintain(NOW) == ([], 0)  # two round files and the first chunk: under max_files
    assert [p.name.startswith("c-") for p in files(grid)] == [False, False, True]
    assert archiver.maintain(NOW + timedelta(days=1)) == ([], 1)
    assert len(files(grid)) == 1
    assert sorted(_everything(tmp_path).value) == sorted(float(i) for i in range(9) for _ in GRIDS)
