"""End to end: a red sample pushed through the feed path turns its street red on the map."""

from __future__ import annotations

import time

from cityvitals.areas import AreaTree, load_areas
from cityvitals.db import make_engine
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from indicators.states import State
from tests.e2e.conftest import ARTIFACTS, MAP_DATA

NORMAL, RED = int(State.NORMAL), int(State.RED)  # the map's z: state codes
QUIET = (int(State.NOT_JUDGED), NORMAL)  # a street with no river gauge is not judged on the river


def street_state(page, street_id: str) -> int | None:
    data = page.evaluate(MAP_DATA)
    if not data:
        return None
    return dict(zip(data["ids"], data["z"], strict=True)).get(street_id)


def test_red_value_for_one_grid_turns_its_street_red(app, page):
    tree = AreaTree(load_areas(make_engine(app.settings.database_url)))
    grid = tree.ids("grid")[123]
    street = tree.ancestors(grid)[1].id
    page.goto(app.url)
    page.wait_for_function(f"() => ({MAP_DATA})() && ({MAP_DATA})().z.every(z => {list(QUIET)}.includes(z))",
                           timeout=30_000)
    assert street_state(page, street) in QUIET  # the simulated rivers are normal: nothing starts red

    ingestor = Ingestor(app.client, "e2e-test", registry(), set(tree.ids("grid")))
    result = ingestor.submit([{"metric": "river_level", "area": grid, "ts": time.time(), "value": 9.3}])
    assert result.accepted == 1 and not result.refused
    pushed = time.time()

    page.wait_for_function(
        f"() => {{ const d = ({MAP_DATA})(); return d && d.z[d.ids.indexOf('{street}')] === {RED}; }}", timeout=15_000)
    assert time.time() - pushed < 15
    others = [z for i, z in zip(*page.evaluate(MAP_DATA).values(), strict=True) if i != street]
    assert all(z in QUIET for z in others)  # only that street turned red
    page.wait_for_selector(".ticker-line.state-red", timeout=10_000)
    assert tree[grid].name_zh in page.inner_text("#warning-ticker"), page.inner_text("#warning-ticker")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e-street-red-1080p.png"))
