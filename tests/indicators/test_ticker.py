"""The ticker index (``cv:ticker:<area>``) kept by real engine ticks on real Redis, read as the dashboard reads it."""

import json
from pathlib import Path

import pytest

from cityvitals import store
from cityvitals.areas import LEVELS
from cityvitals.store import Sample
from dashboard import context, warning_board
from dashboard.acknowledging import acknowledge_episodes
from dashboard.context import DashboardContext
from dashboard.overview import ticker_lines, wall_ticker
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import tiny_tree
from tests.dashboard.conftest import text

CATALOG = Path(__file__).parent / "fixtures" / "explain.yaml"
NOW = 1_800_000_000.0
TREE = tiny_tree()
ALL_AREAS = [a for level in LEVELS for a in TREE.ids(level)]
# Orders: g2 is yellow (12 >= 10), its community too (22 >= 15), street and district red (23 >= 20).
# River level (yellow at 4.5): g2 (5), g3 (8) and their community (5.0) are yellow.
ORDERS = {"d.s.c1.g1": 4, "d.s.c1.g2": 12, "d.s.c1.g3": 6, "d.s.c2.g4": 1}
LEVEL = {"d.s.c1.g1": 2.0, "d.s.c1.g2": 5.0, "d.s.c1.g3": 8.0}


def send(client, at: float, orders: dict[str, float], level: dict[str, float] | None = None) -> None:
    store.append_samples(client, "hotline", [Sample("hotline_orders_1h", g, at, v) for g, v in orders.items()])
    if level:
        store.append_samples(client, "gauges", [Sample("river_level", g, at, v) for g, v in level.items()])


def engine(client, consumer: str = "t") -> EngineService:
    return EngineService(client, None, TREE, load_catalog([CATALOG]), consumer=consumer)


def expected_index(client) -> dict[str, list[str]]:
    """Per area, what its ticker set must hold: the warnings in and below it, red first, then the district before
    a street before a community before a grid, then the newest, then the most residents (both indicators are macro)."""
    warnings = {k: json.loads(v) for k, v in client.hgetall(store.WARNINGS).items()}
    under = {a: [k for k, w in warnings.items() if w["a"] == a or a in {x.id for x in TREE.ancestors(w["a"])}]
             for a in ALL_AREAS}
    rank = lambda k: (warnings[k]["s"] != "red", LEVELS.index(warnings[k]["level"]), -warnings[k]["since"],  # noqa: E731
                      -TREE[warnings[k]["a"]].population, k)  # ties: Redis orders by key
    return {a: sorted(keys, key=rank) for a, keys in under.items()}


def index(client) -> dict[str, list[str]]:
    return {a: client.zrange(store.ticker_key(a), 0, -1) for a in ALL_AREAS}


def test_ticks_keep_each_area_index_to_the_warnings_below_it_red_first_and_a_cleared_one_leaves(redis_client):
    send(redis_client, NOW - 100, ORDERS, LEVEL)
    service = engine(redis_client)
    service.tick(NOW)
    assert index(redis_client) == expected_index(redis_client)
    district = [(w["i"], w["a"], w["s"]) for w in store.read_ticker(redis_client, "d")]
    assert district[:2] == [("orders", "d", "red"), ("orders", "d.s", "red")]
    assert ("orders", "d.s.c1.g2", "yellow") in district and ("level", "d.s.c1", "yellow") in district
    community = {(w["i"], w["a"]) for w in store.read_ticker(redis_client, "d.s.c1")}
    assert community == {("orders", "d.s.c1"), ("orders", "d.s.c1.g2"), ("level", "d.s.c1"), ("level", "d.s.c1.g2"),
                         ("level", "d.s.c1.g3")}
    assert len(store.read_ticker(redis_client, "d", 2)) == 2

    # g2: orders 12 -> 1 and level 5 -> 1: both clear in g2, orders and level in its community (11, 3.0);
    # the street's and district's orders relax from red to yellow (12)
    send(redis_client, NOW, {"d.s.c1.g2": 1.0}, {"d.s.c1.g2": 1.0})
    service.tick(NOW + 30)
    service.tick(NOW + 35)  # a tick with nothing new leaves the index alone
    now_index = index(redis_client)
    assert now_index == expected_index(redis_client)
    for area in ("d.s.c1.g2", "d.s.c1", "d.s", "d"):
        assert "orders@d.s.c1.g2" not in now_index[area] and "orders@d.s.c1" not in now_index[area]
    assert now_index["d.s.c1.g2"] == []
    assert redis_client.exists(store.ticker_key("d.s.c1.g2")) == 0  # an emptied set is no key
    # district and street orders relaxed to yellow (12): all three are yellow now, the district's and the
    # street's before g3's (level first), and re-ranked by their new since
    assert now_index["d"] == ["orders@d", "orders@d.s", "level@d.s.c1.g3"]
    assert redis_client.zscore(store.ticker_key("d"), "orders@d.s") == store.ticker_score("yellow", "street", NOW + 30,
                                                                                        True, TREE["d.s"].population)


