"""Area ids with spaces, CJK, '/', '#' and '?' open from every link: breadcrumbs, navigation, map clicks."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import quote

import pytest
import shapely

from tests.e2e.conftest import MAP_DATA, REPO, LiveApp
from tests.e2e.test_wall import CLICK

# district → street → community → grid, each id needing percent-encoding in a URL.
IDS = ["REGION 5 - CENTRAL", "街道 一", "社区/甲#1", "网格 ?A"]
NAMES = ["中心区", "一街道", "甲社区", "A网格"]


def _features() -> list[dict]:
    features = []
    for depth, (area_id, name) in enumerate(zip(IDS, NAMES, strict=True)):
        shrink = 0.01 * depth
        features.append({"type": "Feature",
                         "geometry": shapely.geometry.mapping(shapely.box(118.0 + shrink, 32.0 + shrink,
                                                                          118.2 - shrink, 32.2 - shrink)),
                         "properties": {"id": area_id, "name": name, "parent": IDS[depth - 1] if depth else None,
                                        "level": ["district", "street", "community", "grid"][depth],
                                        "population": 1000}})
    return features


@pytest.fixture(scope="module")
def odd_app(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("odd")
    path = data_dir / "areas.json"
    path.write_text(json.dumps(_features(), ensure_ascii=False))  # a bare array, as DataV downloads are
    env = {"PATH": "/usr/bin:/bin", "CITYVITALS_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-c", "from wiring.cli import main; raise SystemExit(main())",
                           "areas", "import", str(path)], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    live = LiveApp(data_dir, None)
    yield live
    live.close()


def test_pages_of_odd_ids_open_and_their_links_lead_back(odd_app, page):
    grid = IDS[-1]
    page.goto(f"{odd_app.url}/area/{quote(grid, safe='')}")
    page.wait_for_selector(".breadcrumb .crumb.current")
    assert "Unknown area" not in page.inner_text("body")
    assert NAMES[-1] in page.inner_text(".breadcrumb .crumb.current")
    # The breadcrumb climbs to the community, whose id holds '/' and '#'.
    page.click(f".breadcrumb a:has-text('{NAMES[2]}')")
    page.wait_for_url(f"**/area/{quote(IDS[2], safe='')}")
    page.wait_for_function(f"() => document.querySelector('.breadcrumb .crumb.current')"
                           f".innerText.includes('{NAMES[2]}')")
    # The navigation keeps the area through a query string.
    page.click(".page-nav a[href^='/warnings']")
    page.wait_for_url(f"**/warnings?area={quote(IDS[2], safe='')}")
    page.wait_for_function(f"() => document.querySelector('.breadcrumb .crumb.current')"
                           f".innerText.includes('{NAMES[2]}')")
    assert "Unknown area" not in page.inner_text("body")
    # A click on the map drills to the street's community (the map's locations are raw ids).
    page.goto(f"{odd_app.url}/area/{quote(IDS[1], safe='')}")
    page.wait_for_function(f"() => ({MAP_DATA})() !== null", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#area-map .js-plotly-plot')._ev._events.plotly_click",
                           timeout=15_000)
    page.evaluate(CLICK, IDS[2])
    page.wait_for_url(f"**/area/{quote(IDS[2], safe='')}", timeout=15_000)
    assert "Unknown area" not in page.inner_text("body")
