"""The admin page in a real browser against the running app: an admin starts a scenario; a viewer is refused."""

from __future__ import annotations

import pytest

from cityvitals import store
from cityvitals.db import make_engine
from cityvitals.users import add_user, read_audit
from tests.e2e.conftest import ARTIFACTS, start_app

PASSWORD = "admin password 12"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    live = start_app(tmp_path_factory, "admin")
    sql = make_engine(live.settings.database_url)
    add_user(sql, "admin-sun", PASSWORD, "admin")
    add_user(sql, "viewer-ma", PASSWORD, "viewer")
    yield live, sql
    live.close()
    sql.dispose()


def _log_in(page, url: str, name: str) -> None:
    page.goto(f"{url}/login?next=/admin")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _choose(page, dropdown: str, option: str) -> None:
    page.click(f"#{dropdown}")
    page.get_by_role("option", name=option).click()


def test_an_admin_starts_a_scenario_and_it_appears(app, page):
    live, sql = app
    _log_in(page, live.url, "admin-sun")
    page.wait_for_selector("#admin-start")
    _choose(page, "admin-scenario", "河道洪水 River flood")
    _choose(page, "admin-area", "江浦街道 (pukou.jiangpu)")
    page.fill("#admin-minutes", "45")
    page.click("#admin-start")
    page.wait_for_selector("#admin-running .scenario-row", timeout=15_000)
    row = page.locator("#admin-running .scenario-row").first.inner_text()
    assert "flood" in row and "江浦" in row
    assert "Started flood in pukou.jiangpu for 45 min" in page.inner_text("#admin-message")
    (running,) = store.read_scenarios(live.client)
    assert (running["scenario"], running["area"], running["minutes"]) == ("flood", "pukou.jiangpu", 45)
    page.wait_for_selector("#admin-audit :text('scenario_start')", timeout=15_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "e2e-admin-1080p.png"))

    page.locator("#admin-running .scenario-row button").first.click()
    page.wait_for_selector("#admin-running :text('No scenario running')", timeout=15_000)
    assert store.read_scenarios(live.client) == []
    assert [(a["user"], a["action"]) for a in read_audit(sql)[:2]] == [("admin-sun", "scenario_stop"),
                                                                       ("admin-sun", "scenario_start")]


def test_a_viewer_is_refused(app, page):
    live, sql = app
    _log_in(page, live.url, "viewer-ma")
    page.wait_for_selector(".admin-page .refused")
    assert "Admin actions need the admin role" in page.inner_text(".admin-page")
    assert page.locator("#admin-start").count() == 0 and page.locator("#admin-tokens").count() == 0
    assert "admin-sun" not in page.content()  # no audit log, no lists
