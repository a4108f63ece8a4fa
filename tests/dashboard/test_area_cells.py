"""The compare view's numbers on the archive's matrices are those computed plainly from its steps (#19).

The archive holds a street's communities over three days: finished days merged (with their hourly twins and
compare-tier matrices), today's steps not yet; values with gaps (no value) and missing steps, one community
never archived. The reference reads every step and groups it with pandas: no matrix, no hourly mean.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from cityvitals import store
from cityvitals.archive.files import files, partitions
from cityvitals.archive.matrix import matrix_path
from cityvitals.archive.values import Bucket, maintain, read_values, values_root, write_step
from cityvitals.areas import Area, AreaTree
from dashboard import compare, context
from dashboard.area_cells import AreaCells
from dashboard.compare import LINE_POINTS, MULTIPLE_POINTS, compare_cells, in_window, ranking
from dashboard.context import DashboardContext
from dashboard.delta import plain
from dashboard.ranges import parse_range
from dashboard.trends import aligned, range_bucket
from indicators.states import State

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC
STEP = 1800.0
KIDS = [f"w.s.c{k:02d}" for k in range(12)]  # ids no other test uses: a process keeps map pieces by area id
SILENT = KIDS[5]  # never archived: no value, stale
D = {"id": "aqi", "name": {"zh": "空气", "en": "Air"}, "unit": "AQI", "direction": "higher_is_worse",
     "thresholds": {"yellow": 100, "red": 150}, "tier": "macro", "group": "eco_environment"}


@pytest.fixture
def archive(tmp_path, redis_client, sqlite_engine):
    """Three days of AQI (and noise, which no read asks for) at the communities; the finished days merged."""
    areas = [Area("w", None, "district", "w", "w", 10_000, 1.0, box(0, 0, 12, 1)),
             Area("w.s", "w", "street", "w.s", "w.s", 10_000, 1.0, box(0, 0, 12, 1))]
    areas += [Area(a, "w.s", "community", f"社区{k}", f"C{k}", 100 * (k + 1), 1.0, box(k, 0, k + 1, 1))
              for k, a in enumerate(KIDS)]
    rng = np.random.default_rng(19)
    archived = [a for a in KIDS if a != SILENT]
    for ts in np.arange(NOW - 3 * 86400, NOW, STEP):
        here = [a for a in archived if rng.random() > 0.1]  # a step missing now and then
        value = rng.uniform(20, 200, (2, len(here))) + np.arange(len(here)) * 3
        value[rng.random(value.shape) < 0.1] = np.nan  # no value
        state = rng.integers(int(State.NORMAL), int(State.RED) + 1, value.shape)
        write_step(values_root(tmp_path), float(ts), "community", ["aqi", "noise"], here, value, state)
    maintain(values_root(tmp_path), 90.0, datetime.fromtimestamp(NOW, UTC))
    store.write_definitions(redis_client, {"aqi": D})
    store.record_catalog(redis_client, str(tmp_path), errors=[])
    tree = AreaTree(areas)
    context.set_context(DashboardContext(redis_client, sqlite_engine, tree, 5.0, archive_path=tmp_path))
    return tmp_path


def steps(root, start: float, end: float) -> pd.DataFrame:
    """Every archived step of AQI at the communities in [start, end): the plain read."""
    return read_values(values_root(root), start, end, ["aqi"], KIDS, {"community"})


def plain_lines(frame: pd.DataFrame, bucket: Bucket) -> dict[str, tuple[float, list]]:
    """Each area's mean of finite values per bucket, from its first bucket with a step to its last (None: no value)."""
    seconds, offset = bucket.seconds, bucket.offset_s  # buckets start on the city's clock
    frame = frame.assign(bucket=np.floor((frame["ts"] + offset) / seconds) * seconds - offset)
    out = {}
    for area, rows in frame.groupby("area"):
        mean = rows.groupby("bucket")["value"].mean()
        first = mean.index[0]
        points = [None] * (int(round((mean.index[-1] - first) / seconds)) + 1)
        for at, v in mean.items():
            points[int(round((at - first) / seconds))] = None if np.isnan(v) else v
        out[area] = (first, points)
    return out


def same_line(got: tuple[float, list] | None, want: tuple[float, list]) -> bool:
    """The same first bucket and the same points (values to a relative 1e-12, gaps where the other has gaps)."""
    assert got is not None
    return got[0] == want[0] and len(got[1]) == len(want[1]) and all(
        (a is None and b is None) or (a is not None and b is not None and a == pytest.approx(b, rel=1e-12))
        for a, b in zip(got[1], want[1], strict=True))


