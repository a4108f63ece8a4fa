"""What the engine hands to the warnings log: real changes, not the start of a cell's history."""

from __future__ import annotations

from pathlib import Path

from cityvitals.store import Sample
from indicators.engine import Engine
from indicators.loader import load_catalog
from indicators.states import State

GOOD = Path(__file__).parent / "fixtures" / "good.yaml"
T0 = 1_795_000_000.0  # 2026-11-18: the flood-season profile (June to September) is off


def _grid_rows(result, indicator: str) -> list:
    return [t for t in result.transitions if t.indicator == indicator and t.level == "grid"]


def test_first_data_is_not_a_transition_but_later_changes_are(demo_tree):
    engine = Engine(demo_tree, load_catalog([GOOD]))
    grids = demo_tree.ids("grid")
    engine.ingest([Sample("river_level", g, T0, 5.0) for g in grids])
    first = engine.tick(T0 + 1)
    assert first.transitions == []
    assert (first.levels["grid"].state[0] == State.NORMAL).all()  # every grid normal, written, but nothing logged

    engine.ingest([Sample("river_level", grids[3], T0 + 60, 9.0)])
    second = engine.tick(T0 + 61)
    rows = _grid_rows(second, "level")
    assert [(t.area, t.from_state, t.to_state, t.value, t.red) for t in rows] == [(grids[3], "normal", "red", 9.0,
                                                                                   "8.5")]
    district = [t for t in second.transitions if t.indicator == "level" and t.level == "district"]
    assert [(t.from_state, t.to_state) for t in district] == [("normal", "red")]


def test_going_stale_after_data_is_logged(demo_tree):
    engine = Engine(demo_tree, load_catalog([GOOD]))
    grid = demo_tree.ids("grid")[0]
    engine.ingest([Sample("river_level", grid, T0, 5.0)])
    engine.tick(T0 + 1)
    stale_after = float(engine.stale_after[engine.ind_ids.index("level"), 0])
    later = engine.tick(T0 + stale_after + 2)
    rows = _grid_rows(later, "level")
    assert [(t.area, t.from_state, t.to_state) for t in rows] == [(grid, "normal", "stale")]


def test_a_grid_whose_first_data_comes_late_is_not_logged_as_it_is_first_judged(demo_tree):
    engine = Engine(demo_tree, load_catalog([GOOD]))
    early, late = demo_tree.ids("grid")[:2]
    engine.ingest([Sample("river_level", early, T0, 5.0)])
    engine.tick(T0 + 1)
    assert engine.tracks["grid"].state[engine.ind_ids.index("level"), 1] == State.NOT_JUDGED  # no data from it yet
    engine.ingest([Sample("river_level", late, T0 + 60, 5.0)])
    second = engine.tick(T0 + 61)
    assert second.levels["grid"].state[engine.ind_ids.index("level"), 1] == State.NORMAL
    assert second.transitions == []  # its first judgement (and its parents'), not news: the demo's first start logged
    # 81,522 such rows

    stale_after = float(engine.stale_after[engine.ind_ids.index("level"), 0])
    gone = engine.tick(T0 + 61 + stale_after + 1)
    engine.ingest([Sample("river_level", late, T0 + 62 + stale_after, 5.0)])
    back = engine.tick(T0 + 63 + stale_after)
    assert [(t.area, t.from_state, t.to_state) for t in _grid_rows(gone, "level")] == [(early, "normal", "stale"),
                                                                                       (late, "normal", "stale")]
    assert [(t.area, t.from_state, t.to_state) for t in _grid_rows(back, "level")] == [(late, "stale", "normal")]
