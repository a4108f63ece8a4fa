"""AreaTree indexes and GridLocator on a hand-made hierarchy and on the demo district."""

from pathlib import Path

import numpy as np
import pytest

from cityvitals.areas import AreaTree, PropertyMapping, load_features

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tree() -> AreaTree:
    areas, problems = load_features([FIXTURES / "ours.good.geojson"], PropertyMapping())
    assert problems == []
    return AreaTree(areas)


def test_lookups(tree):
    assert len(tree) == 10
    assert tree.root.id == "d"
    assert tree["g2"].kind == "special"
    assert "c3" in tree and "nowhere" not in tree
    with pytest.raises(KeyError):
        tree["nowhere"]


def test_ids_children_and_ancestors(tree):
    assert tree.ids("street") == ["s1", "s2"]
    assert tree.ids("grid") == ["g1", "g2", "g3", "g4"]
    assert [a.id for a in tree.children("s1")] == ["c1", "c2"]
    assert tree.children("g1") == []
    assert [a.id for a in tree.ancestors("g2")] == ["d", "s1", "c1"]
    assert tree.ancestors("d") == []


def test_ids_returns_a_copy(tree):
    tree.ids("grid").clear()
    assert len(tree.ids("grid")) == 4


def test_index_arrays(tree):
    assert tree.parent_index("street").tolist() == [0, 0]
    assert tree.parent_index("community").tolist() == [0, 0, 1]
    assert tree.parent_index("grid").dtype == np.int64
    assert tree.parent_index("grid").tolist() == [0, 0, 1, 2]
    assert tree.grid_ancestor_index("street").tolist() == [0, 0, 0, 1]
    assert tree.grid_ancestor_index("district").tolist() == [0, 0, 0, 0]
    assert tree.grid_ancestor_index("grid").tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="root level"):
        tree.parent_index("district")


def test_population(tree):
    population = tree.population("grid")
    assert population.dtype == np.float64
    assert population.tolist() == [100, 200, 300, 400]
    # Grid populations summed through the ancestor index give the streets' populations.
    assert np.bincount(tree.grid_ancestor_index("street"), population).tolist() == tree.population("street").tolist()


def test_geojson_for_maps(demo_tree):
    ids = demo_tree.ids("street")
    collection = demo_tree.geojson(ids)
    assert collection["type"] == "FeatureCollection"
    assert [f["id"] for f in collection["features"]] == ids
    first = collection["features"][0]
    assert first["properties"] == {"id": ids[0], "name_zh": "江浦街道", "name_en": "Jiangpu Street", "level": "street"}
    coordinates = np.array(first["geometry"]["coordinates"][0])
    assert np.array_equal(coordinates, np.round(coordinates, 5))


def test_parent_index_matches_ancestors_in_demo(demo_tree):
    grids = demo_tree.ids("grid")
    communities = demo_tree.ids("community")
    index = demo_tree.grid_ancestor_index("community")
    for i in (0, 250, len(grids) - 1):
        assert communities[index[i]] == demo_tree[grids[i]].parent


def test_locator_finds_grids_and_nothing_outside(demo_tree):
    grids = [demo_tree[g] for g in demo_tree.ids("grid")[::50]]
    inside = [g.geometry.representative_point() for g in grids]
    lon = np.array([p.x for p in inside] + [118.0, 118.58])
    lat = np.array([p.y for p in inside] + [32.0, 33.5])
    found = demo_tree.grid_locator().locate(lon, lat)
    assert found.tolist() == [g.id for g in grids] + [None, None]


def test_locator_point_on_a_shared_edge_gets_one_grid(tree):
    # (118.625, 32.02) lies on the edge between g1 and g2: the first in ids() order wins.
    assert tree.grid_locator().locate(np.array([118.625]), np.array([32.02])).tolist() == ["g1"]
