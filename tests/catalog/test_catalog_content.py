"""The shipped indicator catalog: complete, consistent with the metric registry and the simulator,
and believable on the demo city (mostly normal, a few yellow, rare red, nothing stale)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

from cityvitals.metrics import registry
from cityvitals.vocabulary import DOMAINS, PANELS
from feeds.simulator.models import MODELS, RHYTHMS
from feeds.simulator.orders import THINNED
from feeds.workorders.aggregate import PRODUCED
from indicators.loader import load_catalog, reads
from indicators.schema import parse_duration
from indicators.states import State

CATALOG_DIR = Path(__file__).resolve().parents[2] / "indicators" / "catalog"
TZ = ZoneInfo("Asia/Shanghai")
# Ids other code and tests rely on.
FOUNDATION = ("pm25", "aqi", "river_level_max", "hotline_orders_per_10k", "order_closure_rate", "camera_online_rate",
              "fire_alarms", "congestion_index", "outage_households_share", "industrial_power_yoy")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog([CATALOG_DIR])


def _metrics_read(catalog) -> set[str]:
    """Metrics the catalog reads (a name that is both a metric and an indicator id means the metric)."""
    names = {name for ind in catalog.indicators for name in reads(ind)}
    return (names & registry().keys()) | (names - registry().keys() - catalog.by_id.keys())


def test_catalog_loads_with_enough_indicators_everywhere(catalog):
    macro = Counter(i.group for i in catalog.indicators if i.tier == "macro")
    panel = Counter(i.group for i in catalog.indicators if i.tier == "panel")
    print("macro", dict(macro), "panel", dict(panel))
    assert sum(macro.values()) >= 80
    assert all(macro[d] >= 10 for d in DOMAINS), macro
    assert sum(panel.values()) >= 300
    assert all(panel[p] >= 20 for p in PANELS), panel
    assert set(FOUNDATION) <= catalog.by_id.keys()


def test_ids_are_unique_across_files():
    ids = [item["id"] for path in sorted(CATALOG_DIR.glob("*.yaml"))
           for item in (yaml.safe_load(path.read_text(encoding="utf-8")).get("indicators") or [])]
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes


def test_every_indicator_is_documented_in_both_languages(catalog):
    for ind in catalog.indicators:
        assert CJK.search(ind.name.zh), ind.id
        assert not CJK.search(ind.name.en), ind.id
        assert ind.description.endswith(".") and len(ind.description) >= 25, ind.id
    names = Counter((i.name.en, i.unit) for i in catalog.indicators)
    assert not [n for n, k in names.items() if k > 1]


def test_every_metric_read_is_registered_and_simulated(catalog):
    metrics = registry()
    orders = set(PRODUCED) | set(THINNED)  # the work-order metrics come from simulated orders
    assert not {m.metric for m in MODELS} & orders
    modelled = {m.metric for m in MODELS} | orders
    read = _metrics_read(catalog)
    assert read <= metrics.keys(), read - metrics.keys()
    assert read <= modelled, read - modelled
    assert metrics.keys() <= modelled, metrics.keys() - modelled  # no registry metric without a model
    assert modelled <= metrics.keys(), modelled - metrics.keys()
    assert metrics.keys() <= read, metrics.keys() - read  # and none nobody reads
    assert len(metrics) <= 240


def test_models_are_well_formed():
    seen: set[str] = set()
    for m in MODELS:
        assert m.metric not in seen, m.metric
        assert m.rhythm in RHYTHMS, m.metric
        assert m.kind in ("gauge", "count", "share"), m.metric
        if m.kind == "share":
            assert m.of in seen, f"{m.metric}: share of {m.of}, which must come first"
            assert 0 < m.p <= 1
        seen.add(m.metric)
    for name, (shape, weekend) in RHYTHMS.items():
        assert shape.shape == (24,) and abs(shape.mean() - 1) < 0.1 and weekend > 0, name


def test_timing_fits_a_feed_that_sends_every_minute(catalog):
    for ind in catalog.indicators:
        assert parse_duration("30m") <= ind.stale_after <= parse_duration("1d"), ind.id
        assert ind.min_duration < ind.stale_after, ind.id


def test_sums_have_limits_per_level_unless_any_event_is_a_warning(catalog):
    """A district total is ~500 grid values: a sum needs its own district limits."""
    for ind in catalog.indicators:
        if ind.rollup != "sum":
            continue
        levels = {o.level for o in ind.overrides if o.level and not (o.schedule or o.profile or o.area)}
        any_event = ind.direction == "higher_is_worse" and ind.thresholds.yellow <= 1
        assert any_event or "district" in levels, ind.id


def test_overrides_exercise_levels_schedules_profiles_and_areas(catalog):
    overrides = [o for i in catalog.indicators for o in i.overrides]
    assert any(o.schedule for o in overrides)
    assert any(o.area for o in overrides)
    assert {o.profile for o in overrides if o.profile} >= {"flood_season", "holiday", "large_event"}
    # Communities and grids are judged by funnel limits, evidence and levels, not by loosened numbers (#20):
    # what level overrides remain are district and street limits.
    assert {o.level for o in overrides if o.level} == {"street", "district"}
    assert any(i.weight > 1 for i in catalog.indicators)


def _plain_level_overrides(ind, level: str) -> list:
    return [o for o in ind.overrides if o.level == level and not (o.area or o.schedule or o.profile)]


def test_small_areas_are_judged_by_rules_not_by_loosened_numbers(catalog):
    """Issue #20: no threshold set impossible to switch a level off, no grid/community numbers to quiet noise."""
    for ind in catalog.indicators:
        limits = [ind.thresholds] + list(ind.overrides)
        if ind.direction == "lower_is_worse":
            assert not any(o.yellow < 0 and o.red < 0 and ind.rollup != "mean" for o in limits), ind.id
        assert not _plain_level_overrides(ind, "community"), ind.id
        assert not [o for o in ind.overrides if o.level == "grid"], ind.id


