"""One area state on every screen (#20): own macro state plus the red and yellow areas below it.

A grid turns red in a district whose street and communities are normal by their own indicators (the
orders indicator is judged at grid level only): the health block, the map's label, outline and hover
text, the legend, the ticker's head and the kiosk all say so, with the same count.
"""

from __future__ import annotations

import time

import pytest
from dash import html

from cityvitals import store
from cityvitals.store import Sample
from cityvitals.vocabulary import DOMAINS
from dashboard import context, kiosk, trouble
from dashboard.context import DashboardContext
from dashboard.overview import health_body, refresh, ticker_head
from indicators.loader import load_catalog
from indicators.service import EngineService
from indicators.states import State
from tests.conftest import tiny_tree
from tests.dashboard.conftest import text

CATALOG = """
indicators:
  - id: orders_grid
    name: {zh: 网格工单, en: Grid orders}
    tier: macro
    group: public_safety
    unit: orders
    description: Hotline orders in the last hour, judged in each grid only.
    source: {metric: hotline_orders_1h}
    rollup: sum
    direction: higher_is_worse
    thresholds: {yellow: 10, red: 20}
    levels: [grid]
  - id: level
    name: {zh: 水位, en: Level}
    tier: macro
    group: public_safety
    unit: m
    description: River level, population-weighted.
    source: {metric: river_level}
    rollup: mean
    direction: higher_is_worse
    thresholds: {yellow: 4.5, red: 9}
  - id: panel_orders
    name: {zh: 专题工单, en: Panel orders}
    tier: panel
    group: public_safety
    unit: orders
    description: The same orders as a panel indicator (the overview leaves it out).
    source: {metric: hotline_orders_1h}
    rollup: sum
    direction: higher_is_worse
    thresholds: {yellow: 10, red: 20}
    levels: [grid]
"""
GRIDS = ("d.s.c1.g1", "d.s.c1.g2", "d.s.c1.g3", "d.s.c2.g4")
RED_GRID = "d.s.c1.g2"


@pytest.fixture
def world(redis_client, sqlite_engine, tmp_path):
    """The tiny district: every river level normal, one grid with 30 orders (red at grid level only)."""
    path = tmp_path / "rollup.yaml"
    path.write_text(CATALOG)
    now = time.time()
    store.append_samples(redis_client, "hotline", [Sample("hotline_orders_1h", g, now - 100, 30.0 if g == RED_GRID
                                                          else 2.0) for g in GRIDS])
    store.append_samples(redis_client, "gauges", [Sample("river_level", g, now - 100, 2.0) for g in GRIDS])
    service = EngineService(redis_client, sqlite_engine, tiny_tree(), load_catalog([path]), consumer="t")
    service.tick(now)
    context.set_context(DashboardContext(redis_client, sqlite_engine, service.tree, 5.0))
    return redis_client, service, now


def test_the_summary_says_normal_here_and_one_red_grid_below(world):
    client = world[0]
    street = store.read_summaries(client, "street", ["d.s"])["d.s"]
    assert street["worst"] == "normal"  # its own macro indicators: the orders are not judged at street level
    assert trouble.below_counts(street, State.RED) == {"grid": 1}
    assert trouble.mark(street) == State.RED and trouble.has_red(street)
    assert trouble.below_texts(street) == [(State.RED, "1个网格红色", "1 grid red")]
    assert trouble.label(State.NORMAL, street) == "■1↓"


def test_every_part_of_the_overview_tells_the_same_count(world):
    out = refresh(1, "", "d", None)
    health, tiles, fig, ticker, head, _status, _feeds, legend, _shown = out
    assert "下级1个网格红色" in text(health) and "1 grid red below" in text(health)
    assert "下级1个网格红色" in text(head) and "1 grid red below" in text(head)
    # the map: the street keeps its own colour (normal) but carries the count, a red outline and a hover line
    data = fig["operations"]
    patched = {tuple(op["location"][1:]): op["params"]["value"] for op in data if op["operation"] == "Assign"}
    assert patched[(0, "z")] == [int(State.NORMAL)]
    assert "1个网格红色" in patched[(0, "text")][0] and "1 grid red" in patched[(0, "text")][0]
    assert patched[(1, "text")] == ["■1↓"]
    assert patched[(0, "marker")]["line"]["color"] == ["#e63946"]
    assert "1个街道下有红色网格" in text(legend) and "1 street with red grids below" in text(legend)
    # the ticker: the grid's warning, macro only (the panel indicator red in the same grid is left out)
    hrefs = [line["props"]["children"][2]["props"]["href"] for line in ticker]
    assert hrefs == [f"/indicator/orders_grid?area={RED_GRID}"]
    # the tile counts the district's own macro indicators (none red); the counts below sit beside it
    assert "■ 0" in text(tiles[DOMAINS.index("public_safety")])


def test_a_clear_area_says_nothing_lies_below_and_the_ticker_head_stays_empty():
    clear = {"worst": "normal", "below": {lv: {"red": 0, "yellow": 0} for lv in trouble.BELOW_LEVELS},
             "health": 100.0, "share": 1.0}
    assert "下级无预警" in text(health_body(clear)) and ticker_head(clear) == []
    assert trouble.label(State.NORMAL, clear) == "" and trouble.mark(clear) is None


def test_counts_at_several_levels_read_as_one_line_per_severity():
    s = {"worst": "yellow", "below": {"street": {"red": 1, "yellow": 0}, "community": {"red": 1, "yellow": 2},
                                      "grid": {"red": 3, "yellow": 0}}}
    assert trouble.below_texts(s) == [
        (State.RED, "1个街道、1个社区、3个网格红色", "1 street, 1 community, 3 grids red"),
        (State.YELLOW, "2个社区黄色", "2 communities yellow")]
    assert trouble.label(State.YELLOW, s) == "▲ ■3↓"  # the largest count at one level: never double-counted
    streets = {"a": {"worst": "normal", "below": {"community": {"red": 1, "yellow": 2},
                                                  "grid": {"red": 3, "yellow": 0}}},
               "b": {"worst": "normal", "below": {"grid": {"red": 2, "yellow": 0}}}}
    assert [text(x) for x in trouble.legend_lines(streets, ["a", "b"], "street")] == [
        "■↓ 1个街道下有红色社区 1 street with red communities below",
        "■↓ 2个街道下有红色网格 2 streets with red grids below",
        "▲↓ 1个街道下有黄色社区 1 street with yellow communities below"]


def test_the_kiosk_counts_a_street_with_a_red_grid_as_red(world):
    red, abnormal = kiosk.wall_states("d")
    assert red == ["d.s"] and {"/area/d.s", "/area/d"} <= abnormal


def test_a_street_that_is_red_itself_is_marked_by_its_colour_not_by_an_extra_count():
    own_red = {"worst": "red", "below": {}}
    assert trouble.has_red(own_red) and trouble.label(State.RED, own_red) == "■"
    assert isinstance(trouble.below_lines(own_red)[0], html.Div)
