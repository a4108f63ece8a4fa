"""Replay mapping files: validated where they are wrong; times from several columns, constants, value maps,
wide files, daylight-saving nights; applied to exports made here."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from feeds.replay.apply import apply
from feeds.replay.mapping import MappingError, load_mapping


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_every_problem_is_named_with_file_line_and_column(tmp_path):
    path = _mapping(tmp_path, """\
        time: {columns: [date, hour], format: "%Y-%m-%d %H", timezone: Mars/Olympus, dst_gap: sooner}
        metric: {column: kind, value: aqi}
        area: {value: g1}
        value: v
        colour: red
        """)
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    lines = str(error.value).splitlines()
    assert lines[0].startswith(f"{path}:1:") and "time.timezone" in lines[0]
    assert "unknown time zone 'Mars/Olympus'" in lines[0]
    assert any(f"{path}:1:" in line and "time.dst_gap" in line and "'refuse', 'earlier' or 'later'" in line
               for line in lines)
    assert any(line.startswith(f"{path}:2:9: metric: ") and "give column: NAME" in line for line in lines)
    assert f"{path}:5:9: colour: Extra inputs are not permitted" in lines


def test_a_missing_time_says_so_in_one_line(tmp_path):
    with pytest.raises(MappingError) as error:
        load_mapping(_mapping(tmp_path, "value: v\nmetric: {value: aqi}\narea: {value: g1}\n"))
    assert str(error.value) == f"{tmp_path / 'mapping.yaml'}:1:1: time: Field required"


def test_date_and_hour_columns_na_values_a_wide_file_and_a_constant_area(tmp_path):
    mapping = load_mapping(_mapping(tmp_path, """\
        time: {columns: [date, hour], format: "%Y-%m-%d %H", timezone: Asia/Shanghai}
        area: {value: pukou.jiangpu.c01.g01}
        wide: {PM2.5: pm25, PM10: pm10, NO2: no2}
        """))
    frame = pd.DataFrame({"date": ["2026-01-05", "2026-01-05", "2026-01-05"], "hour": ["8", "9", "25"],
                          "PM2.5": ["35", "NA", "40"], "PM10": ["60", "", "-"], "NO2": ["20", "21", "abc"]},
                         dtype=str)
    long = apply(frame, mapping)
    t8 = pd.Timestamp("2026-01-05 08:00", tz="Asia/Shanghai").timestamp()
    assert long.empty == 3  # NA, "" and "-"
    assert long.line.tolist() == [2, 2, 2, 3, 4, 4]
    assert long.metric.tolist() == ["pm25", "pm10", "no2", "no2", "pm25", "no2"]
    assert long.ts[:4].tolist() == [t8, t8, t8, t8 + 3600] and np.isnan(long.ts[4:]).all()  # hour 25: no time
    assert long.value.tolist() == [35.0, 60.0, 20.0, 21.0, 40.0, "abc"]
    assert set(long.area) == {"pukou.jiangpu.c01.g01"}
    items = long.items(4, 5)
    assert items == [{"metric": "pm25", "ts": "2026-01-05 25", "value": 40.0, "area": "pukou.jiangpu.c01.g01"}]


def test_value_maps_refuse_unknown_values_with_the_row(tmp_path):
    mapping = load_mapping(_mapping(tmp_path, """\
        time: 时间
        metric: {column: 类型, map: {细颗粒物: pm25, 二氧化氮: no2}}
        area: {column: 站点, map: {浦口站: pukou.jiangpu.c01.g01}}
        value: {column: 数值, map: {未检出: 0}}
        """))
    frame = pd.DataFrame({"时间": ["2026-01-05T08:00:00+08:00"] * 3, "类型": ["细颗粒物", "臭氧", "二氧化氮"],
                          "站点": ["浦口站", "浦口站", "江宁站"], "数值": ["未检出", "12", "30"]})
    long = apply(frame, mapping)
    assert long.metric.tolist() == ["pm25", "臭氧", "no2"]
    assert long.value.tolist() == [0.0, 12.0, 30.0]
    assert long.reason.tolist() == [None, "metric '臭氧' of column '类型' is not in its map",
                                    "area '江宁站' of column '站点' is not in its map"]
    assert long.refusals(0, 3) == {1: "metric '臭氧' of column '类型' is not in its map",
                                   2: "area '江宁站' of column '站点' is not in its map"}


NEW_YORK_NIGHTS = ["2012-03-11 01:30", "2012-03-11 02:30", "2012-03-11 03:30",  # clocks skip 02:00-03:00
                   "2012-11-04 00:30", "2012-11-04 01:30", "2012-11-04 02:30"]  # 01:00-02:00 happens twice


@pytest.mark.parametrize(("option", "expected_hours"), [
    # Hours after 01:30 EST (March) or 00:30 EDT (November); 02:30 EST in November is 3 h after 00:30 EDT.
    ("refuse", [0, None, 1, 0, None, 3]),
    ("earlier", [0, 0, 1, 0, 1, 3]),  # the gap's 02:30 moved 1 h back, the overlap's first 01:30 (EDT)
    ("later", [0, 1, 1, 0, 2, 3]),  # the gap's 02:30 moved 1 h on (= 03:30), the overlap's second 01:30 (EST)
])
def test_daylight_saving_gaps_and_overlaps(tmp_path, option, expected_hours):
    mapping = load_mapping(_mapping(tmp_path, f"""\
        time: {{column: t, format: "%Y-%m-%d %H:%M", timezone: America/New_York,
                dst_gap: {option}, dst_overlap: {option}}}
        metric: {{value: aqi}}
        area: {{value: g1}}
        value: v
        """))
    long = apply(pd.DataFrame({"t": NEW_YORK_NIGHTS, "v": ["1"] * 6}), mapping)
    base = [pd.Timestamp(t, tz="America/New_York").timestamp() for t in ("2012-03-11 01:30", "2012-03-11 01:30",
                                                                        "2012-03-11 01:30", "2012-11-04 00:30",
                                                                        "2012-11-04 00:30", "2012-11-04 00:30")]
    hours = [None if np.isnan(ts) else round((ts - b) / 3600) for ts, b in zip(long.ts, base, strict=True)]
    assert hours == expected_hours
    if option == "refuse":
        assert long.reason[1] == ("time '2012-03-11 02:30' does not exist in America/New_York (daylight saving); "
                                  "set dst_gap: earlier or later to place it")
        assert long.reason[4] == ("time '2012-11-04 01:30' happens twice in America/New_York (daylight saving); "
                                  "set dst_overlap: earlier or later to place it")
    else:
        assert set(long.reason) == {None}


def _env(tmp_path, redis_url, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))


def _wide_export(tmp_path: Path, grid: str) -> tuple[Path, Path]:
    """Two stations' hourly pollutants in one wide file, with NA cells, a station not in the map and an old row."""
    path = tmp_path / "hourly.csv"
    pd.DataFrame({"year": ["2026", "2026", "2026", "1999"], "month": ["1", "1", "1", "12"],
                  "day": ["5", "5", "5", "31"], "hour": ["8", "9", "8", "23"],
                  "station": ["S01", "S01", "S99", "S01"], "PM2.5": ["35", "NA", "20", "10"],
                  "NO2": ["20", "21", "22", "NA"]}).to_csv(path, index=False)
    mapping = _mapping(tmp_path, f"""\
        time: {{columns: [year, month, day, hour], format: "%Y %m %d %H"}}
        area: {{column: station, map: {{S01: {grid}}}}}
        wide: {{PM2.5: pm25, NO2: no2}}
        """)
    return path, mapping


