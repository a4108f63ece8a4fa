"""`cityvitals backtest` and `cityvitals archive` as an operator runs them, over real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from cityvitals.archive import Archiver
from cityvitals.areas import LEVELS
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from tests.backtest.test_backtest import CATALOG, SERIES
from wiring.cli import main

REPO = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # 16:00 in Nanjing


@pytest.fixture
def env(tmp_path, monkeypatch) -> dict:
    """An installation of its own: data dir, SQLite (the demo district), archive directory."""
    values = {"CITYVITALS_DATA_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'cv.sqlite'}",
              "CITYVITALS_ARCHIVE_DIR": str(tmp_path / "archive")}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def _export(tmp_path: Path, grid: str) -> tuple[Path, Path]:
    """The test series as a CSV export with local times, and its mapping."""
    t0 = START.timestamp()
    rows = pd.DataFrame({"when": [datetime.fromtimestamp(t0 + 60 * k, UTC).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z")
                                  for k in range(len(SERIES))], "gauge": grid, "metres": SERIES})
    rows.loc[len(rows)] = ["2026-11-02T09:00:00+00:00", "nowhere", 1.0]  # an unknown grid: refused, said
    path = tmp_path / "levels.csv"
    rows.to_csv(path, index=False)
    mapping = tmp_path / "map.yaml"
    mapping.write_text("time: when\narea: {column: gauge}\nvalue: metres\nmetric: {value: river_level}\n")
    return path, mapping


def _yellow(tmp_path: Path, value: float) -> Path:
    path = tmp_path / f"yellow-{value}.yaml"
    path.write_text(CATALOG.read_text().replace("yellow: 7.5", f"yellow: {value}"))
    return path


def test_a_lower_yellow_over_a_replayed_file(tmp_path, env, demo_tree, capsys):
    grid = demo_tree.ids("grid")[0]
    export, mapping = _export(tmp_path, grid)
    code = main(["backtest", "--catalog", str(_yellow(tmp_path, 7.0)), "--against", str(CATALOG),
                 "--from", "2026-11-02T15:59", "--to", "2026-11-02T17:10", "--source", str(export),
                 "--mapping", str(mapping), "--json", "--csv", str(tmp_path / "timeline.csv")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{export}:{len(SERIES) + 2}: unknown area 'nowhere'" in err
    result = json.loads(out)
    assert (result["catalogs"]["new"]["warnings"], result["catalogs"]["current"]["warnings"]) == (3, 2)
    assert result["difference"] == [{"indicator": "level", "level": "grid", "gained": 1, "lost": 0, "earlier": 1,
                                     "earlier_by_s": 300.0, "later": 0, "later_by_s": None}]
    assert [(c["kind"], c["new_onset"]) for c in result["changes"]] == [
        ("earlier", "2026-11-02T08:30:00+00:00"), ("gained", "2026-11-02T08:10:00+00:00")]
    timeline = pd.read_csv(tmp_path / "timeline.csv")
    mine = timeline[(timeline["area"] == grid) & (timeline["catalog"] == "new")]
    assert mine["to_state"].tolist() == ["normal", "yellow", "normal", "yellow", "normal", "red"]


def test_the_text_report_and_one_areas_figures(tmp_path, env, demo_tree, capsys):
    grid = demo_tree.ids("grid")[0]
    export, mapping = _export(tmp_path, grid)
    other = demo_tree.ids("street")[-1]
    args = ["backtest", "--catalog", str(CATALOG), "--from", "2026-11-02T15:59", "--to", "2026-11-02T17:10",
            "--source", str(export), "--mapping", str(mapping)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "level                                grid             2" in text
    assert main([*args, "--area", other]) == 0
    assert "(no warnings, no time in yellow or red)" in capsys.readouterr().out


def test_a_catalog_that_fails_its_check_is_refused_with_its_positions(tmp_path, env, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CATALOG.read_text().replace("yellow: 7.5", "yellow: 9.5"))  # above red
    code = main(["backtest", "--catalog", str(bad), "--from", "2026-11-01", "--to", "2026-11-02"])
    err = capsys.readouterr().err
    assert code == 2 and "--catalog" in err and f"{bad}:11:" in err and "below red" in err


def test_a_profile_the_catalog_lacks_or_a_file_without_mapping_is_refused(tmp_path, env, capsys):
    code = main(["backtest", "--catalog", str(CATALOG), "--from", "2026-11-01", "--to", "2026-11-02",
                 "--profile", "flood_season"])
    assert code == 2 and "--profile flood_season: not a profile of both catalogs (--catalog has none)" in (
        capsys.readouterr().err)
    code = main(["backtest", "--catalog", str(CATALOG), "--from", "2026-11-01", "--to", "2026-11-02",
                 "--source", str(tmp_path / "x.csv")])
    assert code == 2 and "--source FILE needs --mapping MAP" in capsys.readouterr().err


def test_a_mapping_with_errors_is_refused_with_its_positions(tmp_path, env, demo_tree, capsys):
    export, mapping = _export(tmp_path, demo_tree.ids("grid")[0])
    mapping.write_text("time: when\narea: {column: gauge}\nvalue: metres\nmetric: {value: river_level}\ntimezon: UTC\n")
    code = main(["backtest", "--catalog", str(CATALOG), "--from", "2026-11-02", "--to", "2026-11-02",
                 "--source", str(export), "--mapping", str(mapping)])
    err = capsys.readouterr().err
    assert code == 2 and f"{mapping}:5:10: timezon: Extra inputs are not permitted" in err


def test_a_range_with_no_data_says_so(tmp_path, env, redis_client, demo_tree, capsys):
    _archive(tmp_path, redis_client, demo_tree)
    code = main(["backtest", "--catalog", str(CATALOG), "--from", "2026-10-01", "--to", "2026-10-31"])
    err = capsys.readouterr().err
    assert code == 2 and "has no samples from 2026-10-01T00:00+08:00 to 2026-11-01T00:00+08:00" in err
    assert "it holds days 2026-11-02 to 2026-11-02" in err


def _archive(tmp_path: Path, redis_client, demo_tree) -> int:
    """The test series of the first grid, ingested and archived; the samples archived."""
    grid = demo_tree.ids("grid")[0]
    t0 = START.timestamp()
    ingestor = Ingestor(redis_client, "gauge", registry(), {grid})
    assert ingestor.submit([{"metric": "river_level", "area": grid, "ts": t0 + 60 * k, "value": v}
                            for k, v in enumerate(SERIES)]).accepted == len(SERIES)
    levels = {a: lv for lv in LEVELS for a in demo_tree.ids(lv)}
    archiver = Archiver(redis_client, tmp_path / "archive", levels, consumer="archive-test", max_entries=1)
    return sum(archiver.round().samples for _ in range(len(SERIES)))


def test_the_archive_source_and_the_archive_commands(tmp_path, env, redis_client, demo_tree, capsys):
    assert _archive(tmp_path, redis_client, demo_tree) == len(SERIES)
    assert main(["backtest", "--catalog", str(CATALOG), "--from", "2026-11-02", "--to", "2026-11-02", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["catalogs"]["new"]["warnings"] == 2 and result["catalogs"]["new"]["samples"] == len(SERIES)
    assert main(["archive", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["days"], status["rows"], status["rows_by_level"]) == (1, len(SERIES), {"grid": len(SERIES)})
    assert status["files"] == 1  # one round per entry, and all in one file: the ingest sent one entry
    assert (status["oldest"], status["newest"]) == (START.timestamp(), START.timestamp() + 60 * (len(SERIES) - 1))
    assert main(["archive", "compact"]) == 0 and "1 partition(s)" in capsys.readouterr().out
    assert main(["archive", "expire", "--days", "100000"]) == 0 and "0 day(s)" in capsys.readouterr().out
    assert main(["archive", "expire", "--days", "1"]) == 0 and "2026-11-02" in capsys.readouterr().out
    assert main(["archive", "status"]) == 0 and "0 day(s)" in capsys.readouterr().out


def test_ctrl_c_stops_a_long_run_with_the_figures_so_far(tmp_path, env, demo_tree):
    export, mapping = _export(tmp_path, demo_tree.ids("grid")[0])
    proc = subprocess.Popen([sys.executable, "-m", "wiring.cli", "backtest", "--catalog", str(CATALOG),
                             "--from", "2026-11-02T15:59", "--to", "2026-12-31", "--source", str(export),
                             "--mapping", str(mapping), "--json"], cwd=REPO, env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # Ctrl-C as at a terminal, even when the tests run where SIGINT is ignored (a
                            # background job of a script inherits it ignored)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    first = ""
    while "ticks (" not in first:  # a progress line: the run is under way
        first = proc.stderr.readline()
        assert first or proc.poll() is None, "exited before any progress"
        assert time.monotonic() < deadline
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    result = json.loads(out)
    assert result["stopped"] and result["catalogs"]["new"]["warnings"] == 2
    assert "stopped at 2026-11" in err
