"""Why is this red: explanations read back from Redis after real engine ticks, checked by hand."""

from pathlib import Path

import pytest

from cityvitals import store
from cityvitals.store import Sample
from indicators.explain import UnknownTarget, explain
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import tiny_tree

CATALOG = Path(__file__).parent / "fixtures" / "explain.yaml"
NOW = 1_800_000_000.0


@pytest.fixture
def explained(redis_client):
    """One tick over samples sent 100 s before NOW by two feeds."""
    orders = {"d.s.c1.g1": 4, "d.s.c1.g2": 12, "d.s.c1.g3": 6, "d.s.c2.g4": 1}
    levels = {"d.s.c1.g1": 2.0, "d.s.c1.g2": 5.0, "d.s.c1.g3": 8.0}  # g4 never reports
    store.append_samples(redis_client, "hotline", [Sample("hotline_orders_1h", g, NOW - 100, v)
                                                   for g, v in orders.items()])
    store.append_samples(redis_client, "gauges", [Sample("river_level", g, NOW - 100, v) for g, v in levels.items()])
    service = EngineService(redis_client, None, tiny_tree(), load_catalog([CATALOG]), consumer="t")
    service.tick(NOW)
    return redis_client


def test_sum_explains_override_threshold_and_children_shares(explained):
    e = explain(explained, "orders", "d.s.c1", now=NOW + 30)
    assert (e["state"], e["value"], e["since"]) == ("yellow", 22.0, NOW)  # 4 + 12 + 6 = 22 >= 15
    assert e["thresholds"] == {"yellow": "15", "red": "25", "source": "override 1: level=community"}
    assert (e["data_age_s"], e["feed"], e["coverage"], e["rollup"]) == (130.0, "hotline", 1.0, "sum")
    kids = [(c["area"], c["state"], c["value"], c["contribution"]) for c in e["children"]]
    assert kids == [("d.s.c1.g2", "yellow", 12.0, pytest.approx(12 / 22)),  # 12 >= grid default 10
                    ("d.s.c1.g3", "normal", 6.0, pytest.approx(6 / 22)),
                    ("d.s.c1.g1", "normal", 4.0, pytest.approx(4 / 22))]


def test_street_sum_uses_default_threshold_and_community_children(explained):
    e = explain(explained, "orders", "d.s", now=NOW)
    assert (e["state"], e["value"]) == ("red", 23.0)  # 22 + 1 >= default red 20
    assert e["thresholds"]["source"] == "default"
    assert [(c["area"], c["contribution"]) for c in e["children"]] == [
        ("d.s.c1", pytest.approx(22 / 23)), ("d.s.c2", pytest.approx(1 / 23))]


def test_mean_is_weighted_by_reporting_population_and_stale_child_comes_last(explained):
    e = explain(explained, "level", "d.s.c1", now=NOW)
    # (2*1000 + 5*2000 + 8*1000) / 4000 = 5.0 >= 4.5
    assert (e["state"], e["value"], e["feed"]) == ("yellow", 5.0, "gauges")
    assert [(c["area"], c["contribution"]) for c in e["children"]] == [
        ("d.s.c1.g3", pytest.approx(8000 / 20000)), ("d.s.c1.g2", pytest.approx(10000 / 20000)),
        ("d.s.c1.g1", pytest.approx(2000 / 20000))]  # g3 (8) and g2 (5) are yellow at 4.5: higher value first
    street = explain(explained, "level", "d.s", now=NOW)
    assert street["coverage"] == pytest.approx(3 / 4)  # g4 sent no level
    # c2 (only g4) never delivered a level while the others did: no source there, not judged (not stale)
    assert [(c["area"], c["state"], c["value"]) for c in street["children"]][-1] == ("d.s.c2", "not_judged", None)


def test_unknown_indicator_or_area_is_refused_with_what(explained):
    with pytest.raises(UnknownTarget, match="nope"):
        explain(explained, "nope", "d.s")
    with pytest.raises(UnknownTarget, match="d.x"):
        explain(explained, "orders", "d.x")


def test_warning_entry_goes_when_its_cell_turns_normal_and_others_stay(explained):
    keys = set(explained.hkeys(store.WARNINGS))
    assert {"orders@d.s.c1.g2", "orders@d.s.c1", "orders@d.s", "level@d.s.c1"} <= keys
    store.append_samples(explained, "hotline", [Sample("hotline_orders_1h", "d.s.c1.g2", NOW, 1.0)])
    service = EngineService(explained, None, tiny_tree(), load_catalog([CATALOG]), consumer="t")
    service.tick(NOW + 5)
    service.tick(NOW + 10)  # a second tick: only what changed is written, the entries stay right
    after = set(explained.hkeys(store.WARNINGS))
    # g2: 12 -> 1 (below 10 - 3); community 4+1+6 = 11 < 15 - 3; street 12 >= 10: red relaxes to yellow
    assert after == keys - {"orders@d.s.c1.g2", "orders@d.s.c1"}
    assert store.read_state_of(explained, "orders", ["d.s"])["d.s"]["s"] == "yellow"