def test_a_restarted_engine_drops_from_the_index_the_warnings_that_ended_while_none_ran(redis_client):
    send(redis_client, NOW - 100, ORDERS, LEVEL)
    engine(redis_client, "first").tick(NOW)
    assert "orders@d.s.c1.g2" in index(redis_client)["d"]
    send(redis_client, NOW, {"d.s.c1.g2": 1.0})  # arrives while no engine runs
    engine(redis_client, "second").tick(NOW + 30)
    after = index(redis_client)
    assert "orders@d.s.c1.g2" not in redis_client.hkeys(store.WARNINGS)
    assert all("orders@d.s.c1.g2" not in keys for keys in after.values())
    assert after == expected_index(redis_client) and after["d"]


def test_a_catalog_swap_empties_the_index_and_the_next_tick_rebuilds_it(redis_client):
    send(redis_client, NOW - 100, ORDERS, LEVEL)
    service = engine(redis_client)
    service.tick(NOW)
    built = index(redis_client)
    service.set_catalog(load_catalog([CATALOG]))
    assert redis_client.exists(*[store.ticker_key(a) for a in ALL_AREAS]) == 0
    assert store.read_ticker(redis_client, "d") == []
    service.tick(NOW + 5)
    assert index(redis_client) == expected_index(redis_client) == built


def test_the_ticker_and_warnings_page_show_only_the_area_and_what_lies_below_it(redis_client, sqlite_engine):
    send(redis_client, NOW - 100, ORDERS, LEVEL)
    engine(redis_client).tick(NOW)
    context.set_context(DashboardContext(redis_client, sqlite_engine, TREE, 5.0))
    community = ticker_lines(store.read_ticker(redis_client, "d.s.c1"), NOW + 60, store.read_definitions(redis_client))
    hrefs = [line.children[1].href for line in community]
    assert hrefs and set(hrefs) <= {"/area/d.s.c1", "/area/d.s.c1.g2", "/area/d.s.c1.g3"}
    assert "/area/d.s.c1.g2" in hrefs
    assert [w["a"] for w in warning_board.active_warnings("d.s.c1", None, ["red"], None)] == []
    street = warning_board.active_warnings("d.s", None, ["red", "yellow"], "grid")
    assert [w["a"] for w in street] == [k.split("@")[1] for k in expected_index(redis_client)["d.s"]
                                         if k.endswith(("g1", "g2", "g3", "g4"))]
    assert ticker_lines(store.read_ticker(redis_client, "d.s.c2.g4"), NOW, {})[0].className == "ticker-empty"


@pytest.mark.parametrize("first, second", [
    (("red", "grid", NOW), ("yellow", "district", NOW + 60)),  # severity first
    (("red", "street", NOW), ("red", "grid", NOW + 60)),  # then level: a street red before a newer grid red
    (("red", "grid", NOW + 60), ("red", "grid", NOW)),  # then the newest onset
    (("yellow", "grid", NOW + 3600), ("yellow", "community", NOW, True, 0, False)),  # macro before panel
])
def test_ticker_score_puts_the_new_and_the_big_first(first, second):
    args = lambda w: (*w[:3], w[5] if len(w) > 5 else True, w[4] if len(w) > 4 else 0)  # noqa: E731
    assert store.ticker_score(*args(first)) < store.ticker_score(*args(second))


def test_ticker_score_breaks_a_tie_by_residents():
    assert store.ticker_score("red", "grid", NOW, True, 3000) < store.ticker_score("red", "grid", NOW, True, 800)


def _episode(client, key: str) -> str:
    w = json.loads(client.hget(store.WARNINGS, key))
    return f"{key}@{w['since']:.3f}"


