"""The overview refresh sends only the parts whose data moved since the browser got them (real Redis, real engine)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import orjson
import pytest
from dash import no_update

from cityvitals import store
from cityvitals.store import Sample
from dashboard import context, data
from dashboard.context import DashboardContext
from dashboard.geometry import geometry_url
from dashboard.overview import layout, refresh
from indicators.loader import load_catalog
from indicators.schema import DOMAINS
from indicators.service import EngineService
from indicators.states import State
from tests.conftest import tiny_tree

CATALOG = Path(__file__).parent.parent / "indicators" / "fixtures" / "explain.yaml"
ORDERS = {"d.s.c1.g1": 4, "d.s.c1.g2": 12, "d.s.c1.g3": 6, "d.s.c2.g4": 1}
PARTS = ["health", "tile", "map", "ticker", "ticker_head", "status", "feeds", "legend"]


@pytest.fixture
def world(redis_client, sqlite_engine):
    """The tiny district scored once by the real engine, seen by a dashboard on the same Redis and SQL."""
    now = time.time()
    store.append_samples(redis_client, "hotline", [Sample("hotline_orders_1h", g, now - 100, v)
                                                   for g, v in ORDERS.items()])
    service = EngineService(redis_client, sqlite_engine, tiny_tree(), load_catalog([CATALOG]), consumer="t")
    service.tick(now)
    context.set_context(DashboardContext(redis_client, sqlite_engine, service.tree, 5.0))
    return redis_client, service, now


def sent(outputs: tuple) -> dict[str, object]:
    """The refresh's outputs by part (tiles: the list of six), without the store."""
    return dict(zip(PARTS, outputs[:-1], strict=True))


def is_patch(part: object) -> bool:
    """Whether ``part`` is a Patch in the form Dash sends it (only the listed properties change in the browser)."""
    return isinstance(part, dict) and part.get("__dash_patch_update") == "__dash_patch_update"


