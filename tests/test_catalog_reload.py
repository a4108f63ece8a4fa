"""Catalog hot reload: a broken catalog is refused and the last good one stays; each change of result
is logged in SQL once, with the errors' file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

from cityvitals.config import load_settings
from indicators.history import read_catalog_events
from indicators.loader import load_catalog
from wiring.runtime import Runtime, reload_catalog

GOOD = Path(__file__).parent / "indicators" / "fixtures" / "good.yaml"


def test_refused_reload_keeps_the_last_good_catalog_and_is_logged_once(tmp_path, redis_client, sqlite_engine,
                                                                      demo_tree):
    catalog_dir = tmp_path / "catalog"
    catalog_dir.mkdir()
    shutil.copy(GOOD, catalog_dir / "good.yaml")
    settings = load_settings(tmp_path, env={"CITYVITALS_CATALOG": str(catalog_dir)})
    good = load_catalog([catalog_dir])
    rt = Runtime(settings, "", redis_client, sqlite_engine, demo_tree, good)

    assert reload_catalog(rt) is False  # nothing changed
    (catalog_dir / "good.yaml").write_text(GOOD.read_text().replace("yellow: 7.5, red: 8.5", "yellow: 9, red: 8.5"))
    assert reload_catalog(rt) is False and reload_catalog(rt) is False  # refused twice, logged once
    assert rt.catalog is good
    (catalog_dir / "good.yaml").write_text(GOOD.read_text().replace("red: 8.5}", "red: 8.8}"))
    assert reload_catalog(rt) is True
    assert rt.catalog.version != good.version

    events = read_catalog_events(sqlite_engine)
    assert [(e["ok"], e["version"]) for e in events] == [(True, rt.catalog.version), (False, good.version),
                                                         (True, good.version)]
    assert "good.yaml:13:17:" in events[1]["errors"] and "must be below red" in events[1]["errors"]
