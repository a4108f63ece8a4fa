"""Trends, ranges, comparison and CSV export: the plain functions the analyst pages' callbacks call (#19)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dash._utils import to_json
from flask import Flask

from cityvitals import store
from cityvitals.archive.values import read_values, values_root, write_step
from dashboard import clock, compare, context, delta
from dashboard.compare import compare_csv, compared_areas, ranking
from dashboard.compare import layout as compare_layout
from dashboard.context import DashboardContext
from dashboard.delta import plain
from dashboard.exports import file_name
from dashboard.geometry import geometry_blueprint
from dashboard.map_view import value_map
from dashboard.ranges import parse_range
from dashboard.relations import related
from dashboard.trends import LINE_POINTS, aligned, bands, range_bucket, series, spark_section, text_spark
from indicators.states import State
from tests.conftest import tiny_tree

NOW = 1_800_000_000.0
DAY_OF_NOW = {"range": "custom", "from": "2027-01-15", "to": "2027-01-15"}  # the page's range around NOW
D = {"id": "aqi", "name": {"zh": "空气", "en": "Air"}, "unit": "AQI", "direction": "higher_is_worse",
     "thresholds": {"yellow": 100, "red": 150}, "tier": "macro", "group": "eco_environment"}


@pytest.fixture
def archive(tmp_path, redis_client, sqlite_engine):
    """The tiny tree's communities with AQI over the last two hours: community k at 60 + 90 k, the last red."""
    tree = tiny_tree()
    communities = tree.ids("community")
    for step in range(24):
        ts = NOW - 7200 + 300 * step
        values = np.array([[60.0 + 90 * k + step % 2 for k in range(len(communities))]])
        states = np.array([[int(State.RED if v >= 150 else State.YELLOW if v >= 100 else State.NORMAL)
                            for v in values[0]]])
        write_step(values_root(tmp_path), ts, "community", ["aqi"], communities, values, states)
    store.write_definitions(redis_client, {"aqi": D})
    store.record_catalog(redis_client, str(tmp_path), errors=[])  # a new version: the definitions are read anew
    context.set_context(DashboardContext(redis_client, sqlite_engine, tree, 5.0, archive_path=tmp_path))
    return tree, communities


def test_a_range_comes_from_the_query_and_a_bad_one_falls_back_to_a_day(archive):  # the context: the city zone
    assert parse_range({"range": "7d"}, NOW).span == 7 * 86400
    custom = parse_range({"range": "custom", "from": "2026-12-01", "to": "2026-12-02"}, NOW)
    assert custom.span == 2 * 86400 and custom.query == {"range": "custom", "from": "2026-12-01", "to": "2026-12-02"}
    for bad in ({"range": "5y"}, {"range": "custom", "from": "yesterday", "to": "2026-12-02"},
                {"range": "custom", "from": "2026-12-05", "to": "2026-12-01"}):
        assert parse_range(bad, NOW).key == "24h"


def test_the_sparklines_of_a_section_are_one_figure_with_a_slot_per_indicator(archive):
    _tree, communities = archive
    rng = parse_range({"range": "24h"}, NOW)
    other = {**D, "id": "none", "thresholds": {"yellow": 1, "red": 2}}
    frame, bucket = series(["aqi"], [communities[-1]], rng, 100)
    assert bucket.label == "15 min" and len(frame) == 8  # two hours of 5-min steps in 15-min means
    fig = spark_section([D, other], frame, communities[-1], rng, bucket)
    line, last = fig["data"]  # one trace: "none" has no data here
    ys = [y for y in line["y"] if y is not None]
    assert len(ys) == 8 and all(-1 < y < 0 for y in ys)  # in the first slot
    # times on the 15-minute grid, drawn as Shanghai's wall time (UTC+8) whatever the server's zone
    assert line["x0"] == (frame["ts"].iloc[0] + 8 * 3600) * 1000 and line["dx"] == 900_000
    assert line["customdata"] == pytest.approx(frame["value"].tolist(), rel=1e-3)  # 4 digits, as the rows show
    assert "AQI" in line["hovertemplate"]
    assert fig["layout"]["height"] == 2 * 30 and fig["layout"]["yaxis"]["range"] == [-2, 0]
    assert {s["fillcolor"] for s in fig["layout"]["shapes"]} == {"#f4c542", "#e63946"}  # 150 is in view: both
    assert last["marker"]["color"] == ["#e63946"] and last["y"] == [ys[-1]]  # its newest point is red


