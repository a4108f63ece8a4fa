"""Forecast rules: the forecast itself against hand computations, the schema's errors, and the early
warnings a run raises with their lead time, hit rate and false early warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from indicators.backtest import backtest
from indicators.forecast import outlook, outlooks
from indicators.forecast_report import rule_figures
from indicators.loader import CatalogInvalid, load_catalog
from indicators.schema import Forecast
from tests.backtest.test_backtest import GRID, T0, _frame
from tests.conftest import tiny_tree

CATALOG = Path(__file__).parent / "forecast.yaml"

# y = 2x + r, with r orthogonal to 1 and x: least squares gives slope 2 and intercept 0 exactly, and the
# residual sum of squares 4, so s^2 = 4 / (6 - 2) = 1; x mean 2.5, Sxx 17.5. The prediction variance at x0
# is s^2 (1 + 1/6 + (x0 - 2.5)^2 / 17.5): 1.8667 at x0 = 6, 2.3238 at 7, 2.8952 at 8.
NOISY = 2 * np.arange(6.0) + np.array([1, -1, 0, 0, -1, 1])
T90_DF4, T60_DF4 = 1.5332, 0.2707  # Student t quantiles 0.9 and 0.6 at 4 degrees of freedom (tables)


def _rule(horizon_steps: int, confidence: float, method: str = "linear") -> Forecast:
    return Forecast(horizon=60.0 * horizon_steps, step=60.0, window=360.0, confidence=confidence, method=method)


def test_an_exact_line_is_expected_past_the_limit_at_the_first_step_its_forecast_reaches_it():
    line = np.arange(6.0)  # 0..5: the forecast goes on 6, 7, 8, 9 and has no spread
    assert outlook(line, _rule(5, 0.9), 8.5, higher=True) == 240.0  # 9 is the fourth step ahead
    assert outlook(line, _rule(3, 0.9), 8.5, higher=True) is None  # 6, 7, 8 stay below 8.5


def test_the_confidence_asks_the_prediction_bound_not_the_mean_to_pass_the_limit():
    # The mean reaches 13 at x0 = 7 (14), two steps ahead. At 90% the bound there is
    # 14 - 1.5332 * sqrt(2.3238) = 11.66 < 13: no warning within two steps; at x0 = 8 it is
    # 16 - 1.5332 * sqrt(2.8952) = 13.39 >= 13. At 60% the bound at x0 = 7 is 14 - 0.2707 * 1.5244 = 13.59.
    assert 14 - T90_DF4 * np.sqrt(2.3238) < 13 <= 16 - T90_DF4 * np.sqrt(2.8952)
    assert outlook(NOISY, _rule(2, 0.9), 13.0, higher=True) is None
    assert outlook(NOISY, _rule(3, 0.9), 13.0, higher=True) == 120.0  # expected when the mean gets there
    assert outlook(NOISY, _rule(2, 0.6), 13.0, higher=True) == 120.0
    assert 14 - T60_DF4 * np.sqrt(2.3238) > 13


def test_lower_is_worse_warns_of_a_fall_and_a_series_moving_away_or_flat_never_warns():
    falling = 10 - np.arange(6.0)  # 10..5: forecast 4, 3, 2
    assert outlook(falling, _rule(5, 0.9), 2.5, higher=False) == 180.0
    assert outlook(falling, _rule(5, 0.9), 12.0, higher=True) is None
    assert outlook(np.full(6, 7.0), _rule(5, 0.9), 7.0, higher=True) is None
    assert outlook(np.arange(5.0), _rule(5, 0.9), 5.5, higher=True) is None  # fewer than 6 values


def test_damped_holt_sees_a_steady_rise_coming_and_not_a_steady_fall():
    rise = 6.0 + 0.1 * np.arange(12) + np.tile([0.01, -0.01], 6)
    eta = outlook(rise, _rule(30, 0.8, "damped_holt"), 8.5, higher=True)
    assert eta is not None and 60.0 <= eta <= 1800.0
    assert outlook(rise[::-1], _rule(30, 0.8, "damped_holt"), 8.5, higher=True) is None


def test_a_forecast_rule_is_checked_with_file_line_and_column(tmp_path):
    text = CATALOG.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("method: linear", "method: arima").replace("window: 6m", "window: 3m")
                   .replace("higher_is_worse", "band").replace("{yellow: 7.5, red: 8.5}",
                                                               "{yellow: [1, 2], red: [0, 3]}"))
    with pytest.raises(CatalogInvalid) as err:
        load_catalog([bad])
    assert [str(e) for e in err.value.errors] == [
        f"{bad}:14:38: indicator \"level\": forecast.method: Input should be 'linear' or 'damped_holt'"]
    bad.write_text(text.replace("window: 6m", "window: 3m"))
    with pytest.raises(CatalogInvalid) as err:
        load_catalog([bad])
    assert [str(e) for e in err.value.errors] == [
        f'{bad}:14:71: indicator "level": forecast.window: 180 s must hold at least 6 steps of 60 s']
    bad.write_text(text.replace("higher_is_worse", "band").replace("{yellow: 7.5, red: 8.5}",
                                                                   "{yellow: [1, 2], red: [0, 3]}"))
    with pytest.raises(CatalogInvalid) as err:
        load_catalog([bad])
    assert [str(e) for e in err.value.errors] == [
        f'{bad}:14:15: indicator "level": forecast: needs one direction (higher_is_worse or lower_is_worse), not band']


# One value a minute: 7 minutes flat at 6.0, then a rise of 0.25 m a minute to 9.0 (minute 19),
# 10 minutes there, 10 back at 6.0, then a rise that stops short of red.
RISE = [6.0] * 7 + [6.0 + 0.25 * k for k in range(1, 13)] + [9.0] * 10 + [6.0] * 10 + \
    [6.0 + 0.25 * k for k in range(1, 9)] + [6.0] * 10


def test_a_run_raises_an_early_warning_before_red_and_keeps_the_states_as_they_were(tmp_path):
    tree = tiny_tree()
    end = T0 + 60.0 * len(RISE)
    out = backtest(tree, load_catalog([CATALOG]), [(_frame(RISE), end)], T0 - 60.0, end, 60.0)
    plain = tmp_path / "plain.yaml"
    plain.write_text("\n".join(line for line in CATALOG.read_text().splitlines() if "forecast:" not in line))
    without = backtest(tree, load_catalog([plain]), [(_frame(RISE), end)], T0 - 60.0, end, 60.0)
    pd.testing.assert_frame_equal(out.timeline, without.timeline)  # its own annotation: no state moves
    early = out.early[out.early["area"] == GRID]
    # The first rise: 6.25 at minute 7, 8.5 (red) at minute 16, ticked at T0 + 16 min (a tick takes the
    # samples up to its time). The only red: the second rise stops at 8.0.
    red_at = out.warnings[(out.warnings["to_state"] == "red")]["at"].tolist()
    assert red_at == [T0 + 16 * 60]
    raised = early[early["event"] == "raised"]["at"].tolist()
    assert raised[0] < red_at[0] and early["event"].tolist()[:2] == ["raised", "reached"]
    assert early[early["event"] == "reached"]["at"].tolist() == red_at
    figures = out.forecasts["level"]
    assert figures["crossings"] == 1 and figures["hits"] == 1 and figures["hit_rate"] == 1.0
    assert figures["lead_time_p50_s"] == red_at[0] - raised[0]
    assert figures["early_warnings"] == len(raised) and figures["false_early"] == len(raised) - 1


def _early(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([(at, "x", "grid", area, event, np.nan, np.nan, np.nan) for at, area, event in rows],
                        columns=["at", "indicator", "level", "area", "event", "expected_at", "value", "limit"])


def _log(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame([(at, "x", "grid", area, before, after) for at, area, before, after in rows],
                        columns=["at", "indicator", "level", "area", "from_state", "to_state"])


def test_hits_lead_times_and_false_early_warnings_by_hand():
    early = _early([(100, "a", "raised"), (700, "a", "reached"),  # hit: red at 700, lead 600
                    (1000, "b", "raised"), (1200, "b", "cleared"),  # hit: red at 1500, within 600 s of clearing
                    (2000, "c", "raised"), (2100, "c", "cleared"),  # false: c never turns red
                    (5000, "b", "raised")])  # still standing at the end, no red after: false
    log = _log([(700, "a", "yellow", "red"), (1500, "b", "normal", "red"), (1600, "b", "red", "normal"),
                (3000, "d", "normal", "red"),  # missed: never warned early
                (3100, "a", "red", "yellow"), (3200, "a", "yellow", "red")])  # a's second red: missed
    f = rule_figures(early, log, "x", "red", 600.0, 0.0, 86400.0 / 2)
    assert (f["crossings"], f["hits"], f["early_warnings"], f["false_early"]) == (4, 2, 4, 2)
    assert f["lead_time_p50_s"] == 550.0  # the median of 600 and 500
    assert f["hit_rate"] == 0.5 and f["false_early_per_day"] == 4.0


@pytest.mark.parametrize("higher", [True, False])
def test_outlooks_fitted_all_at_once_equal_one_statsmodels_fit_per_series(higher):
    rng = np.random.default_rng(3 if higher else 4)
    rule = _rule(8, 0.8)
    series = np.cumsum(rng.normal(0.3 if higher else -0.3, 1.0, (400, 12)), axis=1) + 50
    gaps = rng.random(series.shape) < 0.06
    gaps[:, -1] = False  # the engine forecasts cells with a value now only
    series[gaps] = np.nan  # gaps: each series is judged since its last one
    series[:5] = 2 * np.arange(12.0) + (0.0 if higher else -30.0)  # exact lines too (a zero residual variance)
    limits = np.nanmax(series, axis=1) + rng.uniform(-2, 6, 400) if higher else \
        np.nanmin(series, axis=1) - rng.uniform(-2, 6, 400)
    expected = []
    for row, limit in zip(series, limits.tolist(), strict=True):
        gaps = np.flatnonzero(np.isnan(row))
        expected.append(outlook(row[gaps[-1] + 1 if gaps.size else 0:], rule, limit, higher))
    assert outlooks(series, rule, limits, higher) == expected
    assert sum(e is not None for e in expected) > 20, "some series must be expected past their limit"
