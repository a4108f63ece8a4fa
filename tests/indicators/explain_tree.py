"""A tiny hand-made hierarchy for engine tests: one street, two communities, four grids."""

from shapely.geometry import box

from cityvitals.areas import Area, AreaTree

# grid -> (community, population)
GRIDS = {"d.s.c1.g1": ("d.s.c1", 1000), "d.s.c1.g2": ("d.s.c1", 2000), "d.s.c1.g3": ("d.s.c1", 1000),
         "d.s.c2.g4": ("d.s.c2", 500)}


def tiny_tree() -> AreaTree:
    """District d > street d.s > communities d.s.c1 (3 grids), d.s.c2 (1 grid)."""
    def area(area_id: str, parent: str | None, level: str, population: int, k: int) -> Area:
        return Area(area_id, parent, level, area_id, area_id, population, 1.0, box(k, 0, k + 1, 1))

    areas = [area("d", None, "district", 4500, 0), area("d.s", "d", "street", 4500, 0),
             area("d.s.c1", "d.s", "community", 4000, 0), area("d.s.c2", "d.s", "community", 500, 3)]
    areas += [area(g, c, "grid", pop, k) for k, (g, (c, pop)) in enumerate(GRIDS.items())]
    return AreaTree(areas)
