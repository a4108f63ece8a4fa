"""The hierarchy survives a round trip through SQLite and the real PostgreSQL."""

import pytest

from cityvitals.areas import load_areas, pukou_demo, save_areas
from cityvitals.db import make_engine


@pytest.fixture(params=["sqlite_engine", "postgres_engine"])
def sql_engine(request):
    """SQLite in tmp_path, then a fresh schema in the real PostgreSQL (unreachable: the test fails)."""
    return request.getfixturevalue(request.param)


def test_round_trip_is_exact(sql_engine):
    areas = pukou_demo()
    save_areas(sql_engine, areas)
    loaded = load_areas(sql_engine)
    assert sorted(loaded, key=lambda a: a.id) == sorted(areas, key=lambda a: a.id)


def test_save_replaces_the_whole_hierarchy(sql_engine):
    save_areas(sql_engine, pukou_demo())
    smaller = [a for a in pukou_demo() if a.level in ("district", "street")]
    save_areas(sql_engine, smaller)
    assert load_areas(sql_engine) == sorted(smaller, key=lambda a: a.id)


def test_nothing_imported_yet(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert load_areas(engine) == []
    save_areas(engine, [])
    assert load_areas(engine) == []
    engine.dispose()
