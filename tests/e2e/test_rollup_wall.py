"""One story on every screen (#20): a red grid under a normal street, in a real browser.

The catalog judges the mean river level down to communities and each grid's own gauge at grid level only,
so one gauge at 9.4 m turns its grid red while its street and community stay normal by their own macro
indicators. The health block, the map (label and hover text of the street), its legend and the ticker must
all say "1 grid red" and mark the street.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from cityvitals.areas import AreaTree, load_areas
from cityvitals.db import make_engine
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from indicators.states import State
from tests.e2e.conftest import ARTIFACTS, start_app

CATALOG = Path(__file__).parent / "fixtures" / "rollup.yaml"
MAP_VIEW = ("() => { const g = document.querySelector('#area-map .js-plotly-plot'); "
            "return g && g.data ? {ids: g.data[0].locations, z: g.data[0].z, hover: g.data[0].text, "
            "labels: g.data[1].text, outline: g.data[0].marker.line.color} : null; }")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    live = start_app(tmp_path_factory, "rollup", CATALOG)
    yield live
    live.close()


def test_tiles_map_legend_and_ticker_tell_the_same_count_of_red_grids(app, page):
    tree = AreaTree(load_areas(make_engine(app.settings.database_url)))
    # a grid of the community with the most grids: one gauge barely moves that community's mean
    community = max(tree.ids("community"), key=lambda c: len(tree.children(c)))
    grid = tree.children(community)[0].id
    street = tree.ancestors(grid)[1]
    page.goto(app.url)
    page.wait_for_selector(".health .value.band-healthy", timeout=30_000)
    Ingestor(app.client, "e2e-rollup", registry(), set(tree.ids("grid"))).submit(
        [{"metric": "river_level", "area": grid, "ts": time.time(), "value": 9.4}])

    page.wait_for_function(f"() => {{ const d = ({MAP_VIEW})(); return d && d.labels[d.ids.indexOf('{street.id}')]"
                           " === '■1↓'; }", timeout=20_000)
    page.wait_for_selector(".ticker-head .below.state-red", timeout=10_000)
    view = page.evaluate(MAP_VIEW)
    k = view["ids"].index(street.id)
    assert view["z"][k] == int(State.NORMAL)  # its own macro indicators: normal, and never plainly so
    assert "1个网格红色" in view["hover"][k] and "1 grid red below" in view["hover"][k]
    assert view["outline"][k] == "#e63946"
    # the others: no trouble below (a street with no river gauge is marked not judged, "–")
    assert all(lbl in ("", "–") for i, lbl in zip(view["ids"], view["labels"], strict=True) if i != street.id), view

    count = "下级1个网格红色"
    assert page.inner_text(".health .below.state-red").strip().endswith(count)
    assert page.inner_text(".ticker-head .below.state-red").strip().endswith(count)
    assert page.inner_text(".health .own-state").strip() == "● 本级 正常"
    assert "1个街道下有红色网格" in page.inner_text("#map-legend .legend-below.state-red")
    assert page.locator("#map-legend .legend-below").count() == 1
    lines = page.locator(".ticker-line")
    assert lines.count() == 1 and "state-red" in lines.first.get_attribute("class")
    assert tree[grid].name_zh in lines.first.inner_text() and "起 9.4 · 峰 9.4" in lines.first.inner_text()
    # the tiles count the district's own macro indicators: none red; every score shows its data share
    assert page.locator(".tile-counts .state-red").all_inner_texts() == ["■ 0"] * 6
    assert page.locator(".tile .share").count() == 6 and "数据 100%" in page.inner_text(".health-score")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e-rollup-1080p.png"))

    page.goto(f"{app.url}/area/{street.id}")  # the street's own page: its community carries the same count
    # the community is not judged on the river (no mean below the streets): "– ■1↓", its icon then the count
    page.wait_for_function(f"() => {{ const d = ({MAP_VIEW})(); return d && d.labels[d.ids.indexOf('{community}')]"
                           " === '– ■1↓'; }", timeout=20_000)
    page.wait_for_selector(".health .below.state-red", timeout=10_000)
    assert page.inner_text(".health .below.state-red").strip().endswith(count)