def test_rates_and_ratios_declare_their_evidence(catalog):
    """A rate or ratio gets a colour only on enough evidence; a share where one case cannot cross yellow."""
    for ind in catalog.indicators:
        if ind.rollup not in ("ratio", "rate_per_10k"):
            continue
        no_events = ("job_vacancy_ratio", "kitchen_waste_share")  # seekers per posting, tonnes per tonnes
        if ind.id not in no_events:
            assert ind.evidence is not None, ind.id
        if ind.evidence is None or ind.rollup != "ratio" or ind.direction == "band":
            continue
        scale, yellow, n = ind.source.scale, ind.thresholds.yellow, ind.evidence.min_denominator
        if ind.direction == "lower_is_worse" and yellow < scale:
            assert (n - 1) / n * scale > yellow, ind.id  # one failure alone stays above yellow
        elif ind.direction == "higher_is_worse":
            assert scale / n < yellow or ind.evidence.min_events >= 2, ind.id  # one event alone stays below yellow


def test_funnels_judge_the_small_areas_where_events_happen(catalog):
    by_id = catalog.by_id
    for ind_id in ("fires_per_10k", "criminal_cases_per_10k", "police_calls_per_10k",
                   "elevator_entrapment_rate", "order_closure_rate", "noise_complaints_per_10k",
                   "hotline_orders_per_10k", "open_orders_per_10k"):
        assert by_id[ind_id].funnel is not None and "grid" in by_id[ind_id].funnel.levels, ind_id
    for ind_id in ("output_yoy", "tax_yoy", "unemployment_rate", "cpi_yoy"):  # statistics of the district
        assert by_id[ind_id].levels == ("district", "street"), ind_id
    # a count whose rate per 10k is funnel-judged below the street would be the same test twice there
    for ind_id in ("fires_24h", "health_complaints_count", "noise_complaints_count", "police_calls_count"):
        assert by_id[ind_id].levels == ("district", "street") and by_id[ind_id].funnel is None, ind_id
    # acute incidents stay judged at grid by fixed counts
    for ind_id in ("fire_alarms", "gas_leak_alarms", "pipe_bursts", "elevator_entrapments"):
        fun = by_id[ind_id].funnel
        assert "grid" in by_id[ind_id].levels and (fun is None or "grid" not in fun.levels), ind_id


