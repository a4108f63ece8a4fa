"""The replay adapter: CSV and Parquet exports with their own column names, paced, resumable (real Redis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.apply import read_times
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.replay.mapping import TimeSpec
from feeds.replay.reader import file_identity, paced, read_csv_chunks
from tests.conftest import stream_samples
from wiring.cli import main

MAP = {"time": "采集时间", "value": "数值", "metric": "指标", "area": "网格"}


def _csv(tmp_path, grids):
    rows = [("2026/01/05 08:00:00", "aqi", grids[0], "40"), ("2026/01/05 08:01:00", "aqi", grids[1], "abc"),
            ("2026/01/05 08:02:00", "aqi", "no-such-grid", "41"), ("2026/01/05 08:03:00", "pm25", grids[2], "30"),
            ("yesterday", "aqi", grids[3], "42"), ("2026/01/05 08:05:00", "aqi", grids[4], "43")]
    path = tmp_path / "export.csv"
    pd.DataFrame(rows, columns=["采集时间", "指标", "网格", "数值"]).to_csv(path, index=False)
    return path


def test_csv_bad_rows_refused_with_row_numbers_and_a_stopped_replay_resumes(tmp_path, redis_client, demo_tree):
    grids = demo_tree.ids("grid")
    cfg = ReplayFeedConfig(type="replay", name="export", file=_csv(tmp_path, grids), map=MAP,
                           time_format="%Y/%m/%d %H:%M:%S", timezone="Asia/Shanghai", speed="max", batch=2)
    ingestor = Ingestor(redis_client, "export", registry(), set(grids))
    assert ReplayFeed(cfg, ingestor).run(max_rows=3, progress=False) == 3  # stopped halfway
    assert store.read_checkpoint(redis_client, store.checkpoint_field("export", file_identity(cfg.file))) == 3
    assert ReplayFeed(cfg, ingestor).run(progress=False) == 3  # a new run goes on from row 4
    t0 = pd.Timestamp("2026-01-05 08:00:00", tz="Asia/Shanghai").timestamp()
    assert sorted((s.metric, s.area, s.ts, s.value) for s in stream_samples(redis_client)) == [
        ("aqi", grids[0], t0, 40.0), ("aqi", grids[4], t0 + 300, 43.0), ("pm25", grids[2], t0 + 180, 30.0)]
    reasons = [f["reason"] for _, f in redis_client.xrange(store.DEADLETTER)]
    assert reasons[0].startswith("row 3: value must be a number, got 'abc'")
    assert reasons[1].startswith("row 4: unknown area 'no-such-grid'")
    assert reasons[2].startswith("row 6: ts must be a number, got 'yesterday'")
    health = store.read_feed_health(redis_client)["export"]
    assert (health["accepted"], health["refused"]) == (3, 3)
    assert ReplayFeed(cfg, ingestor).run(progress=False) == 0  # done: nothing sent twice


def test_parquet_with_points_and_unix_times(tmp_path, redis_client, demo_tree):
    grids = demo_tree.ids("grid")
    inside = demo_tree[grids[9]].geometry.representative_point()
    frame = pd.DataFrame({"t": [1_767_000_000.0, 1_767_000_060.0], "x": [inside.x, 10.0], "y": [inside.y, 10.0],
                          "v": [12.5, 13.0]})
    path = tmp_path / "gps.parquet"
    frame.to_parquet(path)
    cfg = ReplayFeedConfig(type="replay", name="gps", file=path, metric="aqi",
                           map={"time": "t", "value": "v", "lon": "x", "lat": "y"}, speed="max")
    ingestor = Ingestor(redis_client, "gps", registry(), set(grids), locator=demo_tree.grid_locator())
    assert ReplayFeed(cfg, ingestor).run(progress=False) == 2
    assert [(s.area, s.ts, s.value) for s in stream_samples(redis_client)] == [(grids[9], 1_767_000_000.0, 12.5)]
    assert "row 3: point (10.0, 10.0) lies in no grid" in redis_client.xrange(store.DEADLETTER)[0][1]["reason"]


def test_pacing_follows_the_speed_factor():
    clock = [0.0]
    times = np.array([0.0, 30.0, 60.0, 120.0, np.nan])
    batches = list(paced(times, 60.0, sleep=lambda s: clock.__setitem__(0, clock[0] + s), clock=lambda: clock[0]))
    assert batches == [(0, 1), (1, 2), (2, 3), (3, 5)]  # one row due at a time; the timeless one with the last
    assert clock[0] == 2.0  # 120 s of data at 60x
    assert list(paced(times, None, start=1)) == [(1, 5)]
    column = pd.DataFrame({"t": ["2026-01-05T08:00:00+00:00", "2026-01-05 16:00:00", "bad"]})
    zoned = read_times(column, TimeSpec(column="t"))[0]
    assert zoned[0] == zoned[1] and np.isnan(zoned[2])


def test_replay_from_the_command_line_and_the_feeds_file(tmp_path, redis_client, redis_url, monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))
    from cityvitals.areas import AreaTree, pukou_demo
    grids = AreaTree(pukou_demo()).ids("grid")
    path = _csv(tmp_path, grids)
    args = ["feeds", "replay", str(path), "--time-format", "%Y/%m/%d %H:%M:%S", "--speed", "max"]
    args += [a for k, v in MAP.items() for a in ("--map", f"{k}={v}")]
    assert main(args) == 0
    assert "6 rows replayed: 3 samples stored, 3 refused" in capsys.readouterr().out
    assert len(stream_samples(redis_client)) == 3
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(f"feeds:\n  - type: replay\n    name: export\n    file: {path}\n    map: {{time: t}}\n"
                     f"    speed: 0\n", encoding="utf-8")
    assert main(["feeds", "check", str(feeds)]) == 1
    out = capsys.readouterr().out
    assert f"{feeds}:5:" in out and "value" in out and "Field required" in out


def test_pacing_never_asks_for_a_negative_sleep():
    # A clock that moves on between any two reads, as a real one does: a row due between two reads of it
    # once made paced() ask time.sleep for a negative wait (ValueError), which killed a replay.
    reads = iter(np.arange(0.0, 10.0, 0.001))
    waits: list[float] = []
    batches = list(paced(np.arange(0.0, 0.4, 0.002), 1.0, sleep=waits.append, clock=lambda: float(next(reads))))
    assert batches[-1][1] == 200 and waits and min(waits) > 0


@pytest.mark.parametrize("text", [
    "\ufefftime,area, value\n2026-01-01 00:00, g1 , 1.5\n\n2026-01-01 01:00,g2,NA\r\n",  # BOM, blanks, CRLF
    "a,b,c\n1,2\n3,4,5\n",  # a short row: Arrow refuses the file, pandas fills the cell
    'a,b\n1, "x,y"\n',  # a quoted cell after a blank
    'a,b\n1, "xy"\n2,"p q"\n',  # the same without a comma in it: Arrow would keep the quotes
    "a,a\n1,2\n",  # a repeated name
])
def test_the_replay_reads_a_csv_as_pandas_does_whole_or_in_chunks(tmp_path, text):
    path = tmp_path / "export.csv"
    path.write_text(text + "".join(text.split("\n", 1)[1] for _ in range(50)), encoding="utf-8")
    expected = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    whole = list(read_csv_chunks(path))  # the default block holds the whole file
    assert len(whole) == 1
    pd.testing.assert_frame_equal(whole[0], expected, check_dtype=False)
    chunks = list(read_csv_chunks(path, chunk_bytes=64))
    assert len(chunks) > 1
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), expected, check_dtype=False)
