"""The demo hierarchies: Pukou's real figures, exact tiling, determinism; the province demo's shape."""

from collections import Counter

import numpy as np
import pytest
import shapely

from cityvitals.areas import LEVELS, AreaTree, province_demo, pukou_demo, validate

STREETS = {
    "pukou.jiangpu": ("江浦街道", "Jiangpu Street"),
    "pukou.qiaolin": ("桥林街道", "Qiaolin Street"),
    "pukou.tangquan": ("汤泉街道", "Tangquan Street"),
    "pukou.xingdian": ("星甸街道", "Xingdian Street"),
    "pukou.yongning": ("永宁街道", "Yongning Street"),
}


def test_pukou_figures(demo_tree):
    assert demo_tree.root.id == "pukou"
    assert (demo_tree.root.name_zh, demo_tree.root.name_en) == ("浦口区", "Pukou District")
    assert demo_tree.root.area_km2 == pytest.approx(720, rel=0.01)
    lon0, lat0, lon1, lat1 = demo_tree.root.geometry.bounds
    assert 118.3 < lon0 < lon1 < 118.85 and 31.85 < lat0 < lat1 < 32.3
    assert {s: (demo_tree[s].name_zh, demo_tree[s].name_en) for s in demo_tree.ids("street")} == STREETS
    grids = [demo_tree[g] for g in demo_tree.ids("grid")]
    assert len(grids) == 502
    assert Counter(g.kind for g in grids) == {"comprehensive": 478, "special": 24}
    assert {g.category for g in grids if g.kind == "special"} == {"industrial_park", "school", "hospital"}
    assert demo_tree.population("grid").sum() == 490_000
    assert demo_tree.root.population == 490_000


def test_every_grid_sits_under_community_street_district(demo_tree):
    for grid_id in demo_tree.ids("grid"):
        assert [a.level for a in demo_tree.ancestors(grid_id)] == ["district", "street", "community"]


def test_urban_jiangpu_is_denser_than_rural_streets(demo_tree):
    def density(street):
        return demo_tree[street].population / demo_tree[street].area_km2

    rural = ["pukou.qiaolin", "pukou.tangquan", "pukou.yongning", "pukou.xingdian"]
    assert all(density("pukou.jiangpu") > 1.5 * density(street) for street in rural)
    special = [demo_tree[g].population for g in demo_tree.ids("grid") if demo_tree[g].kind == "special"]
    comprehensive = [demo_tree[g].population for g in demo_tree.ids("grid") if demo_tree[g].kind == "comprehensive"]
    assert np.median(special) < np.median(comprehensive)
    assert any("村" in demo_tree[c].name_zh for c in demo_tree.ids("community"))


@pytest.mark.parametrize("level", LEVELS[1:])
def test_children_tile_each_parent(demo_tree, level):
    for parent_id in demo_tree.ids(LEVELS[LEVELS.index(level) - 1]):
        parent = demo_tree[parent_id].geometry
        children = [child.geometry for child in demo_tree.children(parent_id)]
        assert sum(child.area for child in children) == pytest.approx(parent.area, rel=1e-9)
        assert shapely.union_all(children).symmetric_difference(parent).area < 1e-9 * parent.area
    _assert_no_overlaps([demo_tree[a].geometry for a in demo_tree.ids(level)], demo_tree.root.geometry.area)


def _assert_no_overlaps(geometries, total_area):
    """Neighbours (found with an STRtree) share edges at most, never area."""
    geometries = np.array(geometries, dtype=object)
    left, right = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    pairs = left < right
    assert pairs.sum() >= len(geometries) - 1  # a tiling is connected: these are real neighbours
    overlap = shapely.area(shapely.intersection(geometries[left[pairs]], geometries[right[pairs]]))
    assert overlap.max() < 1e-12 * total_area


def test_demo_passes_validation():
    areas = pukou_demo()
    usable, problems = validate(areas)
    assert problems == []
    assert len(usable) == len(areas) == 1 + 5 + 75 + 502


def test_demo_is_deterministic_per_seed():
    assert pukou_demo(seed=3) == pukou_demo(seed=3)
    assert pukou_demo(seed=3) != pukou_demo(seed=4)


def test_area_km2_matches_geometry(demo_tree):
    streets = [demo_tree[s] for s in demo_tree.ids("street")]
    assert sum(s.area_km2 for s in streets) == pytest.approx(demo_tree.root.area_km2, rel=1e-3)


def test_province_demo_has_the_same_structure_at_scale():
    areas = province_demo(grids=3000, seed=1)
    tree = AreaTree(areas)
    assert len(tree.ids("grid")) == 3000
    assert len(tree.ids("street")) == round(3000 / 80)
    assert len(tree.ids("community")) == 3000 // 5
    assert tree.population("grid").sum() == tree.root.population == 3000 * 800
    assert 0.02 < Counter(a.kind for a in areas)["special"] / 3000 < 0.08
    assert tree.root.area_km2 == pytest.approx(3000, rel=0.01)
    assert all(tree.children(c) for c in tree.ids("community"))
    _assert_no_overlaps([tree[g].geometry for g in tree.ids("grid")], tree.root.geometry.area)
