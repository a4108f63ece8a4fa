"""The ingest path's checks: the batch check gives each item check_item's verdict, and every refusal is
stored as such (reason, dead letter, count) through the real Ingestor into the real Redis."""

from __future__ import annotations

import math
from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import FUTURE_TOLERANCE_S, Checked, Ingestor, Rules, check_item, check_items
from tests.conftest import stream_samples

NOW = 1_795_400_000.0
GRIDS = {"pukou.jiangpu.c01.g01", "pukou.jiangpu.c01.g02"}
GOOD = {"metric": "aqi", "area": "pukou.jiangpu.c01.g01", "ts": NOW - 60, "value": 63.5}


def _rows(checked: Checked) -> list[tuple]:
    """The checked samples as (metric, area, ts, value) rows."""
    c = checked.samples
    return list(zip(c.metric, c.area, c.ts.tolist(), c.value.tolist(), strict=True))

# One way each to be wrong, and what check_item says about it (the reasons a sender reads).
BAD = [
    ({"metric": "no_such_metric"}, "unknown metric 'no_such_metric'"),
    ({"area": "nowhere"}, "unknown area 'nowhere'"),
    ({"area": 7}, "unknown area 7"),
    ({"value": math.nan}, "value must be finite, got nan"),
    ({"value": -math.inf}, "value must be finite, got -inf"),
    ({"ts": math.inf}, "ts must be finite, got inf"),
    ({"value": 10**400}, "value must be finite, got 1000"),  # an integer too large for a float
    ({"value": "63"}, "value must be a number, got '63'"),
    ({"value": True}, "value must be a number, got True"),
    ({"ts": None}, "ts must be a number, got None"),
    ({"value": -1.0}, "value -1.0 outside the possible range [0, 500] of aqi"),
    ({"ts": NOW + FUTURE_TOLERANCE_S + 1}, "s in the future (tolerance 300 s)"),
]

plain_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**20), 10**400),
                         st.booleans(), st.none(), st.text(max_size=3))
items = st.one_of(
    st.fixed_dictionaries({"metric": st.sampled_from(["aqi", "river_level", "pm25", "nope", ""]),
                           "area": st.sampled_from([*sorted(GRIDS), "nowhere", 3]),
                           "ts": st.one_of(st.floats(NOW - 1e6, NOW + 2 * FUTURE_TOLERANCE_S), plain_values),
                           "value": st.one_of(st.floats(-10, 2000), plain_values)}),
    st.just(GOOD), st.integers(), st.text(max_size=4), st.builds(OrderedDict, st.just(GOOD)),
    st.dictionaries(st.sampled_from(["metric", "area", "ts", "value", "lon"]), st.just("aqi"), max_size=4),
    st.fixed_dictionaries({"metric": st.just("aqi"), "area": st.lists(st.just("x"), max_size=1),
                           "ts": st.just(NOW), "value": st.just(1.0)}),
)


@settings(max_examples=300, deadline=None)
@given(batch=st.lists(items, max_size=12))
def test_the_batch_check_gives_every_item_check_items_verdict(batch):
    rules = Rules(registry(), GRIDS)
    checked = check_items(batch, rules, NOW)
    verdicts = [check_item(item, rules.metrics, GRIDS, NOW) for item in batch]
    assert checked.refused == [(i, v) for i, v in enumerate(verdicts) if isinstance(v, str)]
    assert _rows(checked) == [tuple(v) for v in verdicts if not isinstance(v, str)]
    assert checked.samples.ts.dtype == checked.samples.value.dtype == float  # ints stored as floats
    good_ts = [v.ts for v in verdicts if not isinstance(v, str)]
    assert checked.newest == (max(good_ts) if good_ts else None)


def test_a_plain_batch_with_ints_stores_floats_in_order():
    batch = [dict(GOOD, ts=int(NOW) - k, value=k) for k in range(5)]
    checked = check_items(batch, Rules(registry(), GRIDS), NOW)
    assert _rows(checked) == [("aqi", GOOD["area"], float(int(NOW) - k), float(k)) for k in range(5)]
    assert checked.refused == [] and checked.newest == float(int(NOW))


def test_each_bad_item_is_refused_with_its_reason_dead_lettered_and_counted_and_the_good_kept(redis_client):
    ingestor = Ingestor(redis_client, "gauges", registry(), GRIDS, clock=lambda: NOW)
    batch = []
    for k, (change, _) in enumerate(BAD):
        batch += [dict(GOOD, value=float(k)), dict(GOOD, **change)]  # a good item before each bad one
    batch.append({"metric": "aqi", "area": GOOD["area"], "value": 1.0})  # missing ts
    result = ingestor.submit(batch)
    assert result.accepted == len(BAD) and result.held == 0
    expected = [reason for _, reason in BAD] + ["missing field(s) ts"]
    assert [r.index for r in result.refused] == [2 * k + 1 for k in range(len(BAD))] + [len(batch) - 1]
    for refusal, reason in zip(result.refused, expected, strict=True):
        assert reason in refusal.reason, (refusal, reason)
    stored = stream_samples(redis_client)
    assert stored == [store.Sample("aqi", GOOD["area"], GOOD["ts"], float(k)) for k in range(len(BAD))]
    dead = redis_client.xrange(store.DEADLETTER)
    assert [d["reason"] for _, d in dead] == [r.reason for r in result.refused]
    assert all(d["src"] == "gauges" for _, d in dead)
    health = store.read_feed_health(redis_client)["gauges"]
    assert (health["accepted"], health["refused"], health["last_sample"]) == (len(BAD), len(BAD) + 1, GOOD["ts"])


def test_the_future_tolerance_is_a_sharp_edge(redis_client):
    ingestor = Ingestor(redis_client, "clocks", registry(), GRIDS, clock=lambda: NOW)
    result = ingestor.submit([dict(GOOD, ts=NOW + FUTURE_TOLERANCE_S), dict(GOOD, ts=NOW + FUTURE_TOLERANCE_S + 0.5)])
    assert result.accepted == 1
    assert result.refused[0].index == 1
    assert result.refused[0].reason == f"ts {NOW + FUTURE_TOLERANCE_S + 0.5!r} is 300 s in the future (tolerance 300 s)"
    assert [s.ts for s in stream_samples(redis_client)] == [NOW + FUTURE_TOLERANCE_S]


def test_the_health_record_says_when_how_fast_and_how_late(redis_client):
    now = [NOW]
    ingestor = Ingestor(redis_client, "rates", registry(), GRIDS, clock=lambda: now[0])
    ingestor.submit([dict(GOOD, ts=NOW - 30, value=1.0), dict(GOOD, ts=NOW - 20, value=2.0)])
    now[0] = NOW + 30
    ingestor.submit([dict(GOOD, ts=NOW + 10, value=float(k)) for k in range(4)])
    health = store.read_feed_health(redis_client)["rates"]
    assert (health["accepted"], health["last_sample"], health["lag_s"]) == (6, NOW + 10, 20.0)
    assert (health["last_ok"], health["rate"]) == (NOW + 30, 0.1)  # six samples in the last minute
    now[0] = NOW + 100
    ingestor.submit([dict(GOOD, ts=NOW + 95, value=5.0)])
    health = store.read_feed_health(redis_client)["rates"]
    assert (health["rate"], health["lag_s"], health["store_errors"]) == (0.017, 5.0, 0)  # the older ones left it