def plain_json(value: object) -> bytes:
    """``value`` encoded by orjson alone, as plotly's encoder first tries (TypeError: something is not plain)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


def test_a_refresh_sends_everything_to_a_new_page_then_nothing_while_nothing_moves(world):
    first = refresh(1, "", "d", None)
    parts = sent(first)
    assert all(v is not no_update for v in parts.values()) and no_update not in parts["tile"]
    assert is_patch(parts["map"]) and parts["ticker"][0]["props"]["className"] == "ticker-line state-red"
    shown = first[-1]
    assert set(shown) == {"health", "map", "ticker", "status", "feeds", "legend", *(f"tile:{d}" for d in DOMAINS)}

    again = refresh(2, "", "d", shown)
    assert all(v is no_update for k, v in sent(again).items() if k != "tile") and set(again[1]) == {no_update}
    assert again[-1] is no_update  # the browser's store keeps what it has


def test_only_the_part_whose_data_moved_is_sent_and_the_store_follows(world):
    client, service, now = world
    shown = refresh(1, "", "d", None)[-1]
    # g2 turns red (30 >= 20); the district and street were red already, so the tiles (their own macro
    # indicators) hold; what lies below moved (a red grid and community instead of yellow ones): the ticker,
    # its head, the health block's counts, the street's mark on the map and the legend say so (#20)
    store.append_samples(client, "hotline", [Sample("hotline_orders_1h", "d.s.c1.g2", now, 30.0)])
    service.tick(now + 5)

    after = refresh(2, "", "d", shown)
    parts = sent(after)
    assert [k for k, v in parts.items() if k != "tile" and v is not no_update] == [
        "health", "map", "ticker", "ticker_head", "legend"]
    assert set(after[1]) == {no_update}
    red = [line for line in parts["ticker"] if line["props"]["className"] == "ticker-line state-red"]
    # the street, the community (40 >= 25) and g2 are red too: one line, the district's, stands for them
    assert [line["props"]["children"][1]["props"]["href"] for line in red] == ["/area/d"]
    assert "+3 below" in json.dumps(red[0], ensure_ascii=False)
    assert {k for k in shown if after[-1][k] != shown[k]} == {"health", "map", "ticker", "legend"}
    assert refresh(3, "", "d", after[-1])[-1] is no_update


def test_another_map_indicator_sends_the_map_and_legend_again(world):
    shown = refresh(1, "", "d", None)[-1]
    by_level = sent(refresh(2, "orders", "d", shown))
    assert is_patch(by_level["map"]) and by_level["legend"] is not no_update
    assert by_level["ticker"] is no_update and by_level["health"] is no_update


def test_a_second_screen_on_the_same_area_gets_the_parts_the_first_one_built(world):
    first, second = sent(refresh(1, "", "d", None)), sent(refresh(1, "", "d", None))
    assert second["ticker"] is first["ticker"] and second["tile"][0] is first["tile"][0]
    assert second["status"] is first["status"] and second["feeds"] is first["feeds"]
    assert second["map"] is first["map"]  # the same colours: the same patch


def test_a_refresh_and_a_page_are_plain_json_types_that_orjson_encodes_in_one_pass(world):
    # one component or Patch object left in a response makes plotly's encoder walk all of it in Python first
    outputs = [v for v in refresh(1, "", "d", None) if v is not no_update]
    page = layout("d")
    assert isinstance(page, dict) and page["type"] == "Div"
    for value in (outputs, page):
        assert orjson.loads(plain_json(value)) == json.loads(json.dumps(value, default=lambda o: o.to_plotly_json()))


def test_a_page_opened_again_reuses_its_header_and_map_shapes_but_not_its_colours(world):
    client, service, now = world
    first = layout("d")
    store.append_samples(client, "hotline", [Sample("hotline_orders_1h", g, now, 0.0) for g in ORDERS])
    service.tick(now + 5)  # every warning clears: the street is left stale (no river level ever came)
    second = layout("d")
    assert children(second)[2] is children(first)[2]  # the header, breadcrumb and navigation
    figures = [children(children(children(page)[3])[1])[1]["props"]["figure"] for page in (first, second)]
    assert figures[1]["data"][0]["geojson"] == figures[0]["data"][0]["geojson"] == geometry_url("d")  # fetched once
    assert (figures[0]["data"][0]["z"], figures[1]["data"][0]["z"]) == ([State.RED], [State.STALE])


def children(part: dict) -> list:
    """The children of a component in its plain form."""
    return part["props"]["children"]


def test_the_map_look_is_built_once_until_its_data_moves(world):
    from dashboard.figures import map_areas
    from dashboard.map_view import map_look

    client, service, now = world
    areas, defs = map_areas(service.tree, "d.s"), store.read_definitions(client)
    key, look = map_look(areas, "", defs)
    service.tick(now + 5)  # nothing new arrived: the summaries are written again, the map shows the same
    same_key, same_look = map_look(areas, "", defs)
    assert same_key == key and same_look() is look()  # a refresh with nothing moved builds no look
    assert look().states == [State.YELLOW, State.STALE] and look().marks == [State.YELLOW, None]
    store.append_samples(client, "hotline", [Sample("hotline_orders_1h", g, now, 0.0) for g in ORDERS])
    service.tick(now + 10)  # every warning clears
    moved_key, moved = map_look(areas, "", defs)
    assert moved_key != key and moved().states != look().states and moved().hover != look().hover
    assert map_look(areas, "orders", defs)[0] not in (key, moved_key)  # another colouring, another look


def test_reads_are_kept_until_a_tick_or_an_acknowledgement_writes_again(world):
    client, service, now = world
    made = lambda: object()  # noqa: E731 - a read that gives a new result each time it runs
    first = data.per_write(store.meta(client), ("x",), made)
    assert data.per_write(store.meta(client), ("x",), made) is first  # nothing written since
    assert data.per_write(store.meta(client), ("y",), made) is not first  # another read
    shown = refresh(1, "", "d", None)[-1]
    since = json.loads(client.hget(store.WARNINGS, "orders@d"))["since"]
    assert store.rank_acknowledged(client, service.tree, "orders", "d", since)
    after_ack = data.per_write(store.meta(client), ("x",), made)
    assert after_ack is not first
    acked = sent(refresh(2, "", "d", shown))  # no tick since: the wall shows the acknowledgement at once
    assert "acked" in acked["ticker"][0]["props"]["className"]
    service.tick(now + 5)
    assert data.per_write(store.meta(client), ("x",), made) is not after_ack


def test_a_store_no_tick_has_written_is_read_every_time(redis_client, sqlite_engine):
    context.set_context(DashboardContext(redis_client, sqlite_engine, tiny_tree(), 5.0))
    assert store.meta(redis_client).stamp is None
    assert data.per_write(store.meta(redis_client), ("x",), object) is not data.per_write(
        store.meta(redis_client), ("x",), object)