def test_compare_ranks_the_children_by_their_mean_worst_first_with_their_state_at_the_end(archive):
    tree, communities = archive
    parent, areas = compared_areas(communities[0])  # a community has grids: its own children
    assert parent == communities[0] and areas == tree_ids(tree, communities[0])
    street = tree[communities[0]].parent
    _, kids = compared_areas(street)
    ranked = ranking("aqi", D, kids, parse_range({"range": "24h"}, NOW + 60))
    means = {c: 60.0 + 90 * k + 0.5 for k, c in enumerate(communities) if c in kids}
    assert ranked["area"].tolist() == sorted(means, key=means.get, reverse=True)
    assert ranked["value"].tolist() == pytest.approx(sorted(means.values(), reverse=True))
    assert ranked["state"].tolist() == [int(State.RED), int(State.NORMAL)]
    csv = compare_csv({"indicator": "aqi", "area": street, "range": "24h"}, "bars")
    assert csv["rank"].tolist() == list(range(1, len(kids) + 1)) and set(csv["unit"]) == {"AQI"}


def test_the_value_map_colours_areas_by_value_with_the_unit_on_its_legend(archive):
    tree, communities = archive
    street = tree[communities[0]].parent
    _, kids = compared_areas(street)
    ranked = ranking("aqi", D, kids, parse_range({"range": "24h"}, NOW + 60))
    fig = value_map(tree, street, ranked, "AQI")
    trace = fig["data"][0]
    assert trace["colorbar"]["title"]["text"] == "AQI" and trace["showscale"]
    assert dict(zip(trace["locations"], trace["z"], strict=True)) == pytest.approx(
        dict(zip(ranked["area"], ranked["value"], strict=True)), abs=1e-3)


def test_the_value_map_names_its_polygons_by_url_and_the_url_serves_them(archive):
    tree, communities = archive
    street = tree[communities[0]].parent
    _, kids = compared_areas(street)
    fig = value_map(tree, street, ranking("aqi", D, kids, parse_range({"range": "24h"}, NOW + 60)), "AQI")
    url = fig["data"][0]["geojson"]
    assert isinstance(url, str) and url.startswith(f"/geo/{street}/")  # values only: no polygons in the page
    server = Flask(__name__)
    server.register_blueprint(geometry_blueprint())
    got = server.test_client().get(url)
    assert got.status_code == 200 and "immutable" in got.headers["Cache-Control"]
    assert got.get_json() == json.loads(json.dumps(tree.geojson(kids)))  # the children's polygons
    assert value_map(tree, street, ranking("aqi", D, kids, parse_range({"range": "24h"}, NOW + 60)),
                     "AQI")["data"][0]["geojson"] == url  # the same polygons: the same URL, cached by the browser
    stale = url.rsplit("/", 1)[0] + "/0000.json"
    assert server.test_client().get(stale).status_code == 404  # another hierarchy's polygons are never served


def test_a_text_trend_marks_each_block_with_its_state(archive):
    _tree, communities = archive
    frame, _ = series(["aqi"], [communities[-1]], parse_range({"range": "1h"}, NOW), 100)
    html = text_spark(frame)
    assert html.count("<span class=\"state-") == len(frame) and "state-red" in html
    assert file_name({"page": "compare", "indicator": "aqi", "area": "a/b", "range": "7d"}, "bars") == \
        "compare_aqi_a_b_bars_7d.csv"


def tree_ids(tree, area_id: str) -> list[str]:
    return [a.id for a in tree.children(area_id)]


def test_bands_are_the_limits_in_force_at_the_area_and_none_where_funnel_limits_judge(archive):
    tree, communities = archive
    street = tree[communities[0]].parent
    d = {**D, "funnel": {}, "overrides": [{"level": "street", "yellow": 120, "red": 170},
                                           {"profile": "holiday", "yellow": 1, "red": 2}]}
    assert bands(d, communities[0]) == []  # funnel limits bound counts, not values: no band
    assert bands(d, street) == [(120, 170, State.YELLOW), (170, None, State.RED)]
    assert bands(d, "d") == [(100, 150, State.YELLOW), (150, None, State.RED)]  # funnel and override elsewhere


def test_related_indicators_are_the_ones_that_moved_with_it_and_a_flat_one_is_left_out(archive, tmp_path):
    rise = np.sin(np.arange(24) / 3.0)
    for step in range(24):
        values = np.array([[rise[step]], [2 * rise[step] + 1], [-rise[step]], [5.0], [np.cos(step * 1.7)]])
        write_step(values_root(tmp_path), NOW - 7200 + 300 * step, "district", ["a", "b", "c", "flat", "other"],
                   ["d"], values, np.full((5, 1), int(State.NORMAL)))
    top = related("a", "d", ["b", "c", "flat", "other"], parse_range({"range": "24h"}, NOW))
    assert top.index[:2].tolist() in (["b", "c"], ["c", "b"]) and "flat" not in top.index
    assert top.loc["b", "r_time"] == pytest.approx(1.0) and top.loc["c", "r_time"] == pytest.approx(-1.0)
    assert top["r_areas"].isna().all()  # the district of the tiny tree has one street: no correlation across it


