"""The archiver's lag behind the sample stream, as /metrics reports it."""

from __future__ import annotations

import time

from cityvitals import store
from cityvitals.archive import Archiver
from cityvitals.metrics import registry
from cityvitals.observability import StoreCollector
from feeds.ingest import Ingestor
from tests.archive.conftest import LEVELS
from tests.conftest import GRIDS


def _lag(client) -> dict[str, float]:
    return {f.name: f.samples[0].value for f in StoreCollector(client).collect()
            if f.name.startswith("cityvitals_archive")}


def test_the_lag_grows_with_unread_entries_and_goes_when_they_are_archived(tmp_path, redis_client):
    assert _lag(redis_client) == {}  # no stream, no archiver yet: nothing said
    archiver = Archiver(redis_client, tmp_path, LEVELS, consumer="archive-test", max_entries=1)
    ingestor = Ingestor(redis_client, "gauges", registry(), set(GRIDS))
    for k in range(3):
        ingestor.submit([{"metric": "aqi", "area": "d.s.c1.g1", "ts": time.time(), "value": float(k)}])
        time.sleep(0.05)  # entry ids are milliseconds: the newest is 100 ms after the first
    lag = _lag(redis_client)
    assert (lag["cityvitals_archive_lag_entries"], lag["cityvitals_archive_pending_entries"]) == (3, 0)
    assert 0.1 <= lag["cityvitals_archive_lag_seconds"] < 5  # from the oldest unread entry to the newest
    archiver.round()
    assert store.group_backlog(redis_client, store.ARCHIVE_GROUP).unread == 2
    while archiver.round().entries:
        pass
    assert _lag(redis_client) == {"cityvitals_archive_lag_entries": 0, "cityvitals_archive_pending_entries": 0,
                                  "cityvitals_archive_lag_seconds": 0.0}
