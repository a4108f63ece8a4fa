"""State records round-trip through their compact string form."""

import numpy as np

from cityvitals import store


def test_state_records_round_trip_and_nan_is_none():
    packed = store.pack_states(["red", "stale"], np.array([833.33333, np.nan]), np.array([1795000000.25, np.nan]),
                               np.array([1794990000.0, 1795000000.0]),
                               ["800|1000|override 2: level=grid", "2|3|default"], np.array([1.0, 0.0]))
    red, stale = (store.unpack_state(p) for p in packed)
    assert red == {"s": "red", "v": 833.333, "ts": 1795000000.25, "since": 1794990000.0, "y": "800", "r": "1000",
                   "rule": "override 2: level=grid", "cov": 1.0}
    assert stale["v"] is None and stale["ts"] is None and stale["s"] == "stale"


def test_warnings_read_back_with_indicator_area_and_level(redis_client):
    record = store.pack_states(["yellow"], np.array([7.6]), np.array([1.0]), np.array([2.0]), ["7.5|8.5|default"],
                               np.array([1.0]))[0]
    redis_client.hset(store.WARNINGS, store.warning_field("river_level_max", "pukou.qiaolin"), f"street|{record}")
    [w] = store.read_warnings(redis_client)
    assert (w["i"], w["a"], w["level"], w["s"], w["v"], w["y"]) == ("river_level_max", "pukou.qiaolin", "street",
                                                                    "yellow", 7.6, "7.5")
