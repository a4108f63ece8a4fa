"""The backtest: samples cut into ticks, and a threshold change moving exactly the warnings it should."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from indicators import backtest_report as report
from indicators.backtest import backtest
from indicators.loader import load_catalog
from indicators.ticks import tick_batches
from tests.conftest import tiny_tree

CATALOG = Path(__file__).parent / "backtest.yaml"
T0 = 1_780_000_020.0  # 2026-05-28, a whole minute
GRID = "d.s.c1.g1"
# One value a minute: 10 normal, 10 between the new yellow (7.0) and the current one (7.5), 10 normal,
# 5 between again then 10 above both yellows, 6 normal, 10 above red (8.5).
SERIES = [6.0] * 10 + [7.2] * 10 + [6.0] * 10 + [7.2] * 5 + [7.8] * 10 + [6.0] * 6 + [9.0] * 10


def _frame(values: list[float], metric: str = "river_level", area: str = GRID, t0: float = T0) -> pd.DataFrame:
    return pd.DataFrame({"metric": metric, "area": area, "ts": [t0 + 60.0 * k for k in range(len(values))],
                         "value": values})


def _catalog(tmp_path: Path, yellow: float):
    text = CATALOG.read_text().replace("yellow: 7.5", f"yellow: {yellow}")
    path = tmp_path / f"yellow-{yellow}.yaml"
    path.write_text(text)
    return load_catalog([path])


def test_samples_go_to_the_first_tick_at_or_after_their_time_across_chunks():
    frame = pd.DataFrame({"metric": "m", "area": "a", "ts": [0.0, 30.0, 60.0, 61.0, 179.0, 300.0], "value": 1.0})
    chunks = [(frame[frame["ts"] < 100], 100.0), (frame[frame["ts"] >= 100], 400.0)]
    got = [(now, cols.ts.tolist()) for now, cols in tick_batches(chunks, 0.0, 240.0, 60.0)]
    assert got == [(60.0, [0.0, 30.0, 60.0]), (120.0, [61.0]), (180.0, [179.0]), (240.0, [])]  # 300: past the end


def test_ticks_are_cut_while_the_chunks_are_read_not_after_reading_them_all():
    read = []

    def chunks():  # an archive read a day at a time: a chunk of one sample per day, the next day's read later
        for day in range(3):
            read.append(day)
            yield pd.DataFrame({"metric": ["m"], "area": ["a"], "ts": [day * 86400.0 + 1], "value": [1.0]}), \
                (day + 1) * 86400.0

    for now, _ in tick_batches(chunks(), 0.0, 3 * 86400.0, 3600.0):
        assert len(read) <= now // 86400 + 1, f"at {now}: {len(read)} chunks read"
    assert read == [0, 1, 2]


def test_a_tick_of_zero_seconds_is_refused():
    with pytest.raises(ValueError, match="longer than 0 s"):
        list(tick_batches([], 0.0, 60.0, 0.0))


def test_a_lower_yellow_gains_one_warning_and_raises_another_five_minutes_earlier(tmp_path):
    tree = tiny_tree()
    end = T0 + 60.0 * len(SERIES)

    def run(catalog):
        return backtest(tree, catalog, [(_frame(SERIES), end)], T0 - 60.0, end, 60.0)

    current, new = run(load_catalog([CATALOG])), run(_catalog(tmp_path, 7.0))
    assert current.run.ticks == new.run.ticks == len(SERIES) + 1
    moved = report.changes(new, current)
    assert moved[["area", "kind", "new_onset", "shift_s"]].to_dict("records") == [
        {"area": GRID, "kind": "earlier", "new_onset": T0 + 30 * 60, "shift_s": -300.0},
        {"area": GRID, "kind": "gained", "new_onset": T0 + 10 * 60, "shift_s": pytest.approx(float("nan"),
                                                                                          nan_ok=True)}]
    # the red at minute 51 is raised at the same tick by both: not a change
    diff = report.difference(moved).loc[("level", "grid")]
    assert (diff["gained"], diff["lost"], diff["earlier"], diff["later"], diff["earlier_by_s"]) == (1, 0, 1, 0, 300)
    back = report.difference(report.changes(current, new)).loc[("level", "grid")]
    assert (back["gained"], back["lost"], back["later"], back["later_by_s"]) == (0, 1, 1, 300)
    cur, nw = report.summary(current).loc[("level", "grid")], report.summary(new).loc[("level", "grid")]
    assert (cur["warnings"], nw["warnings"]) == (2, 3)
    assert cur["yellow_area_hours"] == pytest.approx(10 / 60) and nw["yellow_area_hours"] == pytest.approx(25 / 60)
    assert cur["red_area_hours"] == nw["red_area_hours"] == pytest.approx(10 / 60)  # the last 10 min, to the end


def test_other_areas_are_left_out_when_one_is_asked_for(tmp_path):
    tree = tiny_tree()
    end = T0 + 60.0 * len(SERIES)
    frame = pd.concat([_frame(SERIES), _frame(SERIES, area="d.s.c2.g4")])
    out = backtest(tree, load_catalog([CATALOG]), [(frame, end)], T0 - 60.0, end, 60.0)
    assert report.summary(out).loc[("level", "grid"), "warnings"] == 4
    assert report.summary(out, report.subtree(tree, "d.s.c2")).loc[("level", "grid"), "warnings"] == 2


def test_a_chattering_cell_is_counted_once_per_indicator_and_level():
    log = pd.DataFrame({"at": [0, 100, 200, 599, 0, 100, 200, 600], "indicator": "x", "level": "grid",
                        "area": ["g1"] * 4 + ["g2"] * 4, "from_state": "normal", "to_state": "red"})
    assert report.chattering(log).to_dict() == {("x", "grid"): 1}  # g2's four take 600 s: not within 10 minutes
