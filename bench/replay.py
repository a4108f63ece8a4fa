"""Benchmark the live replay of a wide CSV through a mapping against pandas reading the same file.

``python -m bench.replay [--rows N] [--chunk C] [--batch B] [--redis-url URL]`` prints one JSON object.

The file: ``N`` hourly rows of ten stations, the time in four columns (year, month, day, hour),
four pollutant columns with about 5% NA cells. ``replay_rows_per_s``: what ``cityvitals feeds replay
FILE --mapping MAP --speed max`` runs, ``ReplayFeed.run``: the file read in chunks of about ``C`` rows
(Arrow's CSV parser), each chunk mapped (time from four columns in a zone, station map, wide to
long), checked and stored through the ingest path ``B`` samples a batch with its checkpoint, into
Redis (an embedded redis-server unless ``--redis-url``; its work is in the wall clock, not in
``replay_cpu_s``). ``pandas_rows_per_s``: ``pd.read_csv`` of the same file with the options the
replay used to read it with (strings as found), the whole file at once. Each runs in a process of its
own so that ``peak_rss_mb`` is its own; ``ratio`` is replay over pandas. ``cpu_ratio`` (pandas' CPU
time over the replay process's, every thread counted) says the same where other work on the machine
makes the wall-clock ratio swing. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from bench.common import bench_redis
from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed

STATIONS = [f"S{k:02d}" for k in range(10)]
POLLUTANTS = {"PM2.5": "pm25", "PM10": "pm10", "NO2": "no2", "O3": "o3"}
BATCH = 500  # a replay's default batch (samples)


def write_file(path: Path, rows: int, seed: int = 7) -> None:
    """Write the wide CSV: hourly rows up to the last hour for ten stations in turn, ~5% NA cells."""
    rng = np.random.default_rng(seed)
    count = rows // len(STATIONS) + 1
    last = pd.Timestamp.now(tz="Asia/Shanghai").floor("h").tz_localize(None) - pd.Timedelta(hours=1)
    hours = pd.date_range(end=last, periods=count, freq="h").repeat(len(STATIONS))[:rows]
    frame = pd.DataFrame({"year": hours.year, "month": hours.month, "day": hours.day, "hour": hours.hour,
                          "station": np.tile(STATIONS, rows // len(STATIONS) + 1)[:rows]})
    for column in POLLUTANTS:
        values = rng.uniform(5, 150, rows).round(1).astype(str)
        values[rng.random(rows) < 0.05] = "NA"
        frame[column] = values
    frame.to_csv(path, index=False)


def mapping_for(grids: list[str]) -> dict:
    """The mapping file a person would write for the file."""
    return {
        "time": {"columns": ["year", "month", "day", "hour"], "format": "%Y %m %d %H", "timezone": "Asia/Shanghai"},
        "area": {"column": "station", "map": dict(zip(STATIONS, grids, strict=False))},
        "wide": POLLUTANTS,
    }


def run_replay(path: Path, rows: int, chunk: int, batch: int = BATCH, redis_url: str | None = None) -> dict:
    """Replay the whole file as the command does, storing every sample; rows/s and the file's accounting."""
    grids = [f"pukou.g{k}" for k in range(len(STATIONS))]
    mapping = path.with_suffix(".yaml")
    mapping.write_text(yaml.safe_dump(mapping_for(grids), allow_unicode=True), encoding="utf-8")
    client, _keep = bench_redis(redis_url)
    cfg = ReplayFeedConfig(type="replay", name="bench", file=path, mapping=mapping, speed="max", batch=batch)
    feed = ReplayFeed(cfg, Ingestor(client, "bench", registry(), set(grids)),
                      chunk_bytes=max(1, path.stat().st_size * chunk // rows))
    start, cpu = time.perf_counter(), time.process_time()
    feed.run(progress=True)
    seconds = time.perf_counter() - start
    report = feed.report
    assert report is not None and feed.rows == report.read  # the whole file, from the top
    return {"rows_per_s": round(rows / seconds), "seconds": round(seconds, 2), "samples": report.read,
            "stored": report.stored, "refused": sum(report.refused_by.values()),
            "in_redis": store.read_checkpoint(client, feed.checkpoint_field),
            "peak_rss_mb": _peak_mb(), "cpu_s": round(time.process_time() - cpu, 2)}


def run_pandas(path: Path, rows: int) -> dict:
    """Read the whole file with pandas (strings as found), the baseline."""
    start, cpu = time.perf_counter(), time.process_time()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    seconds = time.perf_counter() - start
    assert len(frame) == rows
    return {"rows_per_s": round(rows / seconds), "seconds": round(seconds, 2), "peak_rss_mb": _peak_mb(),
            "cpu_s": round(time.process_time() - cpu, 2)}


def _peak_mb() -> float:
    """Return the peak resident memory of this process (VmHWM: unlike ru_maxrss, not kept across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _child(part: str, path: Path, args: argparse.Namespace) -> dict:
    """Run one part in a fresh process, for its own peak memory."""
    url = ["--redis-url", args.redis_url] if args.redis_url else []
    out = subprocess.run([sys.executable, "-m", "bench.replay", "--part", part, "--file", str(path),
                          "--rows", str(args.rows), "--chunk", str(args.chunk), "--batch", str(args.batch), *url],
                         check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout)


def main() -> None:
    """Write the file, measure both in their own processes, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=BATCH, help="samples a batch (a replay's default)")
    parser.add_argument("--redis-url", default=None, help="emptied first; default: an embedded redis-server")
    parser.add_argument("--part", choices=["replay", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        result = run_replay(args.file, args.rows, args.chunk, args.batch, args.redis_url) \
            if args.part == "replay" else run_pandas(args.file, args.rows)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="cv-bench-") as folder:
        path = Path(folder) / "wide.csv"
        write_file(path, args.rows)
        pandas = _child("pandas", path, args)
        replay = _child("replay", path, args)
        size_mb = round(path.stat().st_size / 2**20, 1)
    print(json.dumps({"rows": args.rows, "file_mb": size_mb, "chunk": args.chunk, "batch": args.batch,
                      "replay_rows_per_s": replay["rows_per_s"], "pandas_rows_per_s": pandas["rows_per_s"],
                      "ratio": round(replay["rows_per_s"] / pandas["rows_per_s"], 3),
                      "samples": replay["samples"], "stored": replay["stored"], "refused": replay["refused"],
                      "checkpoint": replay["in_redis"],
                      "replay_peak_rss_mb": replay["peak_rss_mb"], "pandas_peak_rss_mb": pandas["peak_rss_mb"],
                      "replay_cpu_s": replay["cpu_s"], "pandas_cpu_s": pandas["cpu_s"],
                      "cpu_ratio": round(pandas["cpu_s"] / replay["cpu_s"], 3)}))


if __name__ == "__main__":
    main()
