"""The value archive: the engine writes every indicator at every level once per step; reads bucket to fit."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cityvitals import store
from cityvitals.archive.files import day_of, files, partition_dir, partitions
from cityvitals.archive.hourly import HOURLY_DIR, twin
from cityvitals.archive.matrix import MATRIX_DIR, matrix_path
from cityvitals.archive.values import (
    Bucket,
    bucket_for,
    in_buckets,
    maintain,
    read_raw,
    read_values,
    values_root,
    write_step,
)
from cityvitals.store import Sample
from indicators.loader import load_catalog
from indicators.service import EngineService
from indicators.states import State
from indicators.value_recorder import ValueRecorder
from tests.conftest import EVIDENCE_CATALOG
from tests.conftest import TWENTY_GRIDS as GRIDS
from tests.conftest import twenty_grid_tree as tree

DAY0 = 1_800_000_000.0 - 1_800_000_000.0 % 86400  # a UTC midnight


def test_every_level_is_written_once_per_step_and_read_back_with_its_states(redis_client, tmp_path):
    service = EngineService(redis_client, None, tree(), load_catalog([EVIDENCE_CATALOG]), consumer="t",
                            values=ValueRecorder(tmp_path, step_s=300))
    for k, now in enumerate(DAY0 + 60.0 * k for k in range(12)):  # 12 ticks a minute apart: 3 steps of 5 min
        store.append_samples(redis_client, "f", [Sample("fire_calls_24h", g, now - 1, float(k if g == GRIDS[0]
                                                                                              else 0)) for g in GRIDS])
        service.tick(float(now))
    frame = read_values(values_root(tmp_path), DAY0, DAY0 + 3600)
    levels = {lv: tree().ids(lv) for lv in ("district", "street", "community", "grid")}
    assert sorted(frame["ts"].unique()) == [DAY0, DAY0 + 300, DAY0 + 600]  # the first tick of each step
    assert len(frame) == 3 * len(service.engine.ind_ids) * sum(len(a) for a in levels.values())
    fires = frame[(frame.indicator == "fires") & (frame.area == GRIDS[0])]
    assert fires["value"].tolist() == [0.0, 5.0, 10.0]  # the samples of ticks 0, 5 and 10
    record = store.read_states(redis_client, GRIDS[0])["fires"]  # the archive's last state is the live one's
    assert State(int(fires["state"].iloc[-1])).label == record["s"]


def test_a_bucket_is_the_mean_value_and_the_worst_state_of_its_steps(tmp_path):
    root = tmp_path
    for k, (v, s) in enumerate([(1.0, State.NORMAL), (3.0, State.RED), (np.nan, State.STALE), (8.0, State.NORMAL)]):
        write_step(root, DAY0 + 300 * k, "grid", ["a"], ["g1"], np.array([[v]]), np.array([[int(s)]]))
    hourly = read_values(root, DAY0, DAY0 + 3600, bucket=Bucket(3600, "1 h"))
    assert hourly[["value", "state"]].values.tolist() == [[4.0, int(State.RED)]]  # NaN left out of the mean
    fifteen = read_values(root, DAY0, DAY0 + 3600, bucket=Bucket(900, "15 min"))
    assert fifteen["value"].tolist() == [2.0, 8.0]
    assert read_values(root, DAY0 + 300, DAY0 + 600)["value"].tolist() == [3.0]  # end excluded


def test_day_buckets_start_at_the_city_midnight_not_utc():
    shanghai = 8 * 3600.0  # Asia/Shanghai: its midnight is 16:00 UTC the day before
    day = bucket_for(90 * 86400, offset_s=shanghai)
    hour = bucket_for(7 * 86400, offset_s=shanghai)
    assert (day.label, day.offset_s, hour.label, hour.offset_s) == ("1 d", shanghai, "1 h", 0.0)
    # a step an hour before the city's midnight and one an hour after: two city days, one UTC day
    rows = pd.DataFrame({"indicator": ["a", "a"], "area": ["g1", "g1"], "ts": [DAY0 - 9 * 3600, DAY0 - 7 * 3600],
                         "value": [1.0, 3.0], "state": np.array([2, 2], dtype=np.int8)})
    assert in_buckets(rows, day)["ts"].tolist() == [DAY0 - 86400 - shanghai, DAY0 - shanghai]
    assert in_buckets(rows, Bucket(86400, "1 d"))["value"].tolist() == [2.0]


@pytest.mark.parametrize(("span_h", "label"), [(1, "5 min"), (24, "5 min"), (24 * 7, "1 h"), (24 * 30, "6 h"),
                                                (24 * 90, "1 d")])
def test_the_bucket_fits_the_range(span_h, label):
    assert bucket_for(span_h * 3600).label == label
    assert bucket_for(24 * 3600, max_points=60).label == "1 h"


def test_step_files_are_merged_by_day_and_old_days_expire(tmp_path):
    for day in range(3):
        for k in range(5):
            write_step(tmp_path, DAY0 + day * 86400 + 300 * k, "grid", ["a", "b"], ["g1", "g2"],
                       np.full((2, 2), float(k)), np.full((2, 2), 2))
    now = datetime.fromtimestamp(DAY0 + 2 * 86400 + 3600, UTC)
    gone, compacted = maintain(tmp_path, keep_days=1.0, now=now, max_files=4)
    assert gone == [datetime.fromtimestamp(DAY0, UTC).strftime("%Y-%m-%d")]
    assert compacted == 2  # yesterday (a finished day) and today (5 step files >= 4)
    assert [len(files(d)) for _day, _lv, d in partitions(tmp_path)] == [1, 1]
    assert len(read_values(tmp_path, DAY0, DAY0 + 3 * 86400)) == 2 * 5 * 4  # nothing lost in the merge


def _random_steps(root, first: float, steps: int, rng: np.random.Generator, level: str = "grid") -> None:
    """Steps of 5 min for two indicators in three areas: random values, some NaN, random states."""
    for k in range(steps):
        value = rng.uniform(0.0, 100.0, (2, 3))
        value[rng.random((2, 3)) < 0.1] = np.nan
        write_step(root, first + 300 * k, level, ["b", "a"], ["g2", "g1", "g3"], value,
                   rng.integers(0, 5, (2, 3)).astype(np.int8))


def test_the_hourly_tier_holds_the_hourly_means_of_the_fine_archive(tmp_path):
    _random_steps(tmp_path, DAY0 + 7, 288, np.random.default_rng(1))  # a whole day, 7 s past each step
    steps = read_raw(tmp_path, DAY0, DAY0 + 86400)
    maintain(tmp_path, keep_days=30.0, now=datetime.fromtimestamp(DAY0 + 86400 + 60, UTC))
    (merged,) = files(partition_dir(tmp_path, day_of(DAY0), "grid"))
    coarse = pq.read_table(twin(merged)).to_pandas()
    hours = steps.assign(ts=steps["ts"] // 3600 * 3600).groupby(["indicator", "area", "ts"])
    expected = pd.DataFrame({"value": hours["value"].mean(), "n": hours["value"].count(),
                             "state": hours["state"].max(), "last": hours["state"].last()}).reset_index()
    assert len(coarse) == len(expected) == 2 * 3 * 24
    assert coarse[["indicator", "area", "ts"]].equals(expected[["indicator", "area", "ts"]])  # indicator first
    assert np.allclose(coarse["value"], expected["value"], equal_nan=True)
    assert coarse["n"].tolist() == expected["n"].tolist() and coarse["state"].tolist() == expected["state"].tolist()
    assert coarse["last"].tolist() == expected["last"].tolist()


@pytest.mark.parametrize("level", ["grid", "street"])  # a street's merged files have matrices, a grid's do not
def test_a_read_of_whole_hours_is_the_same_from_the_coarse_tiers_as_from_the_steps(tmp_path, level):
    # 14 steps of today merged five at a time: the first hour is in two merged files and a step file
    rng = np.random.default_rng(2)
    _random_steps(tmp_path, DAY0, 288, rng, level)
    hourly = Bucket(3600, "1 h")
    for k, steps in enumerate((5, 5, 4)):
        _random_steps(tmp_path, DAY0 + 86400 + 1500 * k, steps, rng, level)
        if k < 2:
            maintain(tmp_path, keep_days=30.0, now=datetime.fromtimestamp(DAY0 + 86400 + 1500 * (k + 1), UTC),
                     max_files=5)
    from_steps = in_buckets(read_raw(tmp_path, DAY0, DAY0 + 86400 + 7200), hourly)
    assert len(list((tmp_path / HOURLY_DIR).rglob("*.parquet"))) == 1 + 2  # yesterday's day, two rounds today
    assert len(list((tmp_path / MATRIX_DIR).rglob("*.arrow"))) == (3 if level == "street" else 0)
    span = (DAY0, DAY0 + 86400 + 7200)
    matrices = read_values(tmp_path, *span, ["a", "b"], bucket=hourly)
    some = read_values(tmp_path, *span, ["a", "b"], ["g3", "g1", "nowhere"], bucket=hourly)  # areas picked
    for path in (tmp_path / MATRIX_DIR).rglob("*.arrow"):  # read from the twins
        path.unlink()
    twins = read_values(tmp_path, *span, ["a", "b"], bucket=hourly)
    for path in (tmp_path / HOURLY_DIR).rglob("*.parquet"):  # read as steps: no twins
        path.unlink()
    before = read_values(tmp_path, *span, ["a", "b"], bucket=hourly)
    six = read_values(tmp_path, *span, ["a"], ["g1"], bucket=Bucket(6 * 3600, "6 h"))
    assert len(matrices) == len(twins) == len(before) == 2 * 3 * 26
    for frame in (before, twins, matrices):
        columns = ["indicator", "area", "ts", "n", "state", "last"]
        assert frame[columns].values.tolist() == from_steps[columns].values.tolist()
        assert np.allclose(frame["value"], from_steps["value"], equal_nan=True)
    assert matrices.equals(twins)  # the same frame, to the last bit of every mean
    assert some.equals(twins[twins["area"].isin(["g1", "g3"])].reset_index(drop=True))
    cell = from_steps[(from_steps.indicator == "a") & (from_steps.area == "g1") & (from_steps.ts < DAY0 + 6 * 3600)]
    assert six["value"].iloc[0] == pytest.approx((cell["value"] * cell["n"]).sum() / cell["n"].sum())


def test_maintenance_gives_a_merged_file_of_before_the_compare_tier_its_matrices(tmp_path):
    _random_steps(tmp_path, DAY0, 24, np.random.default_rng(3), "street")
    maintain(tmp_path, keep_days=30.0, now=datetime.fromtimestamp(DAY0 + 86400 + 60, UTC))
    (merged,) = files(partition_dir(tmp_path, day_of(DAY0), "street"))
    hourly = Bucket(3600, "1 h")
    with_matrices = read_values(tmp_path, DAY0, DAY0 + 86400, ["a"], bucket=hourly)
    matrix_path(merged).unlink()
    maintain(tmp_path, keep_days=30.0, now=datetime.fromtimestamp(DAY0 + 86400 + 120, UTC))
    assert matrix_path(merged).exists()
    assert read_values(tmp_path, DAY0, DAY0 + 86400, ["a"], bucket=hourly).equals(with_matrices)
    maintain(tmp_path, keep_days=0.5, now=datetime.fromtimestamp(DAY0 + 3 * 86400, UTC))  # past retention: gone
    assert not list((tmp_path / MATRIX_DIR).rglob("*.arrow"))
