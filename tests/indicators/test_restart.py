"""A restarted engine resumes the stream and ends where an uninterrupted one does (real Redis)."""

from dataclasses import replace
from datetime import UTC

import numpy as np
import pytest

from cityvitals import store
from cityvitals.areas import LEVELS, AreaTree
from indicators.loader import load_catalog
from indicators.service import EngineService
from indicators.snapshot import CURRENT
from tests.conftest import tiny_tree
from tests.indicators.conftest import CATALOG, ORDERS, T0, send


def tick_at(service: EngineService, minute: int) -> int:
    return service.tick(T0 + 60 * minute + 5).samples


def snapshot(client, service: EngineService) -> dict:
    """Every state record the engine wrote, read back from Redis."""
    areas = [a for level in service.engine.parents for a in service.tree.ids(level)]
    return {(i, a): r for i in service.engine.ind_ids for a, r in store.read_state_of(client, i, areas).items()}


def _ts(at) -> float:
    """Unix seconds of a logged time (SQLite gives it back without its UTC zone)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def new_service(client, consumer: str) -> EngineService:
    return EngineService(client, None, tiny_tree(), load_catalog([CATALOG]), consumer=consumer)


@pytest.fixture
def uninterrupted(redis_client):
    service = new_service(redis_client, "engine-a")
    for minute in range(5):
        send(redis_client, minute)
        tick_at(service, minute)
    result = snapshot(redis_client, service), service.engine.values.copy()
    redis_client.flushdb()
    return result


def test_restart_mid_stream_scores_every_sample_once_and_ends_in_the_same_states(redis_client, uninterrupted):
    expected_records, expected_values = uninterrupted
    first = new_service(redis_client, "engine-b")
    sent = send(redis_client, 0)
    scored = tick_at(first, 0)
    sent += send(redis_client, 1)
    # The first engine reads minute 1 and dies before writing or acknowledging it.
    assert sum(len(e.samples.metric) for e in store.read_entries(redis_client, "engine-b")) == 7
    del first
    sent += send(redis_client, 2)  # arrives while no engine runs

    second = new_service(redis_client, "engine-b")
    assert second.engine.values[second.engine.metric_pos["hotline_orders_1h"]].tolist() == ORDERS[0]  # from latest
    for minute in (2, 3, 4):
        if minute > 2:
            sent += send(redis_client, minute)
        scored += tick_at(second, minute)

    assert scored == sent == 35  # minute 1 re-read once from the pending list, nothing twice
    assert redis_client.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"] == 0
    np.testing.assert_array_equal(second.engine.values, expected_values)
    records = snapshot(redis_client, second)
    assert records.keys() == expected_records.keys()
    for key, want in expected_records.items():
        got = records[key]
        # a restarted engine takes back every state as written, normal ones too: their since goes on
        fields = ["s", "since", "p", "ps", "v", "ts", "y", "r", "rule", "src", "cov"]
        assert {f: got[f] for f in fields} == {f: want[f] for f in fields}, key
    g2 = records[("orders", "d.s.c1.g2")]
    assert (g2["s"], g2["v"], g2["since"]) == ("yellow", 8.0, T0 + 5)  # held by hysteresis across the restart


def test_a_warning_written_to_redis_but_never_logged_is_logged_by_the_next_engine(redis_client, sql_engine):
    from indicators.history import read_transitions

    dying = new_service(redis_client, "engine-c")  # no SQL: like an engine killed between Redis and SQL
    for minute in range(2):
        send(redis_client, minute)
        tick_at(dying, minute)
    warnings = store.read_warnings(redis_client)
    assert any(w["a"] == "d.s.c1.g2" and w["s"] == "yellow" for w in warnings)
    assert read_transitions(sql_engine) == []

    EngineService(redis_client, sql_engine, tiny_tree(), load_catalog([CATALOG]), consumer="engine-d")
    logged = {(r["indicator"], r["area"], r["to_state"], round(_ts(r["at"]), 3)) for r in read_transitions(sql_engine)}
    assert logged == {(w["i"], w["a"], w["s"], round(w["since"], 3)) for w in warnings}
    assert all(r["from_state"] == "stale" for r in read_transitions(sql_engine))
    EngineService(redis_client, sql_engine, tiny_tree(), load_catalog([CATALOG]), consumer="engine-e")
    assert len(read_transitions(sql_engine)) == len(warnings)  # logged once, however often engines restart


def _run_two_minutes(client) -> None:
    service = new_service(client, "engine-f")
    for minute in range(2):
        send(client, minute)
        tick_at(service, minute)


def test_a_restart_takes_back_only_what_was_written_whole_under_its_catalog(redis_client):
    """A level with a row missing starts over (every record written again, warnings kept); the others go on."""
    _run_two_minutes(redis_client)
    redis_client.delete(store.values_key("grid", "level"))  # as if the store lost it
    restarted = new_service(redis_client, "engine-f")
    tick_at(restarted, 2)
    states = snapshot(redis_client, restarted)
    assert ("level", "d.s.c1.g1") in states  # the grid level was written whole again
    assert states[("orders", "d.s.c1.g2")]["since"] == T0 + 5  # its warning was kept
    assert states[("orders", "d.s.c1.g1")]["s"] == states[("orders", "d.s.c2")]["s"] == "normal"
    assert states[("orders", "d.s.c1.g1")]["since"] == T0 + 125  # a grid's normal state starts over
    assert states[("orders", "d.s.c2")]["since"] == T0 + 5  # the community level went on where it was
    started = store.meta(redis_client)
    assert started.start_written == started.start_total > 0  # the "starting" share, written through to the end


def test_a_restart_under_another_catalog_starts_over(redis_client):
    _run_two_minutes(redis_client)
    redis_client.hset(store.META, "catalog_version", "an older catalog")
    restarted = new_service(redis_client, "engine-f")
    tick_at(restarted, 2)
    states = snapshot(redis_client, restarted)
    assert states[("orders", "d.s.c2")]["s"] == "normal"
    assert states[("orders", "d.s.c2")]["since"] == T0 + 125  # a normal state not taken back: judged anew
    assert states[("orders", "d.s.c1.g2")]["since"] == T0 + 5  # but the warning was


def test_a_restart_on_the_same_hierarchy_leaves_it_published_and_another_one_replaces_it(redis_client):
    new_service(redis_client, "engine-g")
    digest = store.areas_digest(redis_client)
    redis_client.hset(store.AREAS, "marker", "{}")  # gone only if the hierarchy is written again
    new_service(redis_client, "engine-g")
    assert store.areas_digest(redis_client) == digest and redis_client.hexists(store.AREAS, "marker")

    tree = tiny_tree()
    moved = [replace(tree[a], population=tree[a].population + 1) for level in LEVELS for a in tree.ids(level)]
    EngineService(redis_client, None, AreaTree(moved), load_catalog([CATALOG]), consumer="engine-g")
    assert store.areas_digest(redis_client) not in (None, digest)
    assert not redis_client.hexists(store.AREAS, "marker")
    assert store.read_areas(redis_client, ["d"])["d"]["pop"] == 4501


def _stopped_with_snapshot(client, directory) -> None:
    """Two minutes of an engine that saves its snapshot as it stops."""
    service = EngineService(client, None, tiny_tree(), load_catalog([CATALOG]), consumer="engine-s",
                            snapshot_dir=directory)
    for minute in range(2):
        send(client, minute)
        tick_at(service, minute)
    assert service.save_snapshot() is not None


def _spoil(client, directory, how: str) -> AreaTree:
    """Make the snapshot unusable as ``how`` says; returns the hierarchy the next engine runs on."""
    tree, current = tiny_tree(), directory / CURRENT
    if how == "a later tick written":  # the engine went on after saving it, then died
        went_on = EngineService(client, None, tree, load_catalog([CATALOG]), consumer="engine-s")
        send(client, 2)
        tick_at(went_on, 2)
    elif how == "another hierarchy":
        tree = AreaTree([replace(tree[a], population=tree[a].population + 1) for level in LEVELS
                         for a in tree.ids(level)])
    elif how == "a torn file":
        path = current / "parts.value.npy"
        path.write_bytes(path.read_bytes()[:100])
    elif how == "a wrong shape":
        np.save(current / "district.seen.npy", np.zeros((1, 7), dtype=bool))
    elif how == "times of another width":
        np.save(current / "grid.track.since.own.npy", np.zeros((0, 7)))
    return tree


@pytest.mark.parametrize("how", ["a later tick written", "another hierarchy", "a torn file", "a wrong shape",
                                 "times of another width"])
def test_a_restart_scores_from_nothing_when_the_snapshot_does_not_fit(redis_client, tmp_path, how):
    directory = tmp_path / "snapshot"
    _stopped_with_snapshot(redis_client, directory)
    tree = _spoil(redis_client, directory, how)
    restarted = EngineService(redis_client, None, tree, load_catalog([CATALOG]), consumer="engine-s",
                              snapshot_dir=directory)
    assert not restarted.snapshot_taken
    tick_at(restarted, 3)
    assert restarted.engine._regrid.all()  # every indicator scored anew
    states = snapshot(redis_client, restarted)
    assert states[("orders", "d.s.c1.g2")]["s"] == "yellow" and states[("orders", "d.s.c1.g2")]["since"] == T0 + 5


def test_a_snapshot_of_the_last_tick_is_taken_and_the_next_saved_replaces_it(redis_client, tmp_path):
    directory = tmp_path / "snapshot"
    _stopped_with_snapshot(redis_client, directory)
    first = (directory / CURRENT).resolve()
    restarted = EngineService(redis_client, None, tiny_tree(), load_catalog([CATALOG]), consumer="engine-s",
                              snapshot_dir=directory)
    assert restarted.snapshot_taken
    assert restarted.save_snapshot() is not None  # its last tick is the one it took: the same states again
    tick_at(restarted, 2)  # nothing arrived since: nothing is scored anew, states go on
    assert not restarted.engine._regrid.any()
    states = snapshot(redis_client, restarted)
    assert states[("orders", "d.s.c1.g2")]["since"] == T0 + 5  # the warning went on from before the stop
    assert restarted.save_snapshot() is not None
    assert (directory / CURRENT).resolve() != first and not first.exists()
    assert sorted(p.name for p in directory.iterdir() if p.name.startswith("snapshot-")) == [
        (directory / CURRENT).resolve().name]
