"""Property-based: any MQTT topic and payload gives a sample or a reason, never an exception or a hang."""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cityvitals.metrics import registry
from feeds.ingest import Ingestor, check_item
from feeds.mqtt.feed import MAX_PAYLOAD, parse_message

PREFIX = "fz"
NOW = 1_795_400_000.0
GRID = "pukou.jiangpu.c01.g01"

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
              st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["value", "v", "ts", "x"]), inner, max_size=3)),
    max_leaves=12)
payloads = st.one_of(
    st.binary(max_size=MAX_PAYLOAD + 64),
    json_values.map(lambda v: json.dumps(v, allow_nan=True).encode()),
    st.integers(1, MAX_PAYLOAD).map(lambda n: b"[" * n),  # nesting deep enough to exhaust a recursive parser
    st.integers(1, MAX_PAYLOAD // 6).map(lambda n: b'{"v":' * n),
)
segments = st.one_of(st.sampled_from([PREFIX, GRID, "aqi", "river_level", "", "+", "#"]), st.text(max_size=12))
topics = st.lists(segments, min_size=0, max_size=5).map("/".join)


def _outcome(topic: str, payload: bytes) -> object:
    item = parse_message(topic, payload, PREFIX, NOW)
    if isinstance(item, str):
        assert item, "a refusal names its reason"
        return item
    assert set(item) == {"metric", "area", "ts", "value"}
    return check_item(item, registry(), {GRID}, NOW)  # the ingest path's verdict: a Sample or a reason


@settings(max_examples=400, deadline=2000)
@given(topic=topics, payload=payloads)
@example(topic=f"{PREFIX}/{GRID}/aqi", payload=b"[" * 4000)
@example(topic=f"{PREFIX}/{GRID}/aqi", payload=b'{"value": 1e999}')
@example(topic=f"{PREFIX}/{GRID}/aqi", payload=b'{"value": 63, "ts": "soon"}')
def test_any_message_gives_a_sample_or_a_reason(topic, payload):
    outcome = _outcome(topic, payload)
    if isinstance(outcome, str):
        assert outcome, "a refusal names its reason"
    else:
        assert outcome.area == GRID and outcome.metric in registry()


def test_a_good_message_still_gives_its_sample():
    sample = _outcome(f"{PREFIX}/{GRID}/aqi", json.dumps({"value": 63, "ts": NOW - 5}).encode())
    assert (sample.metric, sample.area, sample.ts, sample.value) == ("aqi", GRID, NOW - 5, 63.0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(st.tuples(topics, payloads), min_size=1, max_size=6))
def test_a_batch_of_any_messages_is_counted_whole_through_the_real_ingest_path(redis_client, batch):
    ingestor = Ingestor(redis_client, "mqtt:fuzz", registry(), {GRID})
    items = [parse_message(t, p, PREFIX, time.time()) for t, p in batch]
    unreadable = [(i, "raw") for i in items if isinstance(i, str)]
    ingestor.refuse(unreadable)
    result = ingestor.submit([i for i in items if not isinstance(i, str)])
    assert result.accepted + len(result.refused) + len(unreadable) == len(batch)
