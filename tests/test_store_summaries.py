"""Packed area summaries: written whole or per area, read back for some areas or all, against a real Redis."""

import numpy as np

from cityvitals import store
from cityvitals.vocabulary import DOMAINS, PANELS
from indicators.states import State

AREAS = {f"s{k}": {"level": "street", "pos": k, "parent": "d", "pop": 10, "children": []} for k in range(20)}


def fields(n: int, health: float, worst: int) -> dict:
    domain_score = np.full((n, len(DOMAINS)), 75.0)
    domain_score[:, 2] = np.nan  # every indicator of that domain stale: no score, never a healthy one
    # counts in State order: not judged, insufficient, normal, stale, yellow, red
    below = np.zeros((n, 3, 2), dtype=int)
    below[:, 2] = (3, 1)  # 3 grids red, 1 yellow
    return {"health": np.full(n, health), "share": np.full(n, 0.9), "worst": np.full(n, worst),
            "counts": np.tile([4, 2, 5, 1, 2, 0], (n, 1)), "below": below,
            "domain_score": domain_score, "domain_share": np.full((n, len(DOMAINS)), 1.0),
            "domain_counts": np.tile([0, 0, 1, 0, 2, 3], (n, len(DOMAINS), 1)),
            "panel_counts": np.tile([0, 0, 7, 1, 0, 0], (n, len(PANELS), 1)), "data_ts": np.full(n, 1_800_000_000.0),
            "domain_ts": np.full((n, len(DOMAINS)), np.nan), "updated": np.full(n, 1_800_000_005.0)}


def test_whole_row_then_single_areas_read_back_as_records(redis_client):
    store.write_areas(redis_client, AREAS)
    pipe = redis_client.pipeline(transaction=False)
    store.queue_summaries(pipe, "street", np.arange(20), 20, fields(20, 88.84, State.NORMAL))
    store.queue_summaries(pipe, "street", np.array([3, 17]), 20, fields(2, 41.0, State.RED))
    pipe.execute()

    everything = store.read_summaries(redis_client, "street")
    assert len(everything) == 20
    assert everything["s0"]["health"] == 88.8 and everything["s0"]["worst"] == "normal"
    some = store.read_summaries(redis_client, "street", ["s3", "s4", "nowhere"])
    assert some.keys() == {"s3", "s4"}  # an unknown area is left out, not an error
    s3 = some["s3"]
    assert (s3["health"], s3["worst"]) == (41.0, "red") and everything["s17"]["worst"] == "red"
    assert s3["counts"] == {"not_judged": 4, "insufficient": 2, "normal": 5, "stale": 1, "yellow": 2, "red": 0}
    assert s3["share"] == 0.9
    assert s3["below"] == {"street": {"red": 0, "yellow": 0}, "community": {"red": 0, "yellow": 0},
                           "grid": {"red": 3, "yellow": 1}}
    assert s3["domains"][DOMAINS[0]] == {"score": 75.0, "share": 1.0, "not_judged": 0, "insufficient": 0,
                                         "normal": 1, "stale": 0, "yellow": 2, "red": 3, "data_ts": None}
    assert s3["domains"][DOMAINS[2]]["score"] is None
    assert s3["panels"][PANELS[0]] == {"not_judged": 0, "insufficient": 0, "normal": 7, "stale": 1, "yellow": 0,
                                       "red": 0}
    assert (s3["data_ts"], s3["updated"]) == (1_800_000_000.0, 1_800_000_005.0)
    brief = store.read_summaries(redis_client, "street", ["s3", "s4"], brief=True)
    assert brief["s3"] == {k: s3[k] for k in ("health", "share", "worst", "counts", "below", "data_ts", "updated")}


def test_many_areas_are_read_from_the_whole_row_with_the_same_result(redis_client, monkeypatch):
    store.write_areas(redis_client, AREAS)
    pipe = redis_client.pipeline(transaction=False)
    store.queue_summaries(pipe, "street", np.arange(20), 20, fields(20, 88.84, State.NORMAL))
    store.queue_summaries(pipe, "street", np.array([3]), 20, fields(1, 41.0, State.RED))
    pipe.execute()
    wanted = ["s3", "s9", "s4", "nowhere"]
    one_by_one = store.read_summaries(redis_client, "street", wanted)
    monkeypatch.setattr(store, "WHOLE_ROW_AREAS", 2)
    assert store.read_summaries(redis_client, "street", wanted) == one_by_one
    assert one_by_one.keys() == {"s3", "s9", "s4"} and one_by_one["s3"]["worst"] == "red"


def test_areas_never_summarised_are_left_out(redis_client):
    store.write_areas(redis_client, AREAS)
    assert store.read_summaries(redis_client, "street") == {}
    pipe = redis_client.pipeline(transaction=False)
    store.queue_summaries(pipe, "street", np.array([5]), 20, fields(1, 60.0, State.YELLOW))  # SETRANGE pads with zeros
    pipe.execute()
    assert store.read_summaries(redis_client, "street").keys() == {"s5"}
    assert store.read_summaries(redis_client, "street", ["s4", "s5"]).keys() == {"s5"}
    assert store.read_summaries(redis_client, "district", ["s5"]) == {}  # s5 is no district