@pytest.mark.parametrize("range_key", ["7d", "24h"])
def test_the_ranking_is_each_areas_mean_of_its_steps_and_its_state_at_the_last(archive, range_key):
    rng = parse_range({"range": range_key}, NOW + 60)
    window = aligned(rng, range_bucket(rng, LINE_POINTS))
    frame = steps(archive, window.start, window.end)
    want = frame.groupby("area")["value"].mean().sort_values(ascending=False)  # higher is worse: worst first
    last_state = frame.sort_values("ts", kind="stable").groupby("area")["state"].last()
    got = ranking("aqi", D, KIDS, rng)
    assert got["area"].tolist() == [*want.index, SILENT]  # no data ranks last
    assert got["value"].iloc[:-1].to_numpy() == pytest.approx(want.to_numpy(), rel=1e-12)
    assert np.isnan(got["value"].iloc[-1]) and got["state"].iloc[-1] == int(State.STALE)
    assert got.set_index("area")["state"].drop(SILENT).to_dict() == last_state.astype(int).to_dict()


@pytest.mark.parametrize("range_key", ["7d", "24h"])
def test_lines_and_small_multiples_are_the_steps_means_per_bucket(archive, range_key):
    rng = parse_range({"range": range_key}, NOW + 60)
    cells, bucket = compare_cells("aqi", KIDS, rng)
    lines = in_window(cells, bucket, rng)
    window = aligned(rng, bucket)
    for area, want in plain_lines(steps(archive, window.start, window.end), bucket).items():
        assert same_line(lines.line(KIDS.index(area)), want), area
    coarse = range_bucket(rng, MULTIPLE_POINTS)
    late = aligned(rng, coarse)
    multiples = cells.regrid(coarse.seconds, late.start, late.end)
    assert coarse.seconds > bucket.seconds
    for area, want in plain_lines(steps(archive, late.start, late.end), coarse).items():
        assert same_line(multiples.line(KIDS.index(area)), want), area
    assert lines.line(KIDS.index(SILENT)) is None


def test_the_week_is_read_from_the_matrices_of_the_merged_days(archive):
    merged = [p for day, _level, d in partitions(values_root(archive)) if day < "2027-01-15" for p in files(d)]
    assert len(merged) == 3 and all(matrix_path(p).exists() for p in merged)  # two whole days and the first's end


def test_the_page_draws_the_ranking_and_the_multiples_of_the_plain_computation(archive):
    rng = parse_range({"range": "7d"}, NOW + 60)
    window = aligned(rng, range_bucket(rng, LINE_POINTS))
    page = plain(compare.page("aqi", D, "w.s", KIDS, {}, window))
    figures = {g["props"]["config"]["toImageButtonOptions"]["filename"].rsplit("-", 1)[1]: g["props"]["figure"]
               for g in _graphs(page)}
    order = ranking("aqi", D, KIDS, rng)["area"].tolist()
    assert figures["bars"]["data"][0]["customdata"] == order[::-1]  # plotly draws the first bar at the bottom
    coarse = range_bucket(rng, MULTIPLE_POINTS)
    late = aligned(window, coarse)
    want = plain_lines(steps(archive, late.start, late.end), coarse)
    drawn = figures["multiples"]["data"]
    assert [t["name"] for t in drawn] == [context.get().tree[a].name_zh for a in order]
    for trace, area in zip(drawn, order, strict=True):
        points = want.get(area, (0.0, []))[1]
        assert trace["y"] == [None if v is None else float(f"{v:.4g}") for v in points], area


def test_cells_regrid_to_the_same_buckets_is_a_window_and_to_coarser_ones_merges_as_combine_does():
    cells = AreaCells(np.array(["a"], dtype=object), 0.0, 10.0, np.array([[2.0, 0.0, 9.0, 4.0]]),
                      np.array([[1, 0, 3, 2]]), np.array([[1, 0, 2, -1]], dtype=np.int8),
                      np.array([[1, 0, 1, -1]], dtype=np.int8))
    same = cells.regrid(10.0, 10.0, 50.0)
    assert same.total.tolist() == [[0.0, 9.0, 4.0, 0.0]] and same.state.tolist() == [[0, 2, -1, -1]]
    merged = cells.regrid(20.0, 0.0, 40.0)
    assert merged.total.tolist() == [[2.0, 13.0]] and merged.count.tolist() == [[1, 5]]
    assert merged.state.tolist() == [[1, 2]] and merged.last.tolist() == [[0, 1]]  # the last held step's
    assert merged.line(0) == (0.0, [2.0, 13.0 / 5])


def _graphs(form) -> list:
    """The dcc.Graph forms of a plain page."""
    if isinstance(form, list):
        return [g for child in form for g in _graphs(child)]
    if not isinstance(form, dict) or "props" not in form:
        return []
    return [form] * ("figure" in form["props"]) + _graphs(form["props"].get("children"))
