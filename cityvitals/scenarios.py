"""The incidents an operator can ask the simulated city to play: what they are called, where and how long.

The admin page and ``cityvitals simulate`` offer these and put requests in Redis (``store.start_scenario``);
the simulator (``feeds/simulator/scenarios.py``) says what each one does to the city's metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_MINUTES = 24 * 60  # the longest run either door accepts


@dataclass(frozen=True)
class ScenarioKind:
    """A named incident: the level of area it strikes by default and its usual length."""

    id: str
    name_zh: str
    name_en: str
    level: str = "street"
    minutes: float = 60.0


KINDS: dict[str, ScenarioKind] = {k.id: k for k in (
    ScenarioKind("flood", "河道洪水", "River flood"),
    ScenarioKind("pollution", "重污染天气", "Heavy pollution episode", level="district", minutes=240),
    ScenarioKind("large_event", "大型活动", "Large event", minutes=180),
    ScenarioKind("power_outage", "大面积停电", "Power outage", minutes=90),
    ScenarioKind("hotline_surge", "12345诉求激增", "Hotline surge", level="district", minutes=120),
    ScenarioKind("building_fire", "高层建筑火灾", "Building fire", level="grid", minutes=90),
    ScenarioKind("gas_leak", "燃气泄漏", "Gas leak", level="grid", minutes=120),
    ScenarioKind("water_main_burst", "供水主管爆管", "Burst water main", level="community", minutes=180),
    ScenarioKind("elevator_entrapments", "电梯困人集中发生", "Cluster of elevator entrapments", level="grid",
                 minutes=120),
    ScenarioKind("complaint_burst", "同一点位投诉激增", "Burst of complaints about one site", level="grid",
                 minutes=180),
)}
