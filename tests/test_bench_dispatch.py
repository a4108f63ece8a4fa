"""bench.dispatch's floor for a crowd: what n steps cost on this machine's cores, from steps timed alone."""

import os

from bench.dispatch import alone_figures


def test_the_crowd_floor_is_the_steps_service_time_spread_over_the_cores():
    # sign takes 10 ms alone, handle 30 ms (middle of three each); 400 steps of 20 ms on the cores
    alone = {"sign": [(0.0, 0.010, 200), (1.0, 1.008, 200), (2.0, 2.012, 200)],
             "handle": [(0.0, 0.030, 200), (1.0, 1.029, 200), (2.0, 2.031, 403)]}
    got = alone_figures(alone, 400)
    cores = os.cpu_count()
    assert (got["sign_alone_p50_s"], got["handle_alone_p50_s"]) == (0.01, 0.03)
    assert got["crowd_floor_s"] == round(400 * 0.02 / cores, 3)
    assert got["alone_errors"] == 1
