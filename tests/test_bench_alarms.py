"""The alarm bench's figures, and the runner's change filter, on hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.alarms import Run, catalogs, chattering, expected_indicators, false_warnings, places
from feeds.simulator.scenarios import SCENARIOS, ActiveScenario
from indicators.runner import ChangeFilter


def _log(rows: list[tuple[float, str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"at": t, "indicator": i, "area": a, "level": "grid", "from_state": "normal",
                          "to_state": "red"} for t, i, a in rows])


def test_chattering_counts_pairs_with_more_than_three_transitions_in_ten_minutes():
    log = _log([(t, "x", "g1") for t in (0, 100, 200, 599)] + [(t, "x", "g2") for t in (0, 100, 200, 600)]
               + [(t, "y", "g1") for t in (0, 1, 2)])
    assert chattering(log) == 1  # g2's four take 600 s: not within 10 minutes


def _run(tree, scenario: str, area: str, start: float) -> Run:
    return Run(ActiveScenario(scenario, area, start, 60), places(tree, area),
               frozenset({"pollution": ["aqi"], "building_fire": ["fire_alarms"]}[scenario]))


def test_a_scenario_shows_at_its_area_under_it_and_above_it(demo_tree):
    community = demo_tree.ids("community")[0]
    street = demo_tree[community].parent
    grids = [c.id for c in demo_tree.children(community)]
    assert places(demo_tree, community) == {community, *grids, street, demo_tree.root.id}
    assert places(demo_tree, grids[0]) == {grids[0], community, street, demo_tree.root.id}


def test_a_scenario_expects_the_indicators_reading_what_it_moves():
    catalog = catalogs()["catalog"]
    fire = expected_indicators(catalog, "building_fire")
    assert {"fire_alarms", "fires_24h"} <= fire  # read fire_alarms_1h and fire_calls_24h, which the fire adds to
    assert "aqi" not in fire and "river_level_max" not in fire
    moved = {e.metric for e in SCENARIOS["building_fire"].effects}
    assert all(catalog.metric_inputs(catalog[i]) & moved or catalog.indicator_inputs(catalog[i]) & fire
               for i in fire)  # each one reads a moved metric, or an indicator that does


def test_false_warnings_are_outside_the_scenarios_area_and_not_an_earlier_ones_aftermath(demo_tree):
    grid, other = demo_tree.ids("grid")[0], demo_tree.ids("grid")[-1]
    community = demo_tree[grid].parent
    runs = [_run(demo_tree, "pollution", "pukou", 0.0), _run(demo_tree, "building_fire", grid, 7200.0)]
    new = _log([(7300, "fire_alarms", grid), (7300, "fire_alarms", community), (7300, "fire_alarms", "pukou"),
                (7300, "aqi", other),  # the pollution's aftermath, district-wide
                (7300, "noise_level", other),  # outside the fire, and no aftermath: false
                (11000, "noise_level", other)])  # after the fire's hour
    assert false_warnings(new, runs, 1) == 1


def test_the_change_filter_sends_what_moved_and_refreshes_the_rest():
    feed = ChangeFilter(["a", "b", "c"], refresh_s=600.0, seed=1)
    first = feed.samples(0.0, {"m": np.array([1.0, 2.0, np.nan])})
    assert sorted(s[1] for s in first) == ["a", "b"]  # nothing where not measured
    assert [s[1] for s in feed.samples(60.0, {"m": np.array([1.0, 3.0, np.nan])})] == ["b"]
    sent = [s[1] for t in range(120, 1300, 60) for s in feed.samples(float(t), {"m": np.array([1.0, 3.0, np.nan])})]
    assert sorted(set(sent)) == ["a", "b"] and sent.count("a") in (1, 2)  # again within each 600 s, not each tick
