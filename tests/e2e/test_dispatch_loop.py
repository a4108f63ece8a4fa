"""The loop in a real browser on the real stack (#15): a red grid on the wall → dispatched → the grid head
signs and handles with a photo on the phone page → the dispatcher verifies and closes → the warning shows
its task closed. And an unsigned task escalates to the level above past its deadline, on a test clock."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from cityvitals import store
from cityvitals.areas import AreaTree, load_areas
from cityvitals.db import make_engine
from cityvitals.dispatch.commands import DispatchContext, escalate_overdue
from cityvitals.dispatch.routing import DEFAULT_ROUTING, read_routing
from cityvitals.dispatch.tasks import bind_units, read_events, read_task
from cityvitals.metrics import registry
from cityvitals.users import add_user, read_audit
from feeds.ingest import Ingestor
from tests.e2e.conftest import ARTIFACTS, start_app

CATALOG = Path(__file__).parent / "fixtures" / "rollup.yaml"
PASSWORD = "dispatch password 12"
GRID = "pukou.jiangpu.c01.g01"
HEAD, COMMITTEE = f"{GRID}/head", "pukou.jiangpu.c01/committee"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    live = start_app(tmp_path_factory, "dispatch", CATALOG)
    sql = make_engine(live.settings.database_url)
    add_user(sql, "lin", PASSWORD, "analyst")
    bind_units(sql, add_user(sql, "wang", PASSWORD, "responder").id, [HEAD])
    bind_units(sql, add_user(sql, "chen", PASSWORD, "responder").id, [COMMITTEE])
    tree = AreaTree(load_areas(sql))
    yield live, sql, tree
    live.close()
    sql.dispose()


def log_in(page, url: str, name: str, target: str) -> None:
    page.goto(f"{url}/login?next={target}")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def red_grid(live, tree) -> None:
    """Push a river level of 9.4 m into the grid and wait for its red warning."""
    Ingestor(live.client, "e2e-dispatch", registry(), set(tree.ids("grid"))).submit(
        [{"metric": "river_level", "area": GRID, "ts": time.time(), "value": 9.4}])
    deadline = time.time() + 30
    while (store.read_warning(live.client, "river_level_grid", GRID) or {}).get("s") != "red":
        assert time.time() < deadline, "the grid never turned red"
        time.sleep(0.5)


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 120, 200)).save(out, "JPEG")
    return out.getvalue()


def test_from_a_red_grid_to_a_closed_task(app, browser):
    live, sql, tree = app
    red_grid(live, tree)
    wall = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()
    log_in(wall, live.url, "lin", f"/warnings?area={GRID}")
    row = wall.locator("#warnings-active tr", has_text="网格河道水位").first
    row.wait_for(timeout=30_000)
    row.locator("input[type=checkbox]").check()
    wall.wait_for_selector("#warnings-dispatch-preview :text('网格长')", timeout=10_000)
    assert "river_level_grid" not in wall.input_value("#warnings-instruction")  # the name, not the id
    assert "网格河道水位 red since" in wall.input_value("#warnings-instruction")
    wall.click("#warnings-dispatch")
    wall.wait_for_function("() => document.querySelector('#warnings-message').innerText.length > 0", timeout=10_000)
    assert f"Dispatched #1 → {HEAD}" in wall.inner_text("#warnings-message")
    wall.wait_for_selector("#warnings-active :text('#1 已派发 dispatched')", timeout=15_000)
    task = read_task(sql, 1)
    assert (task.indicator, task.area, task.warning_state, task.value, task.threshold) == (
        "river_level_grid", GRID, "red", 9.4, 8.5)

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    log_in(phone, live.url, "wang", "/respond")
    phone.click("#task-1 button.sign", timeout=15_000)
    phone.wait_for_selector("#task-1 textarea", timeout=10_000)
    phone.fill("#task-1 textarea", "清理了堵塞的排水口 cleared the blocked drain")
    phone.set_input_files("#task-1 input[type=file]", files=[{"name": "drain.jpg", "mimeType": "image/jpeg",
                                                              "buffer": photo()}])
    phone.click("#task-1 button.handle")
    phone.wait_for_selector("#task-1 :text('待核查 handled')", timeout=10_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "e2e-respond-phone.png"))

    wall.goto(f"{live.url}/dispatch")
    for button, done in (("核查通过", "verify: #1"), ("办结", "close: #1")):
        row = wall.locator("#dispatch-tasks tr", has_text=HEAD).first
        row.wait_for(timeout=15_000)
        checkbox = row.locator("input[type=checkbox]")
        if not checkbox.is_checked():
            checkbox.check()
        wall.get_by_role("button", name=button).click()
        wall.wait_for_function(f"() => document.querySelector('#dispatch-message').innerText.includes('{done}')",
                               timeout=10_000)
    wall.wait_for_selector("#dispatch-summary .funnel :text('已办结 closed 1')", timeout=15_000)
    wall.screenshot(path=str(ARTIFACTS / "e2e-dispatch-panel-1080p.png"))
    wall.goto(f"{live.url}/warnings?area={GRID}")
    wall.wait_for_selector("#warnings-active :text('#1 已办结 closed')", timeout=15_000)
    wall.wait_for_selector("#warnings-past :text('#1 已办结 closed')", timeout=15_000)  # the history names it

    events = read_events(sql, [1])[1]
    assert [(e.step, e.actor) for e in events] == [("dispatched", "lin"), ("signed", "wang"), ("handled", "wang"),
                                                   ("verified", "lin"), ("closed", "lin")]
    assert events[2].photo and (live.settings.data_dir / "photos" / events[2].photo).read_bytes() == photo()
    assert all(b.at >= a.at for a, b in zip(events, events[1:], strict=False))
    assert {"task_dispatched", "task_signed", "task_handled", "task_verified", "task_closed"} <= {
        a["action"] for a in read_audit(sql, 50)}


def test_an_unsigned_task_escalates_to_the_committee_on_a_test_clock(app, browser):
    live, sql, tree = app
    s = requests.Session()
    form = s.get(f"{live.url}/login", timeout=10).text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    s.post(f"{live.url}/login", data={"name": "lin", "password": PASSWORD, "csrf_token": token, "next": "/"},
           timeout=10)
    s.get(f"{live.url}/login", timeout=10)
    made = s.post(f"{live.url}/api/v1/tasks", json={"area": GRID, "instruction": "巡查 patrol the bank"},
                  headers={"X-CSRFToken": s.cookies.get("_csrf_token", "")}, timeout=10)
    assert made.status_code == 201, made.text
    task = made.json()
    later = task["hop_due"] + 1  # a second past the 30 minutes to sign
    ctx = DispatchContext(sql, read_routing(DEFAULT_ROUTING, tree), clock=lambda: later)
    assert [t.id for t in escalate_overdue(ctx)] == [task["id"]]
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    log_in(phone, live.url, "chen", "/respond")
    phone.wait_for_selector(f"#task-{task['id']} button.sign", timeout=15_000)
    assert read_task(sql, task["id"]).unit == COMMITTEE
    assert read_events(sql, [task["id"]])[task["id"]][-1].actor == "system"
