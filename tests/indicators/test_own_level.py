"""Statistics where they exist (#17 item 4): a district's monthly CPI and its streets' unemployment rates.

A statistics bureau's export names districts and streets, not grids. Replayed through a mapping,
its rows are samples of those areas; an indicator that reads a level's own samples is judged
there with that value, shown on the area's page, and kept through an engine restart.
"""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cityvitals import store
from dashboard import context, indicator_table
from dashboard.context import DashboardContext
from dashboard.detail import why
from indicators.explain import explain
from indicators.loader import CatalogInvalid, load_catalog
from indicators.service import EngineService
from tests.dashboard.conftest import text
from wiring.cli import main

SH = ZoneInfo("Asia/Shanghai")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
INDICATOR = """
  - id: {id}
    name: {{zh: {id}, en: {id}}}
    tier: macro
    group: economic_development
    unit: "%"
    description: A statistic published for the area itself.
    source: {source}
    rollup: mean
    direction: {direction}
    thresholds: {thresholds}
    stale_after: 1q
"""
CATALOG = "indicators:" + INDICATOR.format(
    id="cpi", source="{metric: cpi_yoy_pct, level: district}", direction="band",
    thresholds="{yellow: [-1, 3], red: [-2, 5]}") + INDICATOR.format(
    id="jobless", source="{metric: unemployment_pct, level: street}", direction="higher_is_worse",
    thresholds="{yellow: 5.5, red: 6.5}")
MAPPING = """\
time: {columns: [年份, 月份], format: "%Y %m"}
area: {column: 地区, map: {浦口区: pukou, 江浦街道: pukou.jiangpu, 桥林街道: pukou.qiaolin}}
wide: {CPI同比: cpi_yoy_pct, 失业率: unemployment_pct}
"""


def _months_back(k: int) -> tuple[int, int]:
    """(year, month) ``k`` whole months before this one, in Shanghai."""
    today = datetime.now(SH)
    index = today.year * 12 + today.month - 1 - k
    return index // 12, index % 12 + 1


@pytest.fixture
def replayed(tmp_path, cli_env, capsys):
    """The bureau's export replayed through its mapping file, as an operator would: returns the replay's report."""
    (y1, m1), (y2, m2) = _months_back(2), _months_back(1)
    export = tmp_path / "stats.csv"
    export.write_text("年份,月份,地区,CPI同比,失业率\n"
                      f"{y1},{m1},浦口区,2.0,\n"  # the month before: replaced by the newer month
                      f"{y2},{m2},浦口区,5.6,\n"  # red: above the band's 5
                      f"{y2},{m2},江浦街道,,7.0\n"  # red: above 6.5
                      f"{y2},{m2},桥林街道,,4.0\n"
                      f"{y2},{m2},汤泉区,,4.2\n", encoding="utf-8")  # a name the map does not know: refused
    mapping = tmp_path / "stats.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    assert main(["feeds", "replay", str(export), "--mapping", str(mapping), "--speed", "max"]) == 0
    return capsys.readouterr().out


def _service(redis_client, sqlite_engine, demo_tree, tmp_path) -> EngineService:
    path = tmp_path / "statistics.yaml"
    path.write_text(CATALOG, encoding="utf-8")
    return EngineService(redis_client, sqlite_engine, demo_tree, load_catalog([path]), consumer="t")


