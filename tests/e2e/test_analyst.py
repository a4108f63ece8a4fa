"""The analyst's pages in a real browser against the running app, on a value archive with history (#19).

Before the app starts, the real engine is ticked over two simulated hours (wiring/backfill.py) into
the app's archive; the app then adds one step of its own (its step is an hour, so none lands while a
test compares the page with the archive).
"""

from __future__ import annotations

import csv
import io
import os
import struct
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cityvitals import store
from cityvitals.archive.values import read_raw, values_root
from cityvitals.areas import AreaTree, pukou_demo
from cityvitals.redis_server import connect
from cityvitals.store import Sample
from dashboard.components import value_text
from indicators.loader import load_catalog
from indicators.states import State
from tests.e2e.conftest import ARTIFACTS, LiveApp
from wiring.backfill import backfill_values

HOURS = 2
SHANGHAI = ZoneInfo("Asia/Shanghai")  # the city's zone (CITYVITALS_TIMEZONE's default)
PANEL = "public_safety"
# per trend section: the indicator ids of its rows, in order, and the y values of its sparklines (a trace each)
SPARKS = ("() => Array.from(document.querySelectorAll('.with-trends')).map(s => { "
          "const g = s.querySelector('.sparks .js-plotly-plot'); "
          "return {rows: Array.from(s.querySelectorAll('.row .name'))"
          ".map(a => a.getAttribute('href').split('?')[0].slice(11)), "
          "y: g && g.data ? g.data.filter(t => t.mode === 'lines+markers').flatMap(t => t.y) : null}; })")
BARS = "() => { const g = document.querySelector('#compare-bars .js-plotly-plot'); " \
       "return g && g.data ? {y: g.data[0].y, x: g.data[0].x, areas: g.data[0].customdata} : null; }"
# the value map's polygons: fetched once from the URL its figure names, and drawn (the fill's map source)
MAP = "() => { const g = document.querySelector('.compare-map .js-plotly-plot'); " \
      "const url = g && g.data && g.data[0].geojson; const got = url && (window.PlotlyGeoAssets || {})[url]; " \
      "const map = g && g._fullLayout && g._fullLayout.map && g._fullLayout.map._subplot; " \
      "const fill = map && Object.values(map.traceHash).find(t => t.type === 'choroplethmap'); " \
      "const source = fill && map.map.getSource(fill.sourceId); " \
      "return got && got.features && source ? {url: url, ids: got.features.map(f => f.id), " \
      "drawn: source.serialize().data.features.length} : null; }"


@pytest.fixture(scope="module")
def app(tmp_path_factory, catalog_dir, redis_url):
    """The app on the shipped catalog, its archive holding the last two hours of the simulated demo."""
    data_dir = tmp_path_factory.mktemp("analyst")
    scratch = connect(redis_url)
    scratch.flushdb()
    end = time.time() // 300 * 300
    backfill_values(scratch, AreaTree(pukou_demo()), load_catalog([catalog_dir]), data_dir / "archive",
                    end - HOURS * 3600, end)
    scratch.flushdb()
    os.environ["CITYVITALS_VALUE_STEP_SECONDS"] = "3600"
    try:
        live = LiveApp(data_dir, catalog_dir)
    finally:
        del os.environ["CITYVITALS_VALUE_STEP_SECONDS"]
    yield live
    live.close()


@pytest.fixture(scope="module")
def tree() -> AreaTree:
    return AreaTree(pukou_demo())


@pytest.fixture(scope="module")
def indicator(app, tree) -> str:
    """A macro indicator with a value in every community of the first two streets, differing between them."""
    kids = [a.id for s in tree.ids("street")[:2] for a in tree.children(s)]
    frame = read_raw(values_root(app.settings.archive_path), 0, 4e9, None, kids)
    means = frame.groupby(["indicator", "area"])["value"].mean().unstack()
    full = means[means.notna().all(axis=1) & (means.nunique(axis=1) == len(kids))]
    return sorted(full.index)[0]


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"e2e-{name}-1080p.png"), full_page=False)


