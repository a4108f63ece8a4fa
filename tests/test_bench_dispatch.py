"""bench.dispatch's figures of steps timed alone, from hand-made timings."""

from bench.dispatch import alone_figures


def test_steps_alone_give_each_steps_median_latency_and_count_errors():
    alone = {"sign": [(0.0, 0.010, 200), (1.0, 1.008, 200), (2.0, 2.012, 200)],
             "handle": [(0.0, 0.030, 200), (1.0, 1.029, 200), (2.0, 2.031, 403)]}
    assert alone_figures(alone) == {"sign_alone_p50_s": 0.01, "handle_alone_p50_s": 0.03, "alone_errors": 1}
