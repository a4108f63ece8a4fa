"""Where the simulated city's monitoring stations stand: a station metric exists only in their grids.

River gauges stand on the Yangtze bank (Qiaolin, Jiangpu, Yongning) and on the Chuhe (Yongning);
about a dozen air-quality stations spread over the five streets; one sewage plant per street;
reservoirs in the Laoshan hills. Weather and drainage sensors stand one per community, hospital
figures come from hospitals, hydrocarbon monitors from industrial-park boundaries. Sites are
lon/lat points in the seed district; a tree they do not fall in (a synthetic province) gets the
same density of stations at seeded grids instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cityvitals.areas import AreaTree

PUKOU_GRIDS = 502  # the density of sited stations is kept elsewhere: len(sites) per this many grids


@dataclass(frozen=True)
class Site:
    """One station: a name and where it stands."""

    name: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Network:
    """A kind of station, what it measures and where: sites, one per community, or a category of grid."""

    id: str
    metrics: tuple[str, ...]
    sites: tuple[Site, ...] = ()
    per_community: bool = False
    category: str | None = None


RIVER_GAUGES = (
    Site("长江·桥林", 118.425, 31.937), Site("长江·七坝", 118.515, 31.964),
    Site("长江·浦口码头", 118.605, 32.019), Site("长江·永宁江段", 118.712, 32.094),
    Site("滁河·永宁", 118.660, 32.200), Site("滁河·东葛", 118.720, 32.195), Site("滁河·汤泉", 118.600, 32.170),
)  # fmt: skip
AIR_STATIONS = (
    Site("江浦街道", 118.600, 32.060), Site("浦口区政府", 118.630, 32.040), Site("高新区", 118.570, 32.030),
    Site("浦口新城", 118.660, 32.080), Site("桥林", 118.440, 31.960), Site("桥林新城", 118.480, 31.990),
    Site("石碛", 118.400, 31.950), Site("汤泉", 118.500, 32.120), Site("老山", 118.530, 32.160),
    Site("永宁", 118.680, 32.150), Site("永宁东", 118.730, 32.180), Site("星甸", 118.430, 32.060),
)  # fmt: skip
SEWAGE_PLANTS = (
    Site("江浦污水处理厂", 118.610, 32.025), Site("桥林污水处理厂", 118.460, 31.950),
    Site("汤泉污水处理厂", 118.510, 32.100), Site("永宁污水处理厂", 118.700, 32.110),
    Site("星甸污水处理厂", 118.420, 32.040),
)  # fmt: skip
RESERVOIRS = (Site("三岔水库", 118.530, 32.090), Site("永丰水库", 118.460, 32.090), Site("龙洞山水库", 118.570, 32.170))

NETWORKS: tuple[Network, ...] = (
    Network("river", ("river_level",), RIVER_GAUGES),
    Network("surface_water", ("water_class", "dissolved_oxygen", "ammonia_n", "codmn", "total_phosphorus",
                              "water_ph"), RIVER_GAUGES),
    Network("air", ("pm25", "pm10", "aqi", "o3", "no2", "so2", "co"), AIR_STATIONS),
    Network("radiation", ("radiation_ngyh",), AIR_STATIONS[1:2] + AIR_STATIONS[7:8]),
    Network("sewage", ("sewage_cod_out",), SEWAGE_PLANTS),
    Network("reservoir", ("reservoir_level_pct",), RESERVOIRS),
    Network("weather", ("rainfall_1h", "rainfall_24h", "temperature_c", "wind_ms", "visibility_km"),
            per_community=True),
    Network("drainage", ("waterlogging_cm", "sewer_level_pct"), per_community=True),
    Network("hospital", ("bed_occupancy_pct", "er_wait_min", "outpatient_visits_1h", "fever_clinic_24h",
                         "icu_occupancy_pct", "outpatient_wait_min", "ili_pct"), category="hospital"),
    Network("park_boundary", ("nmhc",), category="industrial_park"),
)


def station_grids(tree: AreaTree, seed: int = 7, networks: tuple[Network, ...] = NETWORKS) -> dict[str, np.ndarray]:
    """Per station metric, the mask of the grids that have such a station (metrics not listed are everywhere)."""
    grids = tree.ids("grid")
    out: dict[str, np.ndarray] = {}
    for net in networks:
        mask = np.zeros(len(grids), dtype=bool)
        mask[_positions(tree, grids, net, np.random.default_rng([seed, *net.id.encode()]))] = True
        out |= dict.fromkeys(net.metrics, mask)
    return out


def _positions(tree: AreaTree, grids: list[str], net: Network, rng: np.random.Generator) -> list[int]:
    """Positions of the grids with a station of ``net``."""
    index = {g: i for i, g in enumerate(grids)}
    if net.category is not None:
        return [i for i, g in enumerate(grids) if tree[g].category == net.category]
    if net.per_community:  # the grid first in each community's list: deterministic, and one per community
        return [index[tree.children(c)[0].id] for c in tree.ids("community") if tree.children(c)]
    found = tree.grid_locator().locate(np.array([s.lon for s in net.sites]), np.array([s.lat for s in net.sites]))
    if all(g is not None for g in found):
        return [index[g] for g in found]
    count = max(1, round(len(net.sites) * len(grids) / PUKOU_GRIDS))
    return rng.choice(len(grids), size=min(count, len(grids)), replace=False).tolist()