def test_day_and_six_hour_means_are_cut_at_the_city_clock(archive):
    for query, label in (({"range": "30d"}, "1 d"), ({"range": "7d"}, "6 h")):
        bucket = range_bucket(parse_range(query, NOW), 100)
        window = aligned(parse_range(query, NOW), bucket)
        starts = {clock.local(window.start + k * bucket.seconds).strftime("%H:%M") for k in range(8)}
        assert bucket.label == label and window.end >= NOW
        assert starts == ({"00:00"} if label == "1 d" else {"00:00", "06:00", "12:00", "18:00"})


def test_a_bucketed_series_is_cut_from_the_steps_a_page_read_already(archive, monkeypatch):
    tree, communities = archive
    kids = [a.id for a in tree.children(tree[communities[0]].parent)]
    rng = parse_range({"range": "7d"}, NOW + 60)
    hours, _ = series(["aqi"], kids, rng)  # as compare's ranking reads them: 1 h means over 7 days
    window = aligned(rng, range_bucket(rng, 100))
    direct = read_values(values_root(context.get().archive_path), window.start, window.end, ["aqi"], kids,
                         {"community"}, range_bucket(rng, 100))

    def no_read(*_a, **_k):
        raise AssertionError("read the archive again")

    monkeypatch.setattr("dashboard.trends.read_values", no_read)
    frame, bucket = series(["aqi"], kids, rng, 100)  # as compare's small multiples draw them
    assert bucket.label == "6 h" and len(hours) == 2 * 2 and len(frame) == len(direct) > 0
    assert frame.reset_index(drop=True).equals(direct.reset_index(drop=True))


def test_compare_draws_the_worst_children_only_where_there_are_many_and_the_csv_keeps_all(archive, monkeypatch):
    tree, communities = archive
    street = tree[communities[0]].parent
    monkeypatch.setattr("dashboard.compare.SHOWN_MAX", 1)
    assert parse_range(DAY_OF_NOW).start <= NOW - 7200 and parse_range(DAY_OF_NOW).end > NOW
    page = compare_layout("aqi", street, DAY_OF_NOW)  # as Dash sends it: the plain form
    graphs = {g["props"]["config"]["toImageButtonOptions"]["filename"].rsplit("-", 1)[1]: g["props"]["figure"]
              for g in _find(page, lambda c: "figure" in c["props"])}
    worst = communities[-1]  # the community with the highest AQI
    assert graphs["bars"]["data"][0]["customdata"] == [worst]
    assert [t["name"] for t in graphs["multiples"]["data"]] == [tree[worst].name_zh]
    assert len(graphs["map"]["data"][0]["locations"]) == 2  # the map shows every child
    (note,) = _find(page, lambda c: "compare-cut" in (c["props"].get("className") or ""))
    assert "1 of 2" in str(note["props"]["children"])
    assert len(compare_csv({"indicator": "aqi", "area": street, **DAY_OF_NOW}, "bars")) == 2
    monkeypatch.setattr("dashboard.compare.SHOWN_MAX", 40)
    again = compare_layout("aqi", street, DAY_OF_NOW)
    assert again is page  # the same data: the page built once is sent again
    assert _find(plain(compare.page("aqi", D, street, [a.id for a in tree.children(street)], DAY_OF_NOW,
                                    parse_range(DAY_OF_NOW))), lambda c: "compare-cut" in str(c["props"])) == []


def test_a_compare_page_built_by_one_worker_is_what_the_others_send_until_a_step_lands(archive, tmp_path,
                                                                                      monkeypatch):
    tree, communities = archive
    street = tree[communities[0]].parent
    page = compare_layout("aqi", street, DAY_OF_NOW)
    delta._kept.clear()  # another gunicorn worker: nothing built in its process

    def build(*_a):
        raise AssertionError("built again")

    with monkeypatch.context() as patched:
        patched.setattr("dashboard.compare.page", build)
        other = compare_layout("aqi", street, DAY_OF_NOW)
    assert to_json(other) == to_json(page) and other is not page  # the first worker's page, read from Redis
    kids = [a.id for a in tree.children(street)]
    write_step(values_root(tmp_path), NOW - 60, "community", ["aqi"], kids, np.array([[500.0] * len(kids)]),
               np.array([[int(State.RED)] * len(kids)]))  # a new step: every mean moves
    delta._kept.clear()
    fresh = compare_layout("aqi", street, DAY_OF_NOW)
    assert fresh != page
    day = parse_range(DAY_OF_NOW)
    assert to_json(fresh) == to_json(plain(compare.page("aqi", D, street, kids, DAY_OF_NOW,
                                                        aligned(day, range_bucket(day, LINE_POINTS)))))


def _find(form, wanted) -> list:
    """The components of a plain form (Dash's JSON of a layout), itself included, that ``wanted`` picks."""
    if not isinstance(form, dict) or "props" not in form:
        return [f for child in form for f in _find(child, wanted)] if isinstance(form, list) else []
    return [form] * bool(wanted(form)) + _find(form["props"].get("children"), wanted)
