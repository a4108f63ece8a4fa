"""While the engine's first tick writes, the wall says "starting: n% of areas scored" (gunicorn, Redis, chromium)."""

from __future__ import annotations

import time

from bench.webload import free_port, gunicorn
from cityvitals import store
from cityvitals.areas import LEVELS
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import create_schema, make_engine
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.indicators.test_start_progress import warm

STATUS = "#header-status .conn"


def test_the_wall_says_how_far_a_starting_engine_got_then_goes_live(tmp_path, redis_client, redis_url, demo_tree,
                                                                   page):
    db = f"sqlite:///{tmp_path / 'cv.sqlite'}"
    create_schema(make_engine(db))
    service = EngineService(redis_client, None, demo_tree, load_catalog([DEFAULT_CATALOG]), consumer="starting")
    total = len(service.engine.ind_ids) * sum(len(demo_tree.ids(level)) for level in LEVELS)
    store.queue_start(redis_client, -(-total * 2 // 5), total)  # 40%, as the first tick publishes with its parts
    env = {"REDIS_URL": redis_url, "DATABASE_URL": db, "CITYVITALS_DATA_DIR": str(tmp_path),
           "CITYVITALS_SECRET_KEY": "test-key", "CITYVITALS_TICK_SECONDS": "10"}  # live: a tick within 30 s
    port = free_port()
    with gunicorn(env, port, tmp_path, workers=1):
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector(f"{STATUS}.starting", timeout=30_000)
        assert "已评估 40% 区域" in page.inner_text(STATUS)  # Chinese shows first
        assert page.text_content(f"{STATUS} .en") == "◌ starting: 40% of areas scored"

        warm(service.engine, time.time() - 60)
        service.tick()  # the first tick itself: every record, then the last tick's time
        page.wait_for_selector(f"{STATUS}.live", timeout=15_000)
        assert page.query_selector(f"{STATUS}.starting") is None
        assert page.inner_text("#health-index .value") != "—"  # the district's health index is there
