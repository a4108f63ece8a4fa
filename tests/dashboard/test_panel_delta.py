"""The panel refresh sends only what moved: rows when states did, trends when the archive did (#19).

Real Redis, the real engine scoring a two-section panel and writing the value archive every 5 minutes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from dash import Patch, no_update
from dash._utils import to_json

from cityvitals import store
from cityvitals.store import Sample
from dashboard import context, delta, trends
from dashboard.context import DashboardContext
from dashboard.delta import plain
from dashboard.panel import FILTER_STATES, refresh
from indicators.loader import load_catalog
from indicators.service import EngineService
from indicators.value_recorder import ValueRecorder
from tests.conftest import tiny_tree
from tests.dashboard.conftest import text

CATALOG = Path(__file__).parent / "fixtures" / "panel.yaml"
AREA = "d.s.c1"
KEY = {"page": "panel", "panel": "social_governance", "area": AREA, "trends": True, "range": "24h"}
STEP = time.time() // 300 * 300  # the archive's step now: the world's last step is the one before it


class World:
    """The tiny district's engine with a value archive, and the dashboard reading both."""

    def __init__(self, client, sql, archive: Path) -> None:
        self.client = client
        self.service = EngineService(client, sql, tiny_tree(), load_catalog([CATALOG]), consumer="t",
                                     values=ValueRecorder(archive, step_s=300))
        context.set_context(DashboardContext(client, sql, self.service.tree, 5.0, archive_path=archive))

    def tick(self, now: float, orders: float, level: float = 3.0) -> None:
        """Samples at ``now`` in every grid of c1, then an engine tick (which archives at a new step)."""
        store.append_samples(self.client, "t", [s for g in ("d.s.c1.g1", "d.s.c1.g2", "d.s.c1.g3") for s in
                                                (Sample("hotline_orders_1h", g, now, orders),
                                                 Sample("river_level", g, now, level))])
        self.service.tick(now)


@pytest.fixture
def world(redis_client, sqlite_engine, tmp_path):
    w = World(redis_client, sqlite_engine, tmp_path)
    for k in (3, 2, 1):  # three archived steps of history
        w.tick(STEP - 300 * k, orders=1.0 + k)
    return w


def operations(patch: Patch) -> list[tuple[str, ...]]:
    """The patch's assignments as the last three steps of their locations (enough to tell rows from figures)."""
    return [tuple(str(p) for p in op["location"][-3:]) for op in patch.to_plotly_json()["operations"]]


def test_a_new_page_gets_every_section_then_nothing_while_nothing_moves(world):
    sections, counts, shown = refresh(1, None, list(FILTER_STATES), KEY, None)
    sections = plain(sections)
    assert [text(s["props"]["children"][0]) for s in sections] == [
        "工单 Orders 每点为15 min均值 15 min means 导出CSV CSV", "水情 Water 每点为15 min均值 15 min means 导出CSV CSV"]
    figures = [s["props"]["children"][1]["props"]["children"][1]["props"]["figure"] for s in sections]
    buckets = len({(STEP - 300 * k) // 900 for k in (1, 2, 3)})  # three steps in 15-minute means
    assert [len([y for y in f["data"][0]["y"] if y is not None]) for f in figures] == [buckets, buckets]
    assert "2 normal" in text(counts) and set(shown) == {"layout", "rows:Orders", "rows:Water", "trends:Orders",
                                                         "trends:Water", "counts"}
    assert refresh(2, None, list(FILTER_STATES), KEY, shown) == (no_update, no_update, no_update)
    opened = refresh(1, None, list(FILTER_STATES), KEY, None)[0]  # another page opened on the same data
    assert opened is refresh(1, None, list(FILTER_STATES), KEY, None)[0] and opened == sections  # built once


def test_a_moved_state_patches_its_rows_alone_and_a_new_step_the_trends(world):
    shown = refresh(1, None, list(FILTER_STATES), KEY, None)[2]
    world.tick(STEP - 300 + 5, orders=4.0)  # within the last step: no new archive step; 3 grids x 4 is yellow
    rows, counts, after = refresh(2, None, list(FILTER_STATES), KEY, shown)
    assert isinstance(rows, Patch) and operations(rows) == [("0", "props", "children")]  # the Orders rows
    assert "▲10 ■20" in json.dumps(rows.to_plotly_json(), ensure_ascii=False) and "1 yellow" in text(counts)
    assert {k for k in shown if after[k] != shown[k]} == {"rows:Orders", "counts"}

    world.service.tick(STEP)  # no new samples, but a new step in the archive: every trend is drawn again
    rows, counts, last = refresh(3, None, list(FILTER_STATES), KEY, after)
    assert operations(rows) == [("1", "props", "figure"), ("1", "props", "figure")] and counts is no_update
    assert {k for k in after if last[k] != after[k]} == {"trends:Orders", "trends:Water"}


def test_a_search_sends_the_whole_list_and_the_wall_patches_rows_without_trends(world):
    shown = refresh(1, None, list(FILTER_STATES), KEY, None)[2]
    found, _, _ = refresh(2, "水位", list(FILTER_STATES), KEY, shown)
    assert isinstance(found, list) and [text(s["props"]["children"][0]).split()[0] for s in plain(found)] == ["水情"]

    wall = {**KEY, "trends": False}
    sections, _, shown = refresh(1, None, list(FILTER_STATES), wall, None)
    assert [s["props"]["className"] for s in plain(sections)] == ["panel-section"] * 2 and "trends:Orders" not in shown
    world.tick(STEP - 300 + 5, orders=25.0)
    rows, _, _ = refresh(2, None, list(FILTER_STATES), wall, shown)
    assert [op["location"] for op in rows.to_plotly_json()["operations"]] == [[0, "props", "children", 1, "props",
                                                                               "children"]]


def test_trends_one_worker_read_are_what_another_sends_until_a_step_lands(world, monkeypatch):
    now = time.time()
    with monkeypatch.context() as frozen:  # both workers at one instant: a row's "7 min" may not turn "8 min"
        frozen.setattr(time, "time", lambda: now)
        sections = refresh(1, None, list(FILTER_STATES), KEY, None)[0]

        def read(*_a, **_k):
            raise AssertionError("read the archive")

        delta._kept.clear()  # another gunicorn worker: nothing built, nothing read in its process
        trends._cache.clear()
        with monkeypatch.context() as patched:
            patched.setattr("dashboard.panel.series", read)
            other = refresh(1, None, list(FILTER_STATES), KEY, None)[0]  # the trends from Redis
    assert to_json(other) == to_json(sections)
    world.service.tick(STEP)  # a new step in the archive: the trends kept in Redis are not the archive's any more
    delta._kept.clear()
    with monkeypatch.context() as patched:
        patched.setattr("dashboard.panel.series", read)
        with pytest.raises(AssertionError, match="read the archive"):
            refresh(1, None, list(FILTER_STATES), KEY, None)
