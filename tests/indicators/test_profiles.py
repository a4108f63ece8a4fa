"""An operator switches a threshold profile on and off; the running engine applies it on its next tick."""

from __future__ import annotations

from cityvitals import store
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from indicators.loader import load_catalog
from indicators.service import EngineService
from wiring.cli import main

T0 = 1_795_000_000.0  # November: the flood season (June to September) is not on by date


def test_operator_switches_the_flood_season_on_and_off(redis_client, redis_url, demo_tree, tmp_path, monkeypatch,
                                                       capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))
    grid = demo_tree.ids("grid")[9]
    service = EngineService(redis_client, None, demo_tree, load_catalog([DEFAULT_CATALOG]))
    Ingestor(redis_client, "probe", registry(), {grid}, clock=lambda: T0 + 60).submit(
        [{"metric": "river_level", "area": grid, "ts": T0, "value": 7.2}])

    street = next(a.id for a in demo_tree.ancestors(grid) if a.level == "street")  # a gauge is judged by street

    def river() -> dict:
        return store.read_state_of(redis_client, "river_level_max", [street])[street]

    service.tick(T0 + 5)
    assert river()["s"] == "normal"  # 7.2 m is below the default 7.5 m

    assert main(["profile", "on", "flood_season"]) == 0
    service.tick(T0 + 10)
    assert river()["s"] == "yellow" and river()["rule"] == "override 1: profile flood_season" and river()["y"] == "7"
    assert main(["profile", "list"]) == 0
    assert "flood_season         ON" in capsys.readouterr().out

    assert main(["profile", "off", "flood_season"]) == 0
    service.tick(T0 + 15)
    assert river()["s"] == "normal"
    assert main(["profile", "on", "monsoon"]) == 2
    assert "unknown profile 'monsoon'" in capsys.readouterr().err
