"""A replay through a Redis outage (a private redis-server killed and restarted): it neither crashes
nor loses its place, and a replay that dies while Redis is away resumes without skipping a row."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pandas as pd

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.replay.reader import file_identity
from tests.conftest import _wait_for, stream_samples

GRIDS = [f"pukou.jiangpu.c01.g{k:02d}" for k in range(1, 11)]
ROWS = 3000
T0 = 1_767_000_000.0


def _export(tmp_path) -> ReplayFeedConfig:
    """3,000 rows a second apart, replayed at 1,500x (about 2 s), 50 rows a batch."""
    frame = pd.DataFrame({"t": [T0 + k for k in range(ROWS)], "g": [GRIDS[k % 10] for k in range(ROWS)],
                          "v": [float(k % 400) for k in range(ROWS)]})
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    return ReplayFeedConfig(type="replay", name="export", file=path, metric="aqi",
                            map={"time": "t", "value": "v", "area": "g"}, speed=1500, batch=50)


def _rows_in(client) -> set[int]:
    """Row numbers (0-based) of the export whose sample is in the stream."""
    return {int(round(s.ts - T0)) for s in stream_samples(client)}


def _field(cfg: ReplayFeedConfig) -> str:
    return store.checkpoint_field(cfg.name, file_identity(cfg.file))


def _replaying(feed: ReplayFeed, out: list) -> threading.Thread:
    def run() -> None:
        try:
            out.append(feed.run(progress=False))
        except Exception as exc:  # noqa: BLE001  (the test says what went wrong)
            out.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_replay_goes_through_an_outage_without_crashing_or_losing_a_row(tmp_path, server):
    cfg = _export(tmp_path)
    watch = server.client()
    ingestor = Ingestor(server.client(), cfg.name, registry(), set(GRIDS), buffer_limit=400)
    out: list = []
    thread = _replaying(ReplayFeed(cfg, ingestor), out)
    _wait_for(lambda: store.read_checkpoint(watch, _field(cfg)) >= 500, "replay under way")
    server.kill()
    _wait_for(lambda: ingestor.buffered() >= 350, "the buffer filling while Redis is away")
    assert thread.is_alive()  # paused for room, not crashed and not dropping
    server.start()
    thread.join(60)
    assert out == [ROWS]
    client = server.client()
    assert _rows_in(client) == set(range(ROWS))
    assert store.read_checkpoint(client, _field(cfg)) == ROWS
    health = store.read_feed_health(client)[cfg.name]
    assert (health["accepted"], health["overflowed"], health["refused"]) == (ROWS, 0, 0)
    assert health["store_errors"] > 0


def test_a_replay_killed_while_redis_is_away_resumes_at_its_first_undelivered_row(tmp_path, server):
    cfg = _export(tmp_path)
    watch = server.client()
    env = dict(os.environ, REDIS_URL=f"redis://127.0.0.1:{server.port}/0", CITYVITALS_DATA_DIR=str(tmp_path / "data"))
    log = tmp_path / "replay.log"
    replay = subprocess.Popen([sys.executable, "-m", "wiring.cli", "feeds", "replay", str(cfg.file), "--name",
                               cfg.name, "--metric", "aqi", "--map", "time=t", "--map", "value=v", "--map", "area=g",
                               "--speed", "1500"], env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        _wait_for(lambda: store.read_checkpoint(watch, _field(cfg)) >= 500, "replay under way", timeout=60)
        server.kill()
        # the replay carries on into its buffer
        _wait_for(lambda: "Redis unavailable, buffering" in log.read_text(), "the replay buffering", timeout=30)
        assert replay.poll() is None  # not crashed by the outage
    finally:
        replay.kill()  # dies with rows in its buffer
        replay.wait(10)
    server.start()
    client = server.client()
    checkpoint = store.read_checkpoint(client, _field(cfg))
    assert 500 <= checkpoint < ROWS
    assert set(range(checkpoint)) <= _rows_in(client)  # never ahead of what is in Redis
    second = ReplayFeed(cfg, Ingestor(server.client(), cfg.name, registry(), set(GRIDS)))
    assert second.run(progress=False) == ROWS - checkpoint
    assert _rows_in(client) == set(range(ROWS))
    assert store.read_checkpoint(client, _field(cfg)) == ROWS