def test_a_panel_at_a_community_shows_a_trend_for_every_indicator(app, page, tree, catalog_dir):
    community = tree.ids("community")[3]
    panel = [i for i in load_catalog([catalog_dir]).indicators if i.group == PANEL and i.tier == "panel"]
    page.goto(f"{app.url}/panel/{PANEL}?area={community}")
    page.wait_for_function(f"() => ({SPARKS})().length > 0 && ({SPARKS})().every(s => s.y)")
    sections = page.evaluate(SPARKS)
    frame = read_raw(values_root(app.settings.archive_path), 0, 4e9, [i.id for i in panel], [community])
    measured = set(frame.loc[frame["value"].notna(), "indicator"])  # some panel indicators have no source here
    assert len(measured) >= 0.8 * len(panel)
    assert sorted(i for s in sections for i in s["rows"]) == sorted(i.id for i in panel)
    for s in sections:  # row k's slot spans y in (-k-1, -k): a line in every slot with a value in the archive
        slots = {int(-y) for y in s["y"] if y is not None}
        assert slots == {k for k, i in enumerate(s["rows"]) if i in measured}, s
    assert "15 min" in page.locator(".with-trends .aggregation").first.inner_text()  # 24 h in 15-minute means
    _shot(page, "panel-trends")


def test_a_panel_shows_a_moved_state_in_place_with_its_trends_kept(app, page, tree, catalog_dir):
    community = tree.ids("community")[3]
    page.goto(f"{app.url}/panel/{PANEL}?area={community}")
    page.wait_for_function(f"() => ({SPARKS})().length > 0 && ({SPARKS})().every(s => s.y)")
    before = page.evaluate(SPARKS)
    answers = []  # the refreshes' answers: one must patch the list in place rather than send it again
    page.on("response", lambda r: answers.append(r) if "_dash-update-component" in r.url and r.status == 200 else None)
    grids = [a.id for a in tree.children(community)]
    store.append_samples(app.client, "test", [Sample("theft_cases_24h", g, time.time(), 250.0) for g in grids])
    unit = load_catalog([catalog_dir]).by_id["theft_count"].unit
    row = '.row:has(a[href^="/indicator/theft_count?"]) .value'
    page.wait_for_function("([sel, want]) => document.querySelector(sel).innerText === want",
                           arg=[row, value_text(250.0 * len(grids), unit)], timeout=20000)
    patches = [r for r in answers if "__dash_patch_update" in r.text() and "panel-sections" in r.text()]
    assert patches and page.evaluate(SPARKS) == before  # the rows moved, the trends stayed as drawn


def test_compare_ranks_the_communities_by_their_archived_means(app, page, tree, indicator, catalog_dir):
    street = tree.ids("street")[0]
    page.goto(f"{app.url}/compare/{indicator}?area={street}&range=24h")
    page.wait_for_function(f"() => ({BARS})() !== null")
    now = time.time()
    bars = page.evaluate(BARS)
    frame = read_raw(values_root(app.settings.archive_path), now - 86400 - 120, now + 60, [indicator],
                     [a.id for a in tree.children(street)])
    worst_low = load_catalog([catalog_dir]).by_id[indicator].direction == "lower_is_worse"
    means = frame.groupby("area")["value"].mean().sort_values(ascending=worst_low, kind="stable")
    shown = list(zip(bars["areas"][::-1], bars["x"][::-1], strict=True))  # plotly lists the top bar last
    assert [a for a, _ in shown] == means.index.tolist()
    assert [x for _, x in shown] == pytest.approx(means.tolist(), rel=1e-9)
    assert len(shown) == len(tree.children(street))
    page.wait_for_function(f"() => ({MAP})() !== null && ({MAP})().drawn > 0")
    drawn = page.evaluate(MAP)
    kids = sorted(a.id for a in tree.children(street))
    assert drawn["url"].startswith(f"/geo/{street}/") and sorted(drawn["ids"]) == kids and drawn["drawn"] == len(kids)
    _shot(page, "compare")


