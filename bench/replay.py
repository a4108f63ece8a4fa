"""Benchmark a wide CSV through a replay mapping against pandas reading the same file.

``python -m bench.replay [--rows N] [--chunk C]`` prints one JSON object.

The file: ``N`` hourly rows of ten stations, the time in four columns (year, month, day, hour),
four pollutant columns with about 5% NA cells. ``mapping_rows_per_s``: the file read in chunks of
about ``C`` rows (``read_csv_chunks``: the replay's reader, Arrow's CSV parser), each mapped (time
from four columns in a zone, station map, wide to long), its metrics, areas and values checked once
(``Long.check_known``) and every sample's time checked as a replay submits it (``check_columns``, 500
at a time), storing nothing: the replay's own share of a real one (Redis's share is bench.ingest's).
``pandas_rows_per_s``: ``pd.read_csv`` of the same file with the options the replay used to read it
with (strings as found), the whole file at once. Each runs in a process of its own so that
``peak_rss_mb`` is its own; ``ratio`` is mapping over pandas (the goal is at least 0.3). The CPU
time of the same spans (``cpu_ratio``: pandas' over the mapping's, every thread counted) says the same
where other work on the machine makes the wall-clock ratio swing. Progress goes to
stderr.
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
from tqdm import tqdm

from cityvitals.metrics import registry
from feeds.ingest import Rules, check_columns
from feeds.replay.apply import apply
from feeds.replay.mapping import Mapping
from feeds.replay.reader import read_csv_chunks

STATIONS = [f"S{k:02d}" for k in range(10)]
POLLUTANTS = {"PM2.5": "pm25", "PM10": "pm10", "NO2": "no2", "O3": "o3"}
BATCH = 500  # a replay's default batch


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


def mapping_for(grids: list[str]) -> Mapping:
    """The mapping a person would write for the file."""
    return Mapping.model_validate({
        "time": {"columns": ["year", "month", "day", "hour"], "format": "%Y %m %d %H", "timezone": "Asia/Shanghai"},
        "area": {"column": "station", "map": dict(zip(STATIONS, grids, strict=False))},
        "wide": POLLUTANTS,
    })


def run_mapping(path: Path, rows: int, chunk: int, batch: int = BATCH) -> dict:
    """Map and check every sample of the file, a chunk at a time; rows/s and samples."""
    grids = [f"pukou.g{k}" for k in range(len(STATIONS))]
    mapping, rules = mapping_for(grids), Rules(registry(), set(grids))
    samples = refused = 0
    start, cpu = time.perf_counter(), time.process_time()
    now = time.time()
    with tqdm(total=rows, unit="row", desc="mapping", file=sys.stderr) as bar:
        line = 2
        for frame in read_csv_chunks(path, max(1, path.stat().st_size * chunk // rows)):
            long = apply(frame, mapping, first_line=line)
            line += len(frame)
            long.check_known(rules)  # as the replay feed does once it has read the file
            for first in range(0, len(long), batch):
                stop = min(first + batch, len(long))
                checked = check_columns(long.columns(first, stop), rules, now,
                                        lambda i, first=first, long=long: long.items(first + i, first + i + 1)[0])
                samples += len(checked.rows)
                refused += len(checked.refused)
            bar.update(len(frame))
    seconds = time.perf_counter() - start
    return {"rows_per_s": round(rows / seconds), "seconds": round(seconds, 2), "samples": samples,
            "refused": refused, "peak_rss_mb": _peak_mb(), "cpu_s": round(time.process_time() - cpu, 2)}


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


def _child(part: str, path: Path, rows: int, chunk: int, batch: int) -> dict:
    """Run one part in a fresh process, for its own peak memory."""
    out = subprocess.run([sys.executable, "-m", "bench.replay", "--part", part, "--file", str(path),
                          "--rows", str(rows), "--chunk", str(chunk), "--batch", str(batch)],
                         check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(out.stdout)


def main() -> None:
    """Write the file, measure both in their own processes, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=BATCH, help="samples per check (a replay's batch:)")
    parser.add_argument("--part", choices=["mapping", "pandas"], help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        result = run_mapping(args.file, args.rows, args.chunk, args.batch) if args.part == "mapping" \
            else run_pandas(args.file, args.rows)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="cv-bench-") as folder:
        path = Path(folder) / "wide.csv"
        write_file(path, args.rows)
        pandas = _child("pandas", path, args.rows, args.chunk, args.batch)
        mapping = _child("mapping", path, args.rows, args.chunk, args.batch)
        size_mb = round(path.stat().st_size / 2**20, 1)
    print(json.dumps({"rows": args.rows, "file_mb": size_mb, "chunk": args.chunk, "batch": args.batch,
                      "mapping_rows_per_s": mapping["rows_per_s"], "pandas_rows_per_s": pandas["rows_per_s"],
                      "ratio": round(mapping["rows_per_s"] / pandas["rows_per_s"], 3),
                      "samples": mapping["samples"], "refused": mapping["refused"],
                      "mapping_peak_rss_mb": mapping["peak_rss_mb"], "pandas_peak_rss_mb": pandas["peak_rss_mb"],
                      "mapping_cpu_s": mapping["cpu_s"], "pandas_cpu_s": pandas["cpu_s"],
                      "cpu_ratio": round(pandas["cpu_s"] / mapping["cpu_s"], 3)}))


if __name__ == "__main__":
    main()
