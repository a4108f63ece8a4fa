"""The wall's rotation rule, called as the plain function the kiosk callback calls."""

from __future__ import annotations

from dashboard.kiosk import Shown, kiosk_params, next_view, rotation, split_view, sticky

VIEWS = rotation("pukou")
PERIOD = 20.0


def test_rotation_is_the_overview_then_the_six_panels():
    assert VIEWS[0] == "/area/pukou"
    assert [v.split("?")[0] for v in VIEWS[1:]] == [
        "/panel/party_building", "/panel/public_safety", "/panel/public_service", "/panel/eco_environment",
        "/panel/city_management", "/panel/social_governance"]
    assert all(v.endswith("?area=pukou") for v in VIEWS[1:])


def test_a_normal_view_stays_one_period_then_the_next_comes_and_the_last_wraps_around():
    first = next_view(None, VIEWS, PERIOD, 1000.0, [], set())
    assert first == Shown(VIEWS[0], 0, 1000.0)
    assert next_view(first, VIEWS, PERIOD, 1019.9, [], set()).view == VIEWS[0]
    second = next_view(first, VIEWS, PERIOD, 1020.0, [], set())
    assert (second.view, second.index, second.since) == (VIEWS[1], 1, 1020.0)
    last = Shown(VIEWS[-1], len(VIEWS) - 1, 0.0)
    assert next_view(last, VIEWS, PERIOD, PERIOD, [], set()).view == VIEWS[0]


def test_an_abnormal_view_dwells_twice_as_long():
    shown = Shown(VIEWS[2], 2, 0.0)
    assert next_view(shown, VIEWS, PERIOD, 30.0, [], {VIEWS[2]}).view == VIEWS[2]
    assert next_view(shown, VIEWS, PERIOD, 30.0, [], set()).view == VIEWS[3]
    assert next_view(shown, VIEWS, PERIOD, 40.0, [], {VIEWS[2]}).view == VIEWS[3]


def test_a_street_that_just_turned_red_is_shown_at_once_and_the_rotation_resumes_after_it():
    shown = Shown(VIEWS[3], 3, 100.0, ("pukou.jiangpu",))
    jumped = next_view(shown, VIEWS, PERIOD, 101.0, ["pukou.jiangpu", "pukou.taiquan"], set())
    assert (jumped.view, jumped.index, jumped.since) == ("/area/pukou.taiquan", 3, 101.0)
    # still red on the next tick: no second jump, and it dwells as an abnormal view
    red = ["pukou.jiangpu", "pukou.taiquan"]
    assert next_view(jumped, VIEWS, PERIOD, 125.0, red, {"/area/pukou.taiquan"}).view == "/area/pukou.taiquan"
    assert next_view(jumped, VIEWS, PERIOD, 141.0, red, {"/area/pukou.taiquan"}).view == VIEWS[4]


def test_areas_already_red_when_the_wall_starts_do_not_jump():
    first = next_view(None, VIEWS, PERIOD, 0.0, ["pukou.jiangpu"], set())
    assert next_view(first, VIEWS, PERIOD, 1.0, ["pukou.jiangpu"], set()).view == VIEWS[0]


def test_query_string_switches_kiosk_and_sets_the_period():
    assert kiosk_params("?kiosk=1&rotate=7") == (True, 7.0, None)
    assert kiosk_params("?kiosk=1&rotate=0.1&home=pukou.jiangpu") == (True, 2.0, "pukou.jiangpu")
    assert kiosk_params("?kiosk=1&rotate=soon")[1] == 20.0
    assert kiosk_params("?kiosk=0")[0] is False and kiosk_params("")[0] is False
    assert split_view(VIEWS[1], 7.0, "pukou") == ("/panel/party_building", "?area=pukou&kiosk=1&rotate=7&home=pukou")
    assert split_view(VIEWS[0], 7.0, "pukou") == ("/area/pukou", "?kiosk=1&rotate=7&home=pukou")


def test_the_next_view_keeps_the_language_and_map_indicator_of_the_wall_and_drops_an_unknown_language():
    keep = sticky("?kiosk=1&lang=en&by=aqi&rotate=5")
    assert keep == {"lang": "en", "by": "aqi"}
    assert split_view(VIEWS[0], 7.0, "pukou", keep) == ("/area/pukou", "?kiosk=1&rotate=7&home=pukou&lang=en&by=aqi")
    assert sticky("?kiosk=1&lang=fr") == {}
