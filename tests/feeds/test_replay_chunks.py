"""A replay reads its file a chunk at a time: the same counts, row numbers and checkpoint as one read (real Redis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.replay.reader import file_identity, pace_origin, paced, read_chunks
from feeds.replay.samples import read_file_samples
from tests.conftest import stream_samples

ROWS, CHUNK = 60, 256  # bytes a chunk: about six rows of the file below
MAP = {"time": "time", "value": "aqi", "area": "grid"}


def _export(tmp_path: Path, grid: str) -> tuple[Path, int]:
    """A file of one grid, a minute a row, and where its first chunk ends; around that end a row of each kind.

    Every row has the same length, so the rows changed after the chunks are known fall in the same chunks.
    """
    times = [f"2026-01-05 08:{k:02d}" for k in range(ROWS)]
    values = [f"{40 + k % 50}" for k in range(ROWS)]
    path = tmp_path / "export.csv"
    pd.DataFrame({"time": times, "grid": grid, "aqi": values}).to_csv(path, index=False)
    b = len(next(read_chunks(path, CHUNK)))  # the first row of the second chunk
    values[b - 1] = values[b] = "xx"  # refused, one on each side of the boundary
    times[b + 1] = times[b - 2]  # repeats the newest row stored before it, in the first chunk
    times[b + 2] = "2026-01-05 07:59"  # older than every row before it, and no repeat
    pd.DataFrame({"time": times, "grid": grid, "aqi": values}).to_csv(path, index=False)
    assert len(next(read_chunks(path, CHUNK))) == b and len(list(read_chunks(path, CHUNK))) > 3
    return path, b


def _feed(path: Path, name: str, client, grid: str, chunk_bytes: int) -> ReplayFeed:
    cfg = ReplayFeedConfig(type="replay", name=name, file=path, metric="aqi", map=MAP, speed="max", batch=4)
    return ReplayFeed(cfg, Ingestor(client, name, registry(), {grid}), chunk_bytes=chunk_bytes)


def test_a_file_read_in_chunks_is_counted_as_one_read_whole(tmp_path, redis_client, demo_tree):
    grid = demo_tree.ids("grid")[0]
    path, b = _export(tmp_path, grid)
    chunked = _feed(path, "chunked", redis_client, grid, CHUNK)
    assert chunked.run(progress=False) == ROWS and chunked.rows == ROWS
    whole = _feed(path, "whole", redis_client, grid, 1 << 20)
    whole.run(progress=False)
    counts = lambda r: (r.read, r.stored, r.refused_by, r.duplicate, r.out_of_order)  # noqa: E731
    assert counts(chunked.report) == counts(whole.report) == (ROWS, ROWS - 2, {"bad_value": 2}, 1, 1)
    reasons = [f["reason"] for _, f in redis_client.xrange(store.DEADLETTER)]
    # The header is line 1: data row i is line i + 2, in whichever chunk it lies.
    assert [r.split(":")[0] for r in reasons] == [f"row {b + 1}", f"row {b + 2}"] * 2
    assert len(stream_samples(redis_client)) == 2 * (ROWS - 2)


def test_a_replay_stopped_in_a_later_chunk_resumes_without_losing_or_doubling_rows(tmp_path, redis_client,
                                                                                   demo_tree):
    grid = demo_tree.ids("grid")[0]
    path, b = _export(tmp_path, grid)
    field = store.checkpoint_field("export", file_identity(path))
    first = _feed(path, "export", redis_client, grid, CHUNK)
    assert first.run(max_rows=b + 3, progress=False) == b + 3  # stopped three rows into the second chunk
    assert first.rows is None  # not read to its end: a led replay is not done
    assert store.read_checkpoint(redis_client, field) == b + 3
    assert len(stream_samples(redis_client)) == b + 3 - 2  # both refused rows lie before the stop
    second = _feed(path, "export", redis_client, grid, CHUNK)
    assert second.run(progress=False) == ROWS - b - 3
    assert (second.report.start, second.report.stored, second.report.refused_by) == (b + 3, ROWS - b - 3, {})
    assert store.read_checkpoint(redis_client, field) == ROWS
    rows = pd.read_csv(path, dtype=str)
    rows = rows[rows.aqi != "xx"]
    expected = zip(pd.to_datetime(rows.time).dt.tz_localize("Asia/Shanghai").map(pd.Timestamp.timestamp),
                   rows.aqi.astype(float), strict=True)
    assert sorted((s.ts, s.value) for s in stream_samples(redis_client)) == sorted(expected)  # each good row once
    again = _feed(path, "export", redis_client, grid, CHUNK)
    assert again.run(progress=False) == 0 and again.report.done_before


def test_the_pace_goes_on_from_the_chunk_before():
    clock = [5.0]
    tick = dict(sleep=lambda s: clock.__setitem__(0, clock[0] + s), clock=lambda: clock[0])
    origin = pace_origin(np.array([np.nan, 0.0, 30.0]), clock=tick["clock"])  # a first chunk's times
    assert origin == (0.0, 5.0)
    assert list(paced(np.array([60.0, 120.0]), 60.0, origin=origin, **tick)) == [(0, 1), (1, 2)]
    assert clock[0] == 7.0  # the next chunk's rows are due 1 and 2 s after the first chunk's first row


def test_a_dry_run_and_a_backtest_read_count_a_file_in_chunks_as_read_whole(tmp_path, demo_tree):
    grid = demo_tree.ids("grid")[0]
    path, b = _export(tmp_path, grid)

    def dry_run(chunk_bytes: int) -> tuple[int, list[tuple[int, str]], int]:
        feed = _feed(path, "dry", None, grid, chunk_bytes)  # a dry run needs no store
        parts = list(feed.dry_run())
        refused = [(int(long.line[i]), reason) for long, checked in parts for i, reason in checked.refused]
        return sum(len(long) for long, _ in parts), refused, len(parts)

    samples, refused, parts = dry_run(CHUNK)
    assert (samples, refused[:1], parts) == (ROWS, [(b + 1, refused[0][1])], len(list(read_chunks(path, CHUNK))))
    assert dry_run(1 << 20) == (ROWS, refused, 1)
    assert [line for line, _ in refused] == [b + 1, b + 2] and all("must be a number" in r for _, r in refused)

    mapping = tmp_path / "map.yaml"
    mapping.write_text("time: time\narea: {column: grid}\nvalue: aqi\nmetric: {value: aqi}\n")
    chunked, whole = (read_file_samples(path, mapping, demo_tree, chunk_bytes=c) for c in (CHUNK, 1 << 20))
    assert (chunked.rows, chunked.refused) == (whole.rows, whole.refused) == (ROWS, refused)
    pd.testing.assert_frame_equal(chunked.frame.reset_index(drop=True), whole.frame.reset_index(drop=True))
    assert len(chunked.frame) == ROWS - 2 and chunked.frame["ts"].is_monotonic_increasing