# ------------------------------------------------------------------ the demo city is mostly normal
def _at(day: str, hh: int, mm: int) -> float:
    y, m, d = map(int, day.split("-"))
    return datetime(y, m, d, hh, mm, tzinfo=TZ).timestamp()


@pytest.fixture(scope="module")
def states(catalog):
    """Indicator states at every level at four times of a weekday and one flood-season afternoon.

    One engine runs through the times; each time's samples are sent twice, 31 minutes apart,
    so states that wait out a minimum duration have settled before they are read. The work-order
    metrics are the pipeline's aggregates of the simulated orders, as in the demo.
    """
    from cityvitals.areas import AreaTree, pukou_demo
    from cityvitals.store import Sample
    from feeds.simulator.city import SimulatedCity
    from feeds.simulator.orders import SimulatedOrders
    from indicators.engine import Engine

    tree = AreaTree(pukou_demo())
    city = SimulatedCity(tree, registry())
    orders = SimulatedOrders(tree)
    engine = Engine(tree, catalog)
    out = {}
    for label, t in [("03:00", _at("2026-03-11", 3, 0)), ("08:30", _at("2026-03-11", 8, 30)),
                     ("14:00", _at("2026-03-11", 14, 0)), ("18:00", _at("2026-03-11", 18, 0)),
                     ("flood 15:00", _at("2026-07-15", 15, 0))]:
        for ts in (t, t + 31 * 60):
            values = {**city.values(t), **orders.metrics(ts)}
            engine.ingest([Sample(m, g, ts, float(v)) for m, arr in values.items()
                           for g, v in zip(city.grid_ids, arr, strict=True) if not np.isnan(v)])
            result = engine.tick(ts)
        out[label] = {level: r.state.copy() for level, r in result.levels.items()}
    return out


WARNINGS = (State.YELLOW, State.RED)
NO_JUDGEMENT = (State.NOT_JUDGED, State.INSUFFICIENT)  # their own states: never a warning, never green


def _offenders(catalog, state: np.ndarray, rows: np.ndarray) -> list[str]:
    ids = [i.id for i in catalog.indicators]
    bad = []
    for r in np.flatnonzero(rows):
        share = np.mean(np.isin(state[r], WARNINGS) | (state[r] == State.STALE))
        if share > 0:
            bad.append(f"{ids[r]} {share:.0%}")
    return bad


@pytest.mark.parametrize("tier", ["macro", "panel"])
def test_demo_city_is_mostly_normal_at_every_level(catalog, states, tier):
    rows = np.array([i.tier == tier for i in catalog.indicators])
    report, failures = [], []
    for label, by_level in states.items():
        for level, state in by_level.items():
            cells = state[rows]
            judged = ~np.isin(cells, NO_JUDGEMENT)  # normal, yellow, red, stale: what the shares are of
            share = lambda s, cells=cells, judged=judged: np.sum(cells == s) / max(judged.sum(), 1)  # noqa: E731
            normal, yellow, red, stale = (share(s) for s in (State.NORMAL, State.YELLOW, State.RED, State.STALE))
            report.append(f"{tier} {label:11s} {level:9s} normal {normal:6.1%} yellow {yellow:5.2%} "
                          f"red {red:5.2%} stale {stale:5.2%} (no judgement {1 - judged.mean():5.1%})")
            if normal < 0.95 or red > 0.02 or stale > (0.001 if level == "grid" else 0):
                failures.append(f"{label} {level}: " + ", ".join(_offenders(catalog, state, rows)))
    print("\n".join(report))
    assert not failures, "\n".join(failures)


def test_no_indicator_is_off_normal_in_most_areas(catalog, states):
    """A threshold that the typical city crosses in most areas, or at most times, is a wrong threshold."""
    ids = [i.id for i in catalog.indicators]
    for label, by_level in states.items():
        for level in ("street", "community", "grid"):
            share = np.mean(np.isin(by_level[level], WARNINGS), axis=1)
            assert not [ids[k] for k in np.flatnonzero(share > 0.5)], f"{label} {level}"
    district = np.stack([s["district"][:, 0] for s in states.values()])
    assert not [ids[k] for k in np.flatnonzero(np.mean(np.isin(district, WARNINGS), axis=0) > 0.5)]
