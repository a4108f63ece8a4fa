"""Grid rows of one metric are that metric's row; a formula reads other indicators as computed in the same tick."""

import numpy as np

from cityvitals.store import Sample
from indicators.engine import Engine
from indicators.loader import load_catalog
from tests.conftest import GRIDS, tiny_tree

CATALOG = """
indicators:
  - id: level
    name: {zh: 水位, en: Level}
    tier: macro
    group: public_safety
    unit: m
    description: River level.
    source: {metric: river_level}
    rollup: max
    direction: higher_is_worse
    thresholds: {yellow: 7.5, red: 8.5}
  - id: margin
    name: {zh: 水位余量, en: Level margin}
    tier: panel
    group: public_safety
    description: Distance to the red level.
    source: {formula: "8.5 - level"}
    rollup: min
    direction: lower_is_worse
    thresholds: {yellow: 1.0, red: 0.0}
  - id: twice_margin
    name: {zh: 双倍余量, en: Twice the margin}
    tier: panel
    group: public_safety
    description: A formula over a formula.
    source: {formula: "margin * 2"}
    rollup: min
    direction: lower_is_worse
    thresholds: {yellow: 2.0, red: 0.0}
"""


def test_rows_of_a_metric_and_formulas_over_formulas_follow_the_samples(tmp_path):
    path = tmp_path / "chain.yaml"
    path.write_text(CATALOG)
    eng = Engine(tiny_tree(), load_catalog([path]))
    grids = list(GRIDS)
    level, margin, twice = (eng.ind_ids.index(i) for i in ("level", "margin", "twice_margin"))
    for minute, values in enumerate([[2.0, 5.0, 8.0, 1.0], [3.0, 6.5, 7.0, 1.0]]):
        at = 1_800_000_000.0 + 60 * minute
        eng.ingest([Sample("river_level", g, at, v) for g, v in zip(grids, values, strict=True)])
        eng.tick(at + 5)
        parts, x = eng._parts, np.array(values)
        np.testing.assert_array_equal(parts.value[level], x)
        np.testing.assert_array_equal(parts.value[margin], 8.5 - x)
        np.testing.assert_array_equal(parts.value[twice], (8.5 - x) * 2)
        for row in (level, margin, twice):  # the oldest input's time, through the chain
            np.testing.assert_array_equal(parts.ts[row], np.full(4, at))
    assert np.shares_memory(parts.ts.row(level), eng.ts)  # a view of the metric's row, not a copy
    assert parts.value.own.shape[0] == 2 and parts.ts.own.shape[0] == 2  # the formulas' rows only