def test_a_wide_export_through_a_mapping_file_with_a_dry_run_first(tmp_path, redis_client, redis_url, monkeypatch,
                                                                     capsys):
    from cityvitals import store
    from cityvitals.areas import AreaTree, pukou_demo
    from tests.conftest import stream_samples
    from wiring.cli import main

    _env(tmp_path, redis_url, monkeypatch)
    grid = AreaTree(pukou_demo()).ids("grid")[0]
    path, mapping = _wide_export(tmp_path, grid)
    args = ["feeds", "replay", str(path), "--mapping", str(mapping), "--speed", "max"]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    t8 = pd.Timestamp("2026-01-05 08:00", tz="Asia/Shanghai").tz_convert("UTC").isoformat()
    assert out[:2] == ["first 3 samples as they would be stored:", f"  row 2: pm25 {grid} {t8} 35.0"]
    assert out[4] == "6 samples, 2 empty cells not sent: 3 would be stored, 3 refused (unmapped_value 2, too_old 1)"
    assert out[5] == "  row 4: area 'S99' of column 'station' is not in its map"
    assert stream_samples(redis_client) == [] and redis_client.xlen(store.DEADLETTER) == 0  # nothing stored

    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{path}: samples 1-6 of 6 read (2 empty cells of the wide columns not sent): 3 stored, 3 refused " \
           "(too_old 1, unmapped_value 2)" in out
    assert sorted((s.metric, s.value) for s in stream_samples(redis_client)) == [("no2", 20.0), ("no2", 21.0),
                                                                                 ("pm25", 35.0)]
    reasons = [f["reason"] for _, f in redis_client.xrange(store.DEADLETTER)]
    assert reasons[:2] == ["row 4: area 'S99' of column 'station' is not in its map"] * 2
    assert reasons[2].startswith("row 5: ts 946652400.0 is before 2000-01-01")


