"""The simulated city behaves like one: counts from events in windows, stations where they stand, seasons, rain."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity
from feeds.simulator.events import Events, Window
from feeds.simulator.scenarios import SCENARIOS, ActiveScenario
from feeds.simulator.stations import NETWORKS, station_grids

TZ = ZoneInfo("Asia/Shanghai")
NOON = datetime(2026, 11, 18, 12, 0, tzinfo=TZ).timestamp()  # a Wednesday
NEW = ("building_fire", "gas_leak", "water_main_burst", "elevator_entrapments", "complaint_burst")


@pytest.fixture(scope="module")
def city(demo_tree) -> SimulatedCity:
    return SimulatedCity(demo_tree, registry(), seed=5)


def test_a_window_counts_each_event_from_when_it_happens_until_it_is_a_window_old():
    events = Events(np.array([100.0, 3700.0, 3800.0]), np.array([0, 1, 0]))
    window = Window(1, 2, lambda h: Events(events.ts[events.ts // 3600 == h], events.grid[events.ts // 3600 == h]))
    assert window.count(99.0).tolist() == [0, 0]
    assert window.count(100.0).tolist() == [1, 0]
    assert window.count(3699.0).tolist() == [1, 0]
    assert window.count(3700.0).tolist() == [0, 1]  # the first left as the second came
    assert window.count(3800.0).tolist() == [1, 1]
    assert window.count(7400.0).tolist() == [0, 0]


def test_a_24h_count_never_drops_by_more_than_the_events_leaving_its_window(city):
    # Hand-drawn events of the same seed: what a minute's drop may be is what left the window in it.
    model = city.by_id["fire_calls_24h"]
    window = city._window(model)
    before = city.values(NOON)["fire_calls_24h"]
    for minute in range(1, 181):
        now = NOON + 60 * minute
        after = city.values(now)["fire_calls_24h"]
        start = now - 86400
        hour = int((start - 60) // 3600)
        left = sum(window.slot(h)[0].count(start - 60, start, len(before)) for h in (hour, hour + 1))
        assert np.all(before - after <= left), minute
        before = after


def test_counts_do_not_flicker_from_minute_to_minute(city):
    counts = [city.values(NOON + 60 * m) for m in range(30)]
    for metric in ("fire_calls_24h", "hl_property_24h", "disputes_30d", "elevator_entrapments_24h"):
        steps = np.abs(np.diff([c[metric] for c in counts], axis=0))
        assert steps.sum() <= 0.01 * counts[0][metric].size * 30, metric  # a few events in half an hour, not noise


def test_station_metrics_exist_only_at_station_grids(city, demo_tree):
    values = city.values(NOON)
    masks = station_grids(demo_tree)
    for net in NETWORKS:
        for metric in net.metrics:
            assert np.array_equal(np.isfinite(values[metric]), masks[metric]), metric
    assert masks["river_level"].sum() == 7 and masks["pm25"].sum() == 12 and masks["sewage_cod_out"].sum() == 5
    river_streets = {demo_tree.ancestors(g)[1].id for g in np.array(demo_tree.ids("grid"))[masks["river_level"]]}
    assert river_streets == {"pukou.jiangpu", "pukou.qiaolin", "pukou.yongning"}
    assert all(np.isfinite(values[m]).all() for m in ("noise_db", "fire_calls_24h", "water_pressure_mpa"))
    assert len([s for s in city.samples(NOON) if s.metric == "river_level"]) == 7  # no sample where no gauge


def test_seasons_and_holidays(demo_tree):
    city = SimulatedCity(demo_tree, registry())
    at = {m: datetime(2026, m, 15, 14, 0, tzinfo=TZ).timestamp() for m in (1, 7)}
    temperature = {m: np.nanmean(city.values(t)["temperature_c"]) for m, t in at.items()}
    assert 2 < temperature[1] < 12 and 27 < temperature[7] < 36
    river = {m: np.nanmean(city.values(t)["river_level"]) for m, t in at.items()}
    assert river[7] > river[1] + 2
    pm25 = {m: np.nanmean(city.values(t)["pm25"]) for m, t in at.items()}
    assert pm25[1] > 1.5 * pm25[7]
    # National Day: a Thursday with the rest-day rhythm (fewer at work, fewer rush-hour jams).
    workday, holiday = (datetime(2026, d.month, d.day, 8, 0, tzinfo=TZ).timestamp()
                        for d in (datetime(2026, 10, 15), datetime(2026, 10, 1)))
    assert np.mean(city.values(holiday)["congestion_index"]) < 0.85 * np.mean(city.values(workday)["congestion_index"])


def test_rain_crosses_the_district_and_sets_off_ponding_and_slower_roads(demo_tree):
    city = SimulatedCity(demo_tree, registry(), seed=2)
    days = [datetime(2026, 7, d, tzinfo=TZ) for d in range(1, 32)]
    wet = [(d, city.weather.episode(d)) for d in days if city.weather.episode(d) is not None]
    assert 8 <= len(wet) <= 20  # Nanjing has about 13 rain days in July
    day, (start, hours, peak, grid) = max(wet, key=lambda w: w[1][2])
    assert grid[:, 0].max() > 0.5  # the front takes over half an hour to cross the district
    crest = start + 3600 * hours / 2
    first, last = np.argmin(grid[:, 0]), np.argmax(grid[:, 0])
    assert city.weather.rate(crest + 1800)[first] > 0 and city.weather.rate(start + 60)[last] == 0
    rain = city.weather.rainfall(crest + 3600 * (grid[:, 0].max() + 1), 24)
    assert rain.max() > 10


@pytest.mark.parametrize("name", NEW)
def test_each_new_scenario_raises_its_metrics_in_its_area_only(name, demo_tree):
    scenario = SCENARIOS[name]
    assert scenario.level in ("grid", "community")
    area = demo_tree.ids(scenario.level)[40]
    quiet, busy = (SimulatedCity(demo_tree, registry(), seed=5) for _ in range(2))
    running = ActiveScenario(name, area, NOON, scenario.minutes)
    t = NOON + 30 * 60
    for minute in range(0, 31, 5):  # the city sees the scenario as it runs
        busy.values(NOON + 60 * minute, [running])
    normal, during = quiet.values(t), busy.values(t, [running])
    inside = busy.grids_under(area)
    moved = {m for m in during if not np.array_equal(normal[m], during[m], equal_nan=True)}
    effects = {e.metric for e in scenario.effects} & set(during)
    assert effects <= moved, effects - moved
    for metric in moved:
        assert np.array_equal(normal[metric][~inside], during[metric][~inside], equal_nan=True), metric
    for e in scenario.effects:
        if e.metric in effects:
            up = np.nansum(during[e.metric][inside]) - np.nansum(normal[e.metric][inside])
            assert up > 0 if e.mul >= 1 else up < 0, e.metric


def test_a_scenarios_events_stay_counted_for_their_window_after_it_ends(demo_tree):
    city = SimulatedCity(demo_tree, registry(), seed=5)
    grid = demo_tree.ids("grid")[7]
    running = ActiveScenario("building_fire", grid, NOON, 90)
    for minute in range(0, 95, 5):
        city.values(NOON + 60 * minute, [running] if minute < 90 else [])
    quiet = SimulatedCity(demo_tree, registry(), seed=5)
    g = demo_tree.ids("grid").index(grid)
    for hours in (2, 12, 23):
        later = NOON + 3600 * hours
        assert city.values(later)["fire_calls_24h"][g] > quiet.values(later)["fire_calls_24h"][g], hours
    assert city.values(NOON + 3600 * 25)["fire_calls_24h"][g] == quiet.values(NOON + 3600 * 25)["fire_calls_24h"][g]
