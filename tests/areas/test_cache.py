"""The on-disk hierarchy cache: what it loads equals what was built, and a new version rebuilds."""

from dataclasses import replace

import numpy as np
import pytest

from cityvitals.areas import LEVELS, AreaTree, province_demo, pukou_demo
from cityvitals.areas.cache import (
    cache_path,
    cached_areas,
    cached_demo_tree,
    cached_tree,
    demo_version,
    load_cached,
    save_cached,
)


@pytest.fixture(scope="module")
def province():
    return province_demo(grids=400, seed=3)


def _same_tree(a: AreaTree, b: AreaTree) -> None:
    assert len(a) == len(b) and a.root == b.root
    for level in LEVELS:
        assert a.ids(level) == b.ids(level)
        assert np.array_equal(a.population(level), b.population(level))
        if level != LEVELS[0]:
            assert np.array_equal(a.parent_index(level), b.parent_index(level))
            assert np.array_equal(a.grid_ancestor_index(level), b.grid_ancestor_index(level))
        for area_id in a.ids(level):
            assert a[area_id] == b[area_id]
            assert a.children(area_id) == b.children(area_id)
            assert a.ancestors(area_id) == b.ancestors(area_id)
    grid = b[b.ids("grid")[7]].geometry.representative_point()
    assert a.grid_locator().locate([grid.x], [grid.y]).tolist() == [b.ids("grid")[7]]
    assert a.geojson(a.ids("street")) == b.geojson(b.ids("street"))


def test_cached_tree_equals_a_freshly_built_one(tmp_path, province):
    built = []
    first = cached_areas(tmp_path, "v1", lambda: built.append(1) or province)
    again = cached_areas(tmp_path, "v1", lambda: built.append(2) or province)
    assert built == [1], "the second start must read the cache, not build"
    # Area equality covers every field, geometry compared coordinate by coordinate (WKB is exact).
    assert again == province == first
    assert [a.geometry.wkb for a in again] == [a.geometry.wkb for a in province]
    assert {a.kind for a in again if a.level != "grid"} == {None}
    assert again[0].parent is None and all(a.parent for a in again[1:])
    _same_tree(AreaTree(again), AreaTree(province))


def test_a_changed_hierarchy_invalidates_the_cache(tmp_path, province):
    cached_areas(tmp_path, "v1", lambda: province)
    changed = [replace(a, population=a.population + 1) if a.level == "grid" else a for a in province[:-1]]
    rebuilt = cached_areas(tmp_path, "v2", lambda: changed)
    assert rebuilt == changed != province
    assert cache_path(tmp_path, "v1") != cache_path(tmp_path, "v2")
    # A file that records another version is not trusted even under this version's name.
    save_cached(cache_path(tmp_path, "v3"), "v1", province)
    assert load_cached(cache_path(tmp_path, "v3"), "v3") is None


def test_demo_versions_differ_by_size_and_seed():
    assert len({demo_version(), demo_version(400), demo_version(401), demo_version(400, seed=8)}) == 4


def test_a_truncated_cache_file_is_rebuilt(tmp_path):
    areas = pukou_demo()
    path = cache_path(tmp_path, demo_version())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PK\x03\x04 not a whole file")
    assert cached_demo_tree(tmp_path).ids("grid") == AreaTree(areas).ids("grid")
    assert load_cached(path, demo_version()) == areas


def test_a_tree_read_from_the_cache_equals_one_built_from_areas(tmp_path, province):
    built = cached_tree(tmp_path, "v1", lambda: province)  # a cold cache: built from the areas, then cached
    cached = cached_tree(tmp_path, "v1", lambda: pytest.fail("the second start must read the cache"))
    assert "demo.s00001" in cached and "nowhere" not in cached
    _same_tree(cached, built)
    _same_tree(cached, AreaTree(province))