def test_history_before_2000_when_the_mapping_allows_it(tmp_path, redis_client, demo_tree):
    from cityvitals.metrics import registry
    from feeds.ingest import Ingestor
    from feeds.replay.config import ReplayFeedConfig
    from feeds.replay.feed import ReplayFeed

    grid = demo_tree.ids("grid")[0]
    path, mapping = _wide_export(tmp_path, grid)
    mapping.write_text(mapping.read_text().replace('"%Y %m %d %H"', '"%Y %m %d %H", allow_before_2000: true'))
    cfg = ReplayFeedConfig(type="replay", name="old", file=path, mapping=mapping, speed="max")
    feed = ReplayFeed(cfg, Ingestor(redis_client, "old", registry(), set(demo_tree.ids("grid"))))
    feed.run(progress=False)
    assert (feed.report.stored, feed.report.refused_by) == (4, {"unmapped_value": 2})


def test_a_missing_time_in_map_options_is_one_plain_line(tmp_path, redis_url, monkeypatch, capsys):
    from wiring.cli import main

    _env(tmp_path, redis_url, monkeypatch)
    path = tmp_path / "x.csv"
    path.write_text("No,v,g\n1,2,g1\n")
    assert main(["feeds", "replay", str(path), "--metric", "aqi", "--map", "value=v", "--map", "area=g"]) == 2
    assert capsys.readouterr().err == "cityvitals: --map time=COLUMN: Field required\n"


def test_points_in_gcj02_with_a_metric_map_land_in_their_grid(tmp_path, redis_client, demo_tree):
    from cityvitals.areas.crs import wgs84_to_gcj02
    from cityvitals.metrics import registry
    from feeds.ingest import Ingestor
    from feeds.replay.config import ReplayFeedConfig
    from feeds.replay.feed import ReplayFeed
    from tests.conftest import stream_samples

    grid = demo_tree.ids("grid")[9]
    inside = demo_tree[grid].geometry.representative_point()
    lon, lat = (float(x[0]) for x in wgs84_to_gcj02(np.array([inside.x]), np.array([inside.y])))
    path = tmp_path / "amap.csv"
    pd.DataFrame({"t": ["2026-01-05 08:00", "2026-01-05 09:00"], "kind": ["细颗粒物", "臭氧"],
                  "x": [lon, lon], "y": [lat, lat], "v": ["35", "12"]}).to_csv(path, index=False)
    mapping = _mapping(tmp_path, """\
        time: {column: t, format: "%Y-%m-%d %H:%M"}
        metric: {column: kind, map: {细颗粒物: pm25}}
        value: v
        lon: x
        lat: y
        crs: gcj02
        """)
    cfg = ReplayFeedConfig(type="replay", name="amap", file=path, mapping=mapping, speed="max")
    feed = ReplayFeed(cfg, Ingestor(redis_client, "amap", registry(), set(demo_tree.ids("grid")),
                                    locator=demo_tree.grid_locator()))
    feed.run(progress=False)
    assert (feed.report.stored, feed.report.refused_by) == (1, {"unmapped_value": 1})
    assert [(s.metric, s.area) for s in stream_samples(redis_client)] == [("pm25", grid)]