def test_an_acknowledged_warning_ranks_below_every_unseen_one_until_its_episode_ends(redis_client, sqlite_engine):
    send(redis_client, NOW - 100, ORDERS, LEVEL)
    service = engine(redis_client)
    service.tick(NOW)
    ctx = DashboardContext(redis_client, sqlite_engine, TREE, 5.0)
    context.set_context(ctx)
    before = index(redis_client)
    assert before["d"][0] == "orders@d"
    outcome = acknowledge_episodes(ctx, "duty-li", [_episode(redis_client, "orders@d.s")], "")
    assert outcome.done == 1, outcome.refused
    # orders@d.s drops to the end of every set that holds it, the others keep their order
    after = index(redis_client)
    for area in ("d", "d.s"):
        assert after[area] == [k for k in before[area] if k != "orders@d.s"] + ["orders@d.s"]
    rows = store.read_ticker(redis_client, "d")
    assert [w.get("ack", False) for w in rows] == [False] * (len(rows) - 1) + [True]
    assert "acked" in ticker_lines(rows, NOW + 60, store.read_definitions(redis_client))[-1].className

    engine(redis_client, "restarted").tick(NOW + 10)  # a new engine ranks every warning again: the mark stays
    assert index(redis_client)["d"][-1] == "orders@d.s"

    # the street relaxes from red to yellow: a new episode, unseen, ranked by its level again
    send(redis_client, NOW, {"d.s.c1.g2": 1.0}, {"d.s.c1.g2": 1.0})
    service.tick(NOW + 30)
    assert index(redis_client)["d"] == ["orders@d", "orders@d.s", "level@d.s.c1.g3"]
    assert not any(w.get("ack") for w in store.read_ticker(redis_client, "d"))


def test_acknowledging_a_warning_that_has_cleared_moves_nothing(redis_client):
    send(redis_client, NOW - 100, ORDERS, LEVEL)
    engine(redis_client).tick(NOW)
    since = json.loads(redis_client.hget(store.WARNINGS, "orders@d.s.c1.g2"))["since"]
    assert store.rank_acknowledged(redis_client, TREE, "orders", "d.s.c1.g2", since + 5) is False  # another episode
    assert redis_client.hlen(store.ACKED) == 0
    assert store.rank_acknowledged(redis_client, TREE, "orders", "d.s.c1.g2", since) is True
    send(redis_client, NOW, {"d.s.c1.g2": 1.0})
    engine(redis_client).tick(NOW + 30)
    assert redis_client.hlen(store.ACKED) == 0  # dropped with the warning


def test_the_wall_folds_each_warning_into_its_highest_ancestor_as_severe_and_counts_it_there(redis_client):
    # level: g2 5.0 yellow, g3 10.0 red; their community, street and district yellow (population-weighted means)
    send(redis_client, NOW - 100, ORDERS, {"d.s.c1.g1": 2.0, "d.s.c1.g2": 5.0, "d.s.c1.g3": 10.0})
    engine(redis_client).tick(NOW)
    defs = store.read_definitions(redis_client)
    rows = lambda area: [(w["i"], w["a"], w["s"], w.get("folded")) for w in wall_ticker(redis_client, TREE, area, defs)]  # noqa: E731
    # nine warnings in the district's set; on the wall: orders red at the district stands for the street's red and
    # the community's and g2's yellow; g3's red keeps its own line (every ancestor is only yellow)
    assert len(store.read_ticker(redis_client, "d")) == 9
    assert rows("d") == [("orders", "d", "red", 3), ("level", "d.s.c1.g3", "red", None), ("level", "d", "yellow", 3)]
    assert rows("d.s.c1") == [("level", "d.s.c1.g3", "red", None), ("level", "d.s.c1", "yellow", 1),
                              ("orders", "d.s.c1", "yellow", 1)]
    shown = text(ticker_lines(wall_ticker(redis_client, TREE, "d", defs), NOW + 60, defs)[0])
    assert "+3 below" in shown and "下级另3处" in shown
    assert TREE["d.s.c1.g2"].name_en in shown  # the deepest of the three, alone at its level: named
    grid_red = text(ticker_lines(wall_ticker(redis_client, TREE, "d", defs), NOW + 60, defs)[1])
    assert "+" not in grid_red  # g3's red stands alone
    community = text(ticker_lines(wall_ticker(redis_client, TREE, "d.s.c1", defs), NOW + 60, defs)[1])
    assert "+1 below" in community and TREE["d.s.c1.g2"].name_en in community  # one grid below: named
    assert len(wall_ticker(redis_client, TREE, "d", defs, 1)) == 1
