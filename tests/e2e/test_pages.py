"""The panel, indicator, warnings and configuration pages in a real browser against the running app."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cityvitals import store
from cityvitals.areas import AreaTree, load_areas
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import make_engine
from cityvitals.metrics import registry
from cityvitals.users import add_user, read_audit
from feeds.ingest import Ingestor
from indicators.loader import load_catalog
from indicators.states import State
from tests.e2e.conftest import ARTIFACTS, MAP_DATA, start_app

PASSWORD = "analyst password 1"


@pytest.fixture(scope="module")
def app(tmp_path_factory, catalog_dir):
    live = start_app(tmp_path_factory, "pages", catalog_dir)
    yield live
    live.close()


@pytest.fixture(scope="module")
def world(app):
    """The app's area tree and SQL database, with a red river gauge in one grid and 4 entrapments there.

    A gauge is judged at the street and the district (it stands for the river along the street); the
    entrapments are the grid's own red.
    """
    sql = make_engine(app.settings.database_url)
    tree = AreaTree(load_areas(sql))
    grid = tree.ids("grid")[40]
    Ingestor(app.client, "e2e-pages", registry(), set(tree.ids("grid"))).submit(
        [{"metric": "river_level", "area": grid, "ts": time.time(), "value": 9.4},
         {"metric": "elevator_entrapments_24h", "area": grid, "ts": time.time(), "value": 4}])
    return tree, sql, grid


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"e2e-{name}-1080p.png"))


def test_panel_lists_its_indicators_by_section_with_search_and_filter(app, page, world):
    panel = [i for i in load_catalog([DEFAULT_CATALOG]).indicators if i.group == "public_safety" and i.tier == "panel"]
    page.goto(f"{app.url}/panel/public_safety?area=pukou")
    page.wait_for_selector(".panel-section .row")
    assert page.locator(".panel-section .row").count() == len(panel)
    sections = page.locator(".panel-section h2").all_inner_texts()
    assert "消防安全" in sections and len(sections) == len({i.section.en for i in panel})
    page.fill("#panel-search", "消防")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.panel-section .row').length < 20")
    names = page.locator(".panel-section .row .name").all_inner_texts()
    assert names and all("消防" in n for n in names)
    page.fill("#panel-search", "")
    page.keyboard.press("Enter")
    # the full list first: else the filtered one still on screen would pass the wait below
    page.wait_for_function(f"() => document.querySelectorAll('.panel-section .row').length === {len(panel)}")
    page.get_by_label("normal").uncheck()
    page.wait_for_function(f"() => document.querySelectorAll('.panel-section .row').length < {len(panel)}")
    assert page.locator(".panel-section .row.state-normal").count() == 0
    _shot(page, "panel")


def test_grid_lists_every_indicator_red_first_with_limits_and_age(app, page, world):
    tree, _, grid = world
    catalog = load_catalog([DEFAULT_CATALOG]).indicators
    page.goto(f"{app.url}/area/{grid}")
    page.click(".page-nav a[href^='/indicators']")
    page.wait_for_url(f"**/indicators?area={grid}")
    page.wait_for_function("() => document.querySelector('#indicators-table tbody tr td.dash-cell') && "
                           "document.querySelector('#indicators-table tbody').innerText.includes('电梯困人事件数')",
                           timeout=20_000)
    rows = page.locator("#indicators-table tbody tr:has(td.dash-cell)")
    assert rows.count() == len(catalog)
    cells = rows.filter(has_text="电梯困人事件数").first.locator("td").all_inner_texts()
    assert "■ red" in cells and "4 events/d" in cells and "▲2 ■3" in cells and "s" in cells[-3]  # age, trends
    assert "red" in rows.first.inner_text()  # worst first
    page.click(".lang-button.lang-en")
    page.wait_for_function("() => document.querySelector('#indicators-table tbody').innerText"
                           ".includes('Elevator entrapments')")
    assert "电梯困人事件数" not in page.inner_text("#indicators-table tbody")
    _shot(page, "grid-indicators")
    page.click(".lang-button.lang-zh")


def test_map_coloured_by_one_indicator_with_a_legend_and_back_to_worst_state(app, page, world):
    tree, _, grid = world
    street = tree.ancestors(grid)[1].id
    page.goto(f"{app.url}/area/pukou?by=river_level_max")
    red = int(State.RED)
    page.wait_for_function(
        f"() => {{ const d = ({MAP_DATA})(); return d && d.z[d.ids.indexOf('{street}')] === {red}; }}", timeout=20_000)
    z = dict(zip(*page.evaluate(MAP_DATA).values(), strict=True))
    # the simulated rivers are normal elsewhere; a street with no river gauge is not judged on it
    assert all(v in (State.NORMAL, State.NOT_JUDGED) for a, v in z.items() if a != street)
    assert page.inner_text("#map-legend .legend-title").startswith("河道最高水位")
    assert page.inner_text("#map-legend .legend-item.state-red .legend-count").strip() == "1"
    _shot(page, "map-by-indicator")
    page.click("#map-by")
    page.fill(".dash-dropdown-search", "Worst state")
    page.locator(".dash-dropdown-content [role=option]", has_text="Worst state").first.click()
    page.wait_for_function("() => document.querySelector('#map-legend').innerText.startsWith('各区域最差状态')")
    deadline = time.time() + 15  # the engine may change a street between our read and the page's refresh
    while time.time() < deadline:
        worst = store.read_summaries(app.client, "street")
        shown = dict(zip(*page.evaluate(MAP_DATA).values(), strict=True))
        if shown == {a: int(State[worst[a]["worst"].upper()]) for a in z}:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"map {shown} is not the worst states {worst}")


def test_indicator_detail_explains_the_red_state(app, page, world):
    tree, _, grid = world
    street = tree.ancestors(grid)[1].id
    page.goto(f"{app.url}/indicator/river_level_max?area={street}")
    page.wait_for_selector(".why-state.state-red", timeout=20_000)
    why = page.inner_text("#detail-why")
    assert "9.4 m" in why and "8.5" in why and "default" in why
    ranking = page.inner_text("#detail-children")
    assert tree.ancestors(grid)[2].name_zh in ranking.splitlines()[1]  # the grid's community ranks first
    assert "river_level_max" in page.inner_text(".definition")
    _shot(page, "indicator")
    page.goto(f"{app.url}/indicator/elevator_entrapments?area={grid}")
    page.wait_for_selector(".why-state.state-red", timeout=20_000)
    assert "e2e-pages" in page.inner_text("#detail-why")  # the grid's value came from the test's feed


def test_every_time_shown_is_the_citys_whatever_the_browsers_or_servers_zone(app, browser, world):
    """A state's "since", its row in the state log and the wall clock read the city's zone (Asia/Shanghai),
    in a browser set to New York against a server whose own zone is UTC."""
    tree, _, grid = world
    street = tree.ancestors(grid)[1].id
    city = ZoneInfo("Asia/Shanghai")
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, timezone_id="America/New_York")
    page = context.new_page()
    try:
        page.goto(f"{app.url}/indicator/river_level_max?area={street}")
        page.wait_for_selector(".why-state.state-red", timeout=20_000)
        page.reload()  # the state log is read as the page opens: once the red is logged
        page.wait_for_selector(".detail-body td.state-red", timeout=20_000)
        page.wait_for_selector(".why-state.state-red", timeout=20_000)  # the explanation is a callback's
        since = store.read_states(app.client, street, ["river_level_max"])["river_level_max"]["since"]
        shown = datetime.fromtimestamp(since, city).strftime("%m-%d %H:%M:%S")
        assert shown in page.inner_text("#detail-why")
        red_row = page.locator(".detail-body tr", has=page.locator("td.state-red")).first.inner_text()
        assert red_row.startswith(shown), (red_row, shown)
        page.goto(f"{app.url}/area/pukou")
        page.wait_for_selector("#clock[data-tz='Asia/Shanghai']")
        page.wait_for_timeout(1500)  # the browser's own tick has redrawn it
        clock = datetime.strptime(page.inner_text("#clock"), "%Y-%m-%d %H:%M:%S").replace(tzinfo=city)
        assert abs(clock.timestamp() - time.time()) < 10
    finally:
        context.close()


def test_acknowledging_needs_an_analyst_and_is_stored(app, page, world):
    tree, sql, grid = world
    street = tree.ancestors(grid)[1].id  # the river gauge's warning is its street's
    page.goto(f"{app.url}/warnings?area=pukou")
    river = page.locator("#warnings-active tr", has_text=tree[street].name_zh).filter(has_text="河道最高水位").first
    river.wait_for(timeout=20_000)
    river.locator("input[type=checkbox]").check()
    page.click("#warnings-ack")
    page.wait_for_function("() => document.querySelector('#warnings-message').innerText.includes('analyst')")

    add_user(sql, "analyst-li", PASSWORD, "analyst")
    page.goto(f"{app.url}/login?next=/warnings")
    page.fill("input[name=name]", "analyst-li")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{app.url}/warnings")
    page.fill("#warnings-comment", "已通知水务 water bureau told")
    river = page.locator("#warnings-active tr", has_text=tree[street].name_zh).filter(has_text="河道最高水位").first
    river.wait_for(timeout=20_000)
    river.locator("input[type=checkbox]").check()
    page.click("#warnings-ack")
    page.wait_for_function("() => document.querySelector('#warnings-active').innerText.includes('✓ analyst-li')")
    with sql.connect() as conn:
        acks = conn.exec_driver_sql("SELECT indicator, area, user, comment FROM warning_ack").all()
    assert ("river_level_max", street, "analyst-li", "已通知水务 water bureau told") in [tuple(a) for a in acks]
    assert any(a["action"] == "warning_ack" and a["user"] == "analyst-li" for a in read_audit(sql))

    with page.expect_download() as download:
        page.click("#warnings-export")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert any(r["indicator"] == "river_level_max" and r["area"] == street and r["state"] == "red" for r in rows)
    _shot(page, "warnings")


def test_config_view_shows_a_refused_reload_with_file_and_line(app, page, catalog_dir):
    page.goto(f"{app.url}/config")
    page.wait_for_selector(".config-status .state-normal", timeout=20_000)
    page.locator("#config-table th.dash-filter input").first.fill("river_level_max")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('#config-table tbody tr td').length > 0 && "
                           "document.querySelector('#config-table tbody').innerText.includes('macro_public_safety')")
    assert "8.5" in page.inner_text("#config-table tbody")
    broken = catalog_dir / "zz_broken.yaml"
    broken.write_text("indicators:\n  - id: broken_one\n    tier: macro\n", encoding="utf-8")
    try:
        page.wait_for_selector(".config-error", timeout=20_000)
        errors = page.locator(".config-error").all_inner_texts()
        assert any("zz_broken.yaml:2" in e and "Field required" in e for e in errors)
        assert "last good catalog stays live" in page.inner_text(".config-status")
        _shot(page, "config-error")
    finally:
        broken.unlink()
