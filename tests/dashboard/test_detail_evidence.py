"""The indicator page's "why": the evidence behind a state, the rule that judged it, since when, a countdown (#20)."""

from __future__ import annotations

import pytest

from cityvitals import store
from cityvitals.store import Sample
from dashboard import context
from dashboard.context import DashboardContext
from dashboard.detail import evidence_text, why
from dashboard.overview import ticker_line
from indicators.explain import explain
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import EVIDENCE_CATALOG
from tests.conftest import TWENTY_GRIDS as GRIDS
from tests.conftest import twenty_grid_tree as tree
from tests.dashboard.conftest import text

NOW = 1_800_000_000.0


@pytest.fixture
def scored(redis_client, sqlite_engine):
    """Four fires in the first grid (red by funnel limits), two police calls there (too few to judge)."""
    catalog = load_catalog([EVIDENCE_CATALOG])
    service = EngineService(redis_client, None, tree(), catalog, consumer="t")
    store.append_samples(redis_client, "f", [Sample("fire_calls_24h", g, NOW - 10, 4.0 if g == GRIDS[0] else 0.0)
                                              for g in GRIDS])
    store.append_samples(redis_client, "p", [Sample("police_calls_1h", g, NOW - 10, 2.0 if g == GRIDS[0] else 0.0)
                                              for g in GRIDS])
    service.tick(NOW)
    context.set_context(DashboardContext(redis_client, sqlite_engine, service.tree, 5.0))
    return redis_client, {i.id: i.model_dump() for i in catalog.indicators}


def test_a_funnel_red_shows_its_events_the_reference_rate_the_expected_count_and_the_limits(scored):
    client, defs = scored
    shown = text(why(explain(client, "fires", GRIDS[0], now=NOW), NOW + 90, defs["fires"]))
    assert "4 fires among 1,000 residents" in shown and "1,000 名居民中 119火警数(24小时) 4" in shown
    assert "funnel vs district" in shown
    # the district: 4 fires among 20,000 residents = 2 per 10k; 1,000 residents here expect 0.2
    assert "D, rate 2 / 10k" in shown and "d 比率 2 / 10k" in shown and "Expected here 0.2" in shown
    # alone at the top of its 22 cells red needs 4 fires (hand-computed in tests/indicators/test_evidence.py)
    assert "red ≥ 4 (among 22 cells, Benjamini–Hochberg)" in shown
    assert "(2 min)" in shown  # in state since: 90 s ago
    assert "Minimum evidence" not in shown  # a count asks for none: its funnel limits weigh the evidence


def test_too_little_evidence_says_what_is_missing(scored):
    client, defs = scored
    e = explain(client, "police_rate", GRIDS[0], now=NOW)
    shown = text(why(e, NOW, defs["police_rate"]))
    assert "insufficient evidence" in shown and "2 calls among 1,000 residents" in shown
    assert "≥ 3 events (not met)" in shown and "≥ 3件事件（不足）" in shown


def test_a_clearing_state_counts_down_its_clear_duration_a_raise_its_minimum_duration(scored):
    client, _ = scored
    e = {**explain(client, "fires", GRIDS[0], now=NOW), "pending": "normal", "pending_since": NOW - 60,
         "min_duration_s": 60.0, "clear_after_s": 600.0}
    assert "→ normal in 9 min" in text(why(e, NOW, {}))
    rising = {**e, "state": "yellow", "pending": "red", "pending_since": NOW - 30}
    assert "→ red in 30 s" in text(why(rising, NOW, {}))


def test_a_ratio_reads_as_so_many_of_so_many():
    assert evidence_text(3, 120, "ratio", {"numerator": "streetlights_faulty", "denominator": "streetlights"}) == (
        "120 中 3（故障路灯数 / 路灯数）", "3 of 120 lights")
    assert evidence_text(1, 2, "ratio", {"numerator": "elevator_entrapments_24h", "denominator": "elevators"})[1] == (
        "1 event among 2 elevators")
    assert evidence_text(1, 3, "ratio", {"numerator": "a + b", "denominator": "c"})[1] == "1 of 3"
    assert evidence_text(1634.07, 60000, "rate_per_10k", {"formula": "a + b"}) == (
        "60,000 名居民中 事件 1,634", "1,634 events among 60,000 residents")


def test_a_funnel_red_in_the_ticker_names_its_limit_a_funnel_not_a_share(scored):
    client, defs = scored
    [row] = [w for w in store.read_ticker(client, GRIDS[0]) if w["i"] == "fires"]
    shown = text(ticker_line(row, NOW + 60, defs).children[3])
    assert shown.startswith("4 / ") and "funnel 99.8%" in shown and "漏斗 99.8%" in shown


@pytest.mark.parametrize(("change", "reason"), [({"population": 0}, "no population for this area"),
                                                ({"kind": "special"}, "a special grid: its events come from patients")])
def test_a_rate_where_residents_say_nothing_is_not_judged_and_says_why(redis_client, sqlite_engine, change, reason):
    import dataclasses

    from cityvitals.areas import AreaTree
    areas = [dataclasses.replace(a, **change) if a.id == GRIDS[0] else a for a in
             (tree()[i] for i in [tree().root.id, *(x for lv in ("street", "community", "grid")
                                                    for x in tree().ids(lv))])]
    service = EngineService(redis_client, None, AreaTree(areas), load_catalog([EVIDENCE_CATALOG]), consumer="t")
    store.append_samples(redis_client, "p", [Sample("police_calls_1h", g, NOW - 10, 50.0) for g in GRIDS])
    service.tick(NOW)
    context.set_context(DashboardContext(redis_client, sqlite_engine, service.tree, 5.0))
    empty, peopled = (explain(redis_client, "police_rate", g, now=NOW) for g in GRIDS[:2])
    assert (empty["state"], empty["population"]) == ("not_judged", change.get("population", 1000))
    assert peopled["state"] == "red"  # 50 calls among 1,000 residents: 500 per 10k
    assert reason in text(why(empty, NOW))
    assert reason not in text(why(peopled, NOW))
