"""Early warnings live: the engine service on real Redis writes them apart from the states, and the warnings
page lists them with the time they are expected in."""

from __future__ import annotations

from pathlib import Path

from cityvitals import store
from cityvitals.store import Sample
from dashboard import context, warning_board
from dashboard.context import DashboardContext
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import tiny_tree

CATALOG = Path(__file__).parents[1] / "backtest" / "forecast.yaml"  # river level per grid, linear, 1 m steps
TREE = tiny_tree()
GRID = "d.s.c1.g1"
T0 = 1_800_000_000.0  # a whole minute


def _run(client, levels: list[float], service: EngineService | None = None, first: int = 0) -> EngineService:
    """One river reading a minute in GRID (and a steady 6.0 in d.s.c1.g2), each ticked at its minute."""
    service = service or EngineService(client, None, TREE, load_catalog([CATALOG]), consumer="early")
    for k, value in enumerate(levels, start=first):
        at = T0 + 60.0 * k
        store.append_samples(client, "gauges", [Sample("river_level", GRID, at, value),
                                                Sample("river_level", "d.s.c1.g2", at, 6.0)])
        service.tick(at)
    return service


def test_a_rising_river_gets_an_early_warning_of_its_own_and_no_state_or_count_moves(redis_client, sqlite_engine):
    service = _run(redis_client, [6.0, 6.0, 6.0, 6.0, 6.25, 6.5, 6.75, 7.0])  # 0.25 m a minute: 8.5 in 6 min
    early = store.read_early(redis_client)
    assert [(e["i"], e["l"], e["a"], e["to"], e["lim"], e["v"]) for e in early] == [
        ("level", "grid", GRID, "red", 8.5, 7.0)]
    # The line through the last six values (6, 6, 6.25, 6.5, 6.75, 7) reaches 8.5 between 7 and 8 steps ahead.
    assert early[0]["at"] - (T0 + 7 * 60) in (420.0, 480.0)
    assert store.count_warnings(redis_client) == 0  # 7.0 is below yellow (7.5): no warning, nothing on the wall
    assert store.read_states(redis_client, GRID, ["level"])["level"]["s"] == "normal"
    context.set_context(DashboardContext(redis_client, sqlite_engine, TREE, 5.0))
    rows = warning_board.early_rows(warning_board.early_warnings("d.s", None, None), T0 + 7 * 60)
    eta = round((early[0]["at"] - (T0 + 7 * 60)) / 60)
    assert [r["expected"] for r in rows] == [
        f"上升趋向红色，预计约{eta} min后 · rising toward red, expected in ~{eta} min"]
    assert warning_board.early_warnings("d.s.c2", None, None) == []  # not in or below that community
    assert warning_board.early_warnings("d.s", None, "street") == []

    _run(redis_client, [7.75, 8.5], service, first=8)  # red: the early warning has done its job
    assert store.read_early(redis_client) == []
    assert store.read_states(redis_client, GRID, ["level"])["level"]["s"] == "red"


def test_a_restarted_engine_writes_what_it_holds_over_what_the_last_one_left(redis_client):
    _run(redis_client, [6.0, 6.0, 6.0, 6.0, 6.25, 6.5, 6.75, 7.0])
    assert store.read_early(redis_client)
    _run(redis_client, [7.0], first=8)  # a new engine has no series yet: nothing stands
    assert store.read_early(redis_client) == []
