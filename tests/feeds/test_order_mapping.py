"""A platform's work-order export (its own column, status and channel names) replayed through a mapping file."""

from __future__ import annotations

import textwrap
import time

import pandas as pd
import pytest

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.mapping import MappingError
from feeds.replay.reader import read_chunks
from feeds.workorders.mapping import load_order_mapping
from feeds.workorders.pipeline import WorkOrderPipeline
from feeds.workorders.replay import replay_events

MAPPING = """\
    order: 工单编号
    source: {column: 来源渠道, map: {市民热线: "12345", 网格巡查: grid_app}}
    area: {column: 网格}
    steps: {received: 受理时间, dispatched: 派遣时间, closed: 办结时间}
    format: "%Y-%m-%d %H:%M:%S"
    timezone: Asia/Shanghai
    satisfied: {column: 满意度, map: {满意: "true", 不满意: "false", "": ""}}
    """


def _export(tmp_path, grids: list[str]) -> tuple:
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
    rows = [
        ("A1", "市民热线", grids[0], f"{day} 08:00:00", f"{day} 08:10:00", f"{day} 09:00:00", "满意"),
        ("A2", "网格巡查", grids[1], f"{day} 08:00:00", "", "", ""),  # still open
        ("A3", "市民热线", grids[2], f"{day} 10:00:00", f"{day} 10:05:00", f"{day} 07:00:00", "满意"),  # closed first
        ("A4", "微信公众号", grids[3], f"{day} 08:00:00", "", "", ""),  # a channel the map does not know
        ("A5", "市民热线", grids[4], f"{day} 8点", "", "", ""),  # an unreadable time
    ]
    path = tmp_path / "orders.csv"
    pd.DataFrame(rows, columns=["工单编号", "来源渠道", "网格", "受理时间", "派遣时间", "办结时间", "满意度"]).to_csv(
        path, index=False)
    mapping = tmp_path / "orders.yaml"
    mapping.write_text(textwrap.dedent(MAPPING), encoding="utf-8")
    return path, load_order_mapping(mapping)


def test_an_export_with_its_own_names_and_an_order_closed_before_it_was_received(tmp_path, redis_client, demo_tree):
    grids = demo_tree.ids("grid")
    path, mapping = _export(tmp_path, grids)
    pipeline = WorkOrderPipeline(Ingestor(redis_client, "hotline", registry(), set(grids)))
    result = replay_events(pipeline, path, mapping=mapping)
    assert result.accepted == 4  # A1's three steps, A2's receipt
    reasons = sorted(r.reason for r in result.refused)
    assert reasons[0].startswith("row 4: order 'A3': impossible timeline: closed at ")
    assert reasons[1] == "row 5: source '微信公众号' of column '来源渠道' is not in its map"
    assert reasons[2] == "row 6: order 'A5': received time '2026-12-06 8点' unreadable (format %Y-%m-%d %H:%M:%S)" \
        .replace("2026-12-06", time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400)))
    health = store.read_feed_health(redis_client)["hotline"]
    assert health["refused_by"] == {"impossible_timeline": 1, "unmapped_value": 1, "bad_time": 1}
    assert sorted(store.all_orders(redis_client)) == ["A1", "A2"]  # A3 never opens, so it is never overdue


def test_a_bad_order_mapping_names_the_place(tmp_path):
    path = tmp_path / "orders.yaml"
    path.write_text("order: id\nsource: {value: '12345'}\narea: {column: g}\nsteps: {closed: t, fixed: u}\n")
    with pytest.raises(MappingError) as error:
        load_order_mapping(path)
    assert str(error.value) == (f"{path}:4:8: steps: Value error, unknown step(s) 'fixed': one of received, "
                                "dispatched, signed, handled, verified, closed")


def test_orders_placed_by_their_gcj02_point(tmp_path, redis_client, demo_tree):
    import numpy as np

    from cityvitals.areas.crs import wgs84_to_gcj02

    grids = demo_tree.ids("grid")
    inside = demo_tree[grids[7]].geometry.representative_point()
    lon, lat = (float(x[0]) for x in wgs84_to_gcj02(np.array([inside.x]), np.array([inside.y])))
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
    path = tmp_path / "orders.csv"
    pd.DataFrame({"id": ["B1", "B2"], "x": [lon, 10.0], "y": [lat, 10.0],
                  "t": [f"{day} 08:00:00", f"{day} 09:00:00"]}).to_csv(path, index=False)
    mapping = tmp_path / "orders.yaml"
    mapping.write_text('order: id\nsource: {value: "12345"}\nlon: x\nlat: y\ncrs: gcj02\nsteps: {received: t}\n'
                       'format: "%Y-%m-%d %H:%M:%S"\n', encoding="utf-8")
    pipeline = WorkOrderPipeline(Ingestor(redis_client, "hotline", registry(), set(grids)))
    result = replay_events(pipeline, path, mapping=load_order_mapping(mapping), locator=demo_tree.grid_locator())
    assert result.accepted == 1
    assert [r.reason for r in result.refused] == ["row 3: point (10.0, 10.0) lies in no grid"]
    assert store.all_orders(redis_client)["B1"].split("\t")[1] == grids[7]


def test_an_export_read_in_chunks_is_counted_as_one_read_whole(tmp_path, redis_client, demo_tree):
    grids = demo_tree.ids("grid")
    path, mapping = _export(tmp_path, grids)
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    many = pd.concat([rows.assign(工单编号=rows["工单编号"] + f"-{k}") for k in range(12)], ignore_index=True)
    many.to_csv(path, index=False)  # 60 rows, each kind of refusal in every part of the file
    chunk = 300  # bytes: a few rows a part
    assert len(list(read_chunks(path, chunk))) > 5

    def replay(feed: str, chunk_bytes: int) -> tuple[int, list[str]]:
        redis_client.flushdb()  # the orders of the run before would be repeats
        pipeline = WorkOrderPipeline(Ingestor(redis_client, feed, registry(), set(grids)))
        result = replay_events(pipeline, path, mapping=mapping, chunk_bytes=chunk_bytes)
        return result.accepted, sorted(r.reason.split(":")[0] for r in result.refused)

    chunked, whole = replay("chunked", chunk), replay("whole", 1 << 20)
    assert chunked == whole == (12 * 4, sorted(f"row {5 * k + r}" for k in range(12) for r in (4, 5, 6)))