def test_the_url_with_a_range_reproduces_the_view(app, page, tree):
    community = tree.ids("community")[3]
    url = f"{app.url}/panel/{PANEL}?area={community}&range=7d"
    page.goto(url)
    page.wait_for_selector(".with-trends .aggregation")
    assert "current" in page.locator("#range-7d").get_attribute("class")
    assert "6 h" in page.locator(".with-trends .aggregation").first.inner_text()  # 7 d in 6-hour means
    page.click("#range-1h")
    page.wait_for_function("() => location.search.includes('range=1h')")
    page.wait_for_function("() => document.querySelector('.with-trends .aggregation') && "
                           "document.querySelector('.with-trends .aggregation').innerText.includes('5 min')")
    page.fill("#range-from", "2026-11-01")
    page.fill("#range-to", "2026-11-03")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#range-apply').getAttribute('href').includes('custom')")
    href = page.locator("#range-apply").get_attribute("href")
    assert "from=2026-11-01" in href and "to=2026-11-03" in href and f"area={community}" in href
    page.goto(url)  # the same link: the same range again
    page.wait_for_selector(".with-trends .aggregation")
    assert "current" in page.locator("#range-7d").get_attribute("class")


def test_the_csv_export_carries_the_numbers_of_the_chart(app, page, tree, indicator):
    street = tree.ids("street")[1]
    page.goto(f"{app.url}/compare/{indicator}?area={street}&range=24h")
    page.wait_for_function(f"() => ({BARS})() !== null")
    bars = page.evaluate(BARS)
    with page.expect_download() as download:
        page.locator(".card", has=page.locator("#compare-bars")).locator("button.export-button").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert [r["area"] for r in rows] == bars["areas"][::-1]
    assert [float(r["value"]) for r in rows] == pytest.approx(bars["x"][::-1], rel=1e-9)
    assert {r["state"] for r in rows} <= {s.label for s in State} and rows[0]["rank"] == "1"
    assert download.value.suggested_filename == f"compare_{indicator}_{street}_bars_24h.csv"


def test_the_png_export_is_the_chart_as_drawn_at_twice_its_size(app, page, tree, indicator):
    street = tree.ids("street")[1]
    page.goto(f"{app.url}/compare/{indicator}?area={street}&range=24h")
    page.wait_for_function(f"() => ({BARS})() !== null")
    size = page.evaluate("() => { const l = document.querySelector('#compare-bars .js-plotly-plot')._fullLayout; "
                         "return [l.width, l.height]; }")
    chart = page.locator("#compare-bars")
    chart.hover()  # plotly shows its modebar on hover
    with page.expect_download() as download:
        chart.locator(".modebar-btn[data-title*='PNG' i]").click()
    png = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == f"compare-{indicator}-{street.replace('.', '_')}-bars.png"
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk: the picture's pixels
    assert [width, height] == [2 * size[0], 2 * size[1]]  # scale 2: sharp on a report or a slide
    assert len(png) > 30_000  # bars, labels and axes drawn, not an empty frame (that is a few kB)


def test_a_panel_prints_as_a_report_with_its_area_range_and_time(app, page, tree):
    community = tree.ids("community")[3]
    page.goto(f"{app.url}/panel/{PANEL}?area={community}&range=7d")
    page.wait_for_function(f"() => ({SPARKS})().length > 0 && ({SPARKS})().every(s => s.y)")
    assert not page.locator(".print-header").is_visible()  # on screen: the page as it is
    page.emulate_media(media="print")
    header = page.locator(".print-header").inner_text()
    assert tree[community].name_en in header and "Last 7 days" in header
    printed = datetime.strptime(header.split(" · ")[-1], "%Y-%m-%d %H:%M Asia/Shanghai").replace(tzinfo=SHANGHAI)
    assert abs(printed.timestamp() - time.time()) < 120  # when, on the city's clock
    assert not page.locator(".range-picker").is_visible()
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000  # the trends are drawn in it, not an empty page