def test_a_district_and_its_streets_are_judged_by_their_own_statistics(replayed, redis_client, sqlite_engine,
                                                                      demo_tree, tmp_path):
    assert "5 rows replayed: 4 samples stored, 1 refused" in replayed, replayed
    service = _service(redis_client, sqlite_engine, demo_tree, tmp_path)
    report = service.tick()
    assert (report.samples, report.superseded) == (4, 1)  # the older month of the district: superseded

    district = store.read_states(redis_client, "pukou")
    assert (district["cpi"]["s"], district["cpi"]["v"]) == ("red", 5.6)
    jiangpu, qiaolin = (store.read_states(redis_client, s) for s in ("pukou.jiangpu", "pukou.qiaolin"))
    assert (jiangpu["jobless"]["s"], jiangpu["jobless"]["v"]) == ("red", 7.0)
    assert (qiaolin["jobless"]["s"], qiaolin["jobless"]["v"]) == ("normal", 4.0)
    # A street the bureau publishes nothing for is not judged (others have a source: no feed is down)
    assert store.read_states(redis_client, "pukou.tangquan")["jobless"]["s"] == "not_judged"
    # Nowhere else are these judged, and no grid value is rolled up into them
    grid = demo_tree.ids("grid")[0]
    assert store.read_states(redis_client, grid)["cpi"]["s"] == "not_judged"
    assert store.read_states(redis_client, "pukou.jiangpu")["cpi"]["s"] == "not_judged"

    # The district's page: the CPI row is red with the bureau's value, "as of" its month
    context.set_context(DashboardContext(redis_client, sqlite_engine, demo_tree, 5.0))
    rows = {r["id"]: r for r in indicator_table.refresh(0, {"area": "pukou"})}
    month = MONTHS[_months_back(1)[1] - 1]
    assert rows["cpi"]["state"] == "■ red" and rows["cpi"]["value"] == "5.6%", rows["cpi"]
    assert rows["cpi"]["age"].endswith(f"as of {month}") or rows["cpi"]["age"].endswith(
        f"as of {month} {_months_back(1)[0]}"), rows["cpi"]["age"]
    # The wall's data age is of live data: a statistic of last month, on time, is not "data 38 d"
    assert store.read_summaries(redis_client, "district", ["pukou"])["pukou"]["data_ts"] is None
    # Its detail page says where the value comes from: no roll-up, no share of children with data
    facts = text(why(explain(redis_client, "cpi", "pukou"), time.time()))
    assert "the district's own statistic, not rolled up" in facts and "of children with data" not in facts, facts


def test_a_restarted_engine_keeps_a_levels_own_statistics(replayed, redis_client, sqlite_engine, demo_tree,
                                                          tmp_path):
    _service(redis_client, sqlite_engine, demo_tree, tmp_path).tick()
    store.clear_states(redis_client, ["cpi", "jobless"])  # nothing of the first engine's states is left to read
    again = _service(redis_client, sqlite_engine, demo_tree, tmp_path)
    assert again.tick().samples == 0  # every sample was read and acknowledged by the first engine
    assert store.read_states(redis_client, "pukou")["cpi"]["v"] == 5.6
    assert store.read_states(redis_client, "pukou.jiangpu")["jobless"]["s"] == "red"


@pytest.mark.parametrize(("source", "extra", "reason"), [
    ("{metric: cpi_yoy_pct, level: district}", "    levels: [district, street]\n",
     "cpi: levels: an indicator read from the district's own samples is judged at district only, "
     "not at district, street"),
    ("{metric: cpi_yoy_pct, level: grid}", "", "source.level: Input should be 'district', 'street' or 'community'"),
])
def test_an_own_level_indicator_judged_elsewhere_is_refused_with_its_line(tmp_path, source, extra, reason):
    path = tmp_path / "bad.yaml"
    path.write_text("indicators:" + INDICATOR.format(id="cpi", source=source, direction="band",
                                                     thresholds="{yellow: [-1, 3], red: [-2, 5]}") + extra)
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog([path])
    (error,) = caught.value.errors
    line = 13 if "levels" in reason else 8
    assert (error.line, reason.split(": ", 1)[1] in error.reason) == (line, True), str(error)


def test_a_grid_indicator_may_not_read_a_levels_own_statistic(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text(CATALOG + INDICATOR.format(id="real_cpi", source="{formula: cpi - 1}", direction="band",
                                               thresholds="{yellow: [-1, 3], red: [-2, 5]}"))
    with pytest.raises(CatalogInvalid) as caught:
        load_catalog([path])
    (error,) = caught.value.errors
    assert str(error) == (f'{path}:26:5: indicator "real_cpi": reads "cpi", read from the district\'s own samples, '
                          "but is itself rolled up from grids")
