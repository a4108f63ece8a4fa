"""How each metric behaves in the simulated city: declared, not coded in if-chains.

One :class:`MetricModel` per metric of the registry (``cityvitals/metrics.yaml``), so the demo
city exercises the whole indicator catalog. Base values are typical values per grid category
(residential, village, commercial, industrial_park, school, hospital; ``"*"`` for the rest);
for ``per_1k`` metrics they are per 1,000 residents of the grid. Special grids (hospitals,
schools, industrial parks) have few residents, so their per-1k bases are higher: the events
there are driven by patients, pupils and workers, not by residents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from feeds.simulator.seasons import day_off

# Hour-of-day shapes (24 values, mean about 1) and the weekend factor of each.
RHYTHMS: dict[str, tuple[np.ndarray, float]] = {
    "flat": (np.ones(24), 1.0),
    "rush": (np.array([.3, .2, .2, .2, .3, .5, .9, 1.7, 2.0, 1.4, 1.0, 1.0,
                       1.1, 1.0, 1.0, 1.1, 1.4, 1.9, 2.0, 1.4, 1.0, .8, .6, .4]), 0.7),
    "day": (np.array([.2, .1, .1, .1, .1, .2, .5, 1.0, 1.5, 1.7, 1.7, 1.5,
                      1.2, 1.4, 1.6, 1.6, 1.5, 1.3, 1.1, 1.0, .9, .7, .5, .3]), 0.8),
    "smog": (np.array([1.2, 1.25, 1.3, 1.3, 1.3, 1.25, 1.2, 1.15, 1.05, .95, .85, .8,
                       .75, .7, .7, .75, .8, .9, 1.0, 1.1, 1.15, 1.2, 1.2, 1.2]), 1.0),
    "work": (np.array([.6, .6, .6, .6, .6, .7, .8, 1.0, 1.2, 1.3, 1.3, 1.3,
                       1.2, 1.3, 1.3, 1.3, 1.2, 1.1, 1.0, .9, .8, .7, .7, .6]), 0.6),
    # Household-driven: calls to 110/120, ER arrivals; peak in the evening.
    "evening": (np.array([.5, .4, .35, .3, .3, .4, .7, 1.0, 1.0, .95, .95, 1.0,
                          1.05, 1.0, 1.0, 1.05, 1.1, 1.3, 1.6, 1.8, 1.7, 1.5, 1.1, .8]), 1.05),
    # Photochemical ozone: low at night, peak in the early afternoon.
    "ozone": (np.array([.55, .5, .5, .45, .45, .45, .5, .6, .75, .95, 1.15, 1.35,
                        1.5, 1.65, 1.7, 1.65, 1.5, 1.3, 1.1, .95, .8, .7, .65, .6]), 1.0),
    # Road speed: the inverse of rush hour.
    "speed": (np.array([1.35, 1.4, 1.4, 1.4, 1.35, 1.25, 1.05, .75, .7, .85, .95, .95,
                        .95, .95, .95, .9, .8, .7, .7, .85, 1.0, 1.1, 1.2, 1.3]), 1.1),
    # Environmental noise in level terms (dB): quieter at night.
    "noise": (np.array([.82, .8, .8, .8, .81, .86, .96, 1.05, 1.1, 1.1, 1.1, 1.1,
                        1.08, 1.08, 1.1, 1.1, 1.1, 1.1, 1.08, 1.05, 1.0, .95, .88, .84]), 0.98),
    # Shopping streets and squares: afternoon and evening crowds, busier at weekends.
    "leisure": (np.array([.3, .2, .15, .1, .1, .1, .2, .4, .6, .8, 1.0, 1.2,
                          1.3, 1.3, 1.3, 1.3, 1.4, 1.6, 1.8, 1.9, 1.8, 1.5, 1.0, .6]), 1.4),
    # Water-main pressure: dips when households draw water in the morning and evening.
    "pressure": (np.array([1.08, 1.1, 1.1, 1.1, 1.08, 1.02, .95, .92, .95, .98, 1.0, 1.0,
                           .98, 1.0, 1.0, 1.0, .98, .94, .92, .93, .96, 1.0, 1.04, 1.06]), 1.0),
    # Electricity load: working day plus the evening household peak.
    "load": (np.array([.75, .7, .68, .66, .66, .7, .82, .95, 1.05, 1.1, 1.12, 1.12,
                       1.08, 1.08, 1.1, 1.1, 1.1, 1.15, 1.25, 1.3, 1.28, 1.2, 1.0, .85]), 0.95),
    # Air temperature: coolest before dawn, warmest mid-afternoon.
    "temp": (np.array([.82, .8, .78, .77, .76, .76, .78, .84, .92, 1.0, 1.08, 1.15,
                       1.2, 1.23, 1.24, 1.22, 1.18, 1.12, 1.05, .99, .94, .9, .87, .84]), 1.0),
    # Kitchens: lunch and dinner.
    "meals": (np.array([.35, .25, .25, .25, .25, .35, .7, .95, .85, .75, 1.2, 2.0,
                        2.1, 1.4, .95, .85, 1.05, 1.65, 2.1, 1.9, 1.4, 1.05, .7, .45]), 1.1),
}


def rhythm_at(rhythm: str, local: datetime, smooth: bool = True) -> float:
    """The rhythm's factor at ``local``: between the hours' values, and on rest days (weekends, holidays) damped."""
    shape, rest = RHYTHMS[rhythm]
    hour = local.hour + (local.minute / 60.0 if smooth else 0.0)
    factor = float(np.interp(hour, np.arange(25), np.append(shape, shape[0])))
    return factor * (rest if day_off(local) else 1.0)


WINDOW_H = {"1h": 1, "24h": 24, "7d": 168, "30d": 720, "90d": 2160}


@dataclass(frozen=True)
class MetricModel:
    """One simulated metric.

    ``base`` is the typical value per grid category (``"*"`` for all others); ``per_1k``
    scales it by the grid's population in thousands (counts of people-driven events);
    ``kind`` is ``gauge`` (a real number with slowly wandering sensor noise), ``count`` (events
    in a rolling window: ``base`` is the window's typical count) or ``share`` (a share ``p`` of the
    metric named in ``of``: the events of a count thinned, rare events among an inventory such as
    entrapments among elevators, or a status such as cameras online, redrawn once an hour).
    A count's window is in its name (``_1h``, ``_24h``, ``_7d``, ``_30d``, ``_90d``); a count
    without one is a state made of events that last ``hold_h`` hours (households without power).
    ``driver`` names what else moves a gauge (the season, the rain: ``feeds/simulator/city.py``).
    """

    metric: str
    base: dict[str, float]
    kind: str = "gauge"
    rhythm: str = "flat"
    noise: float = 0.05
    per_1k: bool = False
    of: str | None = None
    p: float = 1.0
    fixed: bool = False  # an inventory (cameras installed): constant per grid over time
    spread: float = 0.15  # how much grids differ from each other (lognormal sigma)
    extra: dict = field(default_factory=dict)
    hold_h: int = 2
    driver: str | None = None

    @property
    def window_h(self) -> int:
        """Hours of the rolling window this metric counts over."""
        suffix = self.metric.rsplit("_", 1)[-1]
        return WINDOW_H.get(suffix, self.hold_h)

    def wander(self, knot_h: float) -> float:
        """Relative noise of a reading whose noise is drawn afresh every ``knot_h`` hours.

        A gauge that is a total over a window (``garbage_tonnes_24h``, ``volunteer_hours_7d``) averages
        the window's independent stretches, so it wanders by ``noise * sqrt(knot_h / window)``: a day's
        tonnage cannot move 10% in half an hour.
        """
        suffix = self.metric.rsplit("_", 1)[-1]
        if self.kind == "gauge" and suffix in WINDOW_H:
            return self.noise * float(np.sqrt(knot_h / WINDOW_H[suffix]))
        return self.noise

    def typical(self, categories: np.ndarray) -> np.ndarray:
        """Return the base value per grid from its category."""
        default = self.base.get("*", 0.0)
        return np.array([self.base.get(c, default) for c in categories], dtype=float)


# A share's ``of`` metric must come before it.
MODELS: tuple[MetricModel, ...] = (
    # --- Work orders and the 12345 hotline: complaints by kind, together the 12345 share (about 110 a day)
    # of the seed district's ~230 orders a day (feeds/simulator/orders.py)
    MetricModel("hl_property_24h", {"*": 0.045, "commercial": 0.05, "village": 0.015, "industrial_park": 0.01,
        "school": 0.01, "hospital": 0.01},
        kind="count", rhythm="day", per_1k=True),
    MetricModel("hl_noise_24h", {"*": 0.025, "commercial": 0.045, "village": 0.008, "industrial_park": 0.06},
        kind="count", rhythm="day", per_1k=True),
    MetricModel("hl_sanitation_24h", {"*": 0.03, "commercial": 0.05, "village": 0.02}, kind="count", rhythm="day",
        per_1k=True),
    MetricModel("hl_traffic_24h", {"*": 0.025, "commercial": 0.045, "school": 0.08}, kind="count", rhythm="day",
        per_1k=True),
    MetricModel("hl_utilities_24h", {"*": 0.02, "village": 0.015}, kind="count", rhythm="day", per_1k=True),
    MetricModel("hl_consumer_24h", {"*": 0.025, "commercial": 0.06, "village": 0.01}, kind="count", rhythm="day",
        per_1k=True),
    MetricModel("hl_wage_24h", {"*": 0.008, "industrial_park": 0.08, "commercial": 0.015}, kind="count",
        rhythm="day", per_1k=True),
    MetricModel("hl_education_24h", {"*": 0.012, "school": 0.12, "village": 0.008}, kind="count", rhythm="day",
        per_1k=True),
    MetricModel("hl_health_24h", {"*": 0.01, "hospital": 10}, kind="count", rhythm="day", per_1k=True),
    MetricModel("hl_environment_24h", {"*": 0.012, "industrial_park": 0.08, "village": 0.01}, kind="count",
        rhythm="day", per_1k=True),
    MetricModel("hl_social_security_24h", {"*": 0.015, "village": 0.02}, kind="count", rhythm="day", per_1k=True),
    # --- Grid governance, petitions, disputes
    MetricModel("patrol_tasks", {"*": 16, "village": 12, "commercial": 24, "industrial_park": 20},
        kind="count", fixed=True),
    MetricModel("patrol_done", {}, kind="share", of="patrol_tasks", p=0.975),
    MetricModel("grid_staff", {"*": 6, "village": 6, "industrial_park": 6, "school": 5, "hospital": 30},
        kind="count", per_1k=True, fixed=True, spread=0.1),
    MetricModel("grid_staff_on_duty", {}, kind="share", of="grid_staff", p=0.96),
    MetricModel("key_places", {"*": 12, "village": 6, "commercial": 40, "industrial_park": 20, "school": 8,
        "hospital": 10},
        kind="count", fixed=True),
    MetricModel("key_places_checked_7d", {}, kind="share", of="key_places", p=0.97),
    MetricModel("rental_rooms", {"*": 60, "village": 30, "industrial_park": 200, "commercial": 100, "school": 40,
        "hospital": 100},
        kind="count", per_1k=True, fixed=True),
    MetricModel("rental_registered", {}, kind="share", of="rental_rooms", p=0.965),
    MetricModel("floating_pop", {"*": 200, "village": 80, "industrial_park": 700, "commercial": 300, "school": 150,
        "hospital": 300},
        kind="count", per_1k=True, fixed=True),
    MetricModel("floating_registered", {}, kind="share", of="floating_pop", p=0.95),
    # Disputes taken up for mediation per 1,000 residents in 30 days: about 1 (12 a year; China's people's
    # mediation takes up some 9 million disputes a year, 0.5 per 1,000 a month, grid registers record more);
    # more where people work or trade (their workers and customers are not residents).
    MetricModel("disputes_30d", {"*": 1.0, "village": 1.1, "commercial": 1.3, "industrial_park": 2.0, "school": 1.5,
        "hospital": 4.0}, kind="count", per_1k=True, spread=0.12),
    MetricModel("disputes_mediated_30d", {}, kind="share", of="disputes_30d", p=0.965),
    MetricModel("petition_group_24h", {"*": 3e-05}, kind="count"),
    MetricModel("petition_ontime_pct", {"*": 99.3}, noise=0.004, spread=0.003),
    MetricModel("key_persons", {"*": 5, "village": 6, "industrial_park": 5, "school": 8, "hospital": 25},
        kind="count", per_1k=True, fixed=True),
    MetricModel("key_persons_managed", {}, kind="share", of="key_persons", p=0.99),
    # --- Public safety: police, fire, hazardous goods, production safety
    MetricModel("cameras_total", {"*": 40, "village": 15, "school": 60, "hospital": 80}, kind="count", fixed=True),
    MetricModel("cameras_online", {}, kind="share", of="cameras_total", p=0.985),
    MetricModel("police_calls_1h", {"*": 0.04, "commercial": 0.08, "village": 0.03},
        kind="count", rhythm="evening", per_1k=True),
    MetricModel("theft_cases_24h", {"*": 0.006, "commercial": 0.015}, kind="count", per_1k=True),
    MetricModel("fraud_cases_24h", {"*": 0.004}, kind="count", per_1k=True),
    MetricModel("violent_cases_24h", {"*": 6e-05}, kind="count", per_1k=True),
    MetricModel("other_criminal_cases_24h", {"*": 0.002}, kind="count", per_1k=True),
    MetricModel("public_order_cases_24h", {"*": 0.02, "commercial": 0.05}, kind="count", per_1k=True),
    MetricModel("traffic_accidents_24h", {"*": 0.03, "commercial": 0.06, "village": 0.02}, kind="count", per_1k=True),
    MetricModel("fire_alarms_1h", {"*": 0.05, "industrial_park": 0.3, "hospital": 0.15}, kind="count", rhythm="work"),
    MetricModel("fire_calls_24h", {"*": 0.004, "village": 0.006}, kind="count", per_1k=True),
    MetricModel("fire_iot_devices", {"*": 30, "village": 10, "commercial": 120, "industrial_park": 200,
        "hospital": 150, "school": 80},
        kind="count", fixed=True),
    MetricModel("fire_iot_online", {}, kind="share", of="fire_iot_devices", p=0.985),
    MetricModel("hydrants", {"*": 12, "village": 6, "industrial_park": 25, "commercial": 20}, kind="count", fixed=True),
    MetricModel("hydrants_ok", {}, kind="share", of="hydrants", p=0.985),
    MetricModel("fire_lane_alarms_24h", {"*": 0.1, "commercial": 0.3, "village": 0.02}, kind="count"),
    MetricModel("ebike_indoor_alarms_24h", {"*": 0.05, "village": 0.01, "industrial_park": 0.1},
        kind="count", per_1k=True),
    MetricModel("gas_leak_alarms_24h", {"*": 0.01, "commercial": 0.08, "industrial_park": 0.05},
        kind="count", per_1k=True),
    MetricModel("hazmat_vehicles", {"*": 0.5, "village": 0.3, "industrial_park": 8}, kind="count", rhythm="work"),
    MetricModel("hazmat_off_route", {"*": 3e-05, "industrial_park": 0.001}, kind="count"),
    MetricModel("hazmat_violations_24h", {"*": 0.01, "industrial_park": 0.15}, kind="count"),
    MetricModel("hazard_source_alarms_24h", {"*": 0, "industrial_park": 0.1}, kind="count"),
    MetricModel("work_accidents_24h", {"*": 2e-05, "industrial_park": 0.001, "commercial": 0.0001}, kind="count"),
    MetricModel("safety_hazards_30d", {"*": 12, "village": 12, "commercial": 20, "industrial_park": 40, "school": 12,
        "hospital": 12},
        kind="count"),
    MetricModel("safety_hazards_fixed_30d", {}, kind="share", of="safety_hazards_30d", p=0.93),
    MetricModel("construction_alarms_24h", {"*": 0.02, "commercial": 0.08, "industrial_park": 0.08, "village": 0.005},
        kind="count"),
    MetricModel("elevators", {"*": 20, "village": 2, "commercial": 60, "hospital": 40, "school": 10,
        "industrial_park": 8},
        kind="count", fixed=True),
    MetricModel("elevator_entrapments_24h", {}, kind="share", of="elevators", p=0.0008),
    MetricModel("elevator_faults_24h", {}, kind="share", of="elevators", p=0.003),
    MetricModel("food_samples_30d", {"*": 8, "village": 5, "commercial": 25, "school": 12, "hospital": 8,
        "industrial_park": 8},
        kind="count", fixed=True),
    MetricModel("food_samples_passed_30d", {}, kind="share", of="food_samples_30d", p=0.985),
    MetricModel("crowd_density", {"*": 0.15, "commercial": 0.55, "village": 0.05, "school": 0.35, "hospital": 0.5},
        rhythm="leisure", noise=0.1),
    # --- Flood control and geological hazards
    MetricModel("river_level", {"*": 1.0}, noise=0.005, spread=0.03, driver="river"),
    MetricModel("rainfall_1h", {"*": 1.0}, noise=0.0, spread=0.0, driver="rain_1h"),
    MetricModel("rainfall_24h", {"*": 1.0}, noise=0.0, spread=0.0, driver="rain_24h"),
    MetricModel("waterlogging_cm", {"*": 1.0}, noise=0.0, spread=0.3, driver="ponding"),
    MetricModel("reservoir_level_pct", {"*": 80}, noise=0.01, spread=0.03),
    MetricModel("sewer_level_pct", {"*": 26}, noise=0.05, spread=0.18, driver="sewer"),
    MetricModel("geohazard_alarms_24h", {"*": 1e-05, "village": 5e-05}, kind="count"),
    # --- Health, schools, elderly care, employment, government services
    MetricModel("bed_occupancy_pct", {"*": 0, "hospital": 78}, noise=0.03, spread=0.05),
    MetricModel("er_wait_min", {"*": 0, "hospital": 18}, rhythm="evening", noise=0.12, spread=0.1),
    MetricModel("outpatient_visits_1h", {"*": 0, "hospital": 250}, kind="count", rhythm="day"),
    MetricModel("fever_clinic_24h", {"*": 0, "hospital": 40}, kind="count"),
    MetricModel("infectious_reports_24h", {"*": 0.02, "school": 0.05}, kind="count", per_1k=True),
    MetricModel("ambulance_calls_1h", {"*": 0.008, "hospital": 0.05}, kind="count", rhythm="evening", per_1k=True),
    MetricModel("ambulance_response_min", {"*": 11, "village": 16, "commercial": 10, "hospital": 6},
        noise=0.08, spread=0.12),
    MetricModel("students", {"*": 110, "village": 90, "school": 400, "industrial_park": 40, "hospital": 150},
        kind="count", per_1k=True, fixed=True),
    MetricModel("students_present", {}, kind="share", of="students", p=0.975),
    MetricModel("students_sick_absent", {}, kind="share", of="students", p=0.006, hold_h=48),
    MetricModel("elderly_alone", {"*": 18, "village": 35, "industrial_park": 10, "school": 10, "hospital": 60},
        kind="count", per_1k=True, fixed=True),
    MetricModel("elderly_visited_7d", {}, kind="share", of="elderly_alone", p=0.97),
    MetricModel("elder_alarms_24h", {}, kind="share", of="elderly_alone", p=0.006),
    MetricModel("employment_regs_24h", {"*": 0.25, "industrial_park": 3, "commercial": 0.6}, kind="count", per_1k=True),
    MetricModel("job_postings_30d", {"*": 25, "industrial_park": 150, "commercial": 60, "village": 15, "school": 20,
        "hospital": 40},
        kind="count", spread=0.12),
    MetricModel("job_seekers_30d", {"*": 18, "industrial_park": 50, "commercial": 25, "village": 12, "school": 15,
        "hospital": 15},
        kind="count", spread=0.12),
    MetricModel("gov_items_24h", {"*": 12, "village": 10, "commercial": 20, "industrial_park": 15},
        kind="count", spread=0.12),
    MetricModel("gov_items_ontime_24h", {}, kind="share", of="gov_items_24h", p=0.996),
    MetricModel("gov_bad_reviews_24h", {}, kind="share", of="gov_items_24h", p=0.003),
    MetricModel("gov_wait_min", {"*": 6, "commercial": 9}, rhythm="work", noise=0.12, spread=0.2),
    # --- Traffic and public transport
    MetricModel("congestion_index", {"*": 2.6, "village": 1.6, "commercial": 3}, rhythm="rush", noise=0.08,
        driver="wet_roads"),
    MetricModel("road_speed_kmh", {"*": 34, "village": 48, "commercial": 26, "industrial_park": 40},
        rhythm="speed", noise=0.06, spread=0.12, driver="slow_roads"),
    MetricModel("bus_trips_24h", {"*": 180, "village": 50, "commercial": 400, "school": 120, "hospital": 200},
        kind="count"),
    MetricModel("bus_trips_ontime_24h", {}, kind="share", of="bus_trips_24h", p=0.93),
    MetricModel("parking_spaces", {"*": 400, "village": 60, "commercial": 1500, "hospital": 500, "school": 100,
        "industrial_park": 300},
        kind="count", fixed=True),
    MetricModel("parking_occupied", {}, kind="share", of="parking_spaces", p=0.68),
    # --- City appearance, sanitation, digital city management
    MetricModel("streetlights", {"*": 150, "village": 60, "commercial": 250, "industrial_park": 200},
        kind="count", fixed=True),
    MetricModel("streetlights_faulty", {}, kind="share", of="streetlights", p=0.006, hold_h=48),
    MetricModel("manholes", {"*": 250, "village": 60, "commercial": 400}, kind="count", fixed=True),
    MetricModel("manhole_alarms_24h", {}, kind="share", of="manholes", p=0.0002),
    MetricModel("garbage_points", {"*": 30, "village": 15, "commercial": 40}, kind="count", fixed=True),
    MetricModel("garbage_cleared", {}, kind="share", of="garbage_points", p=0.99),
    MetricModel("garbage_tonnes_24h", {"*": 1, "village": 0.75, "commercial": 1.6, "industrial_park": 1.3,
        "hospital": 4, "school": 1.2},
        noise=0.08, per_1k=True),
    MetricModel("garbage_sorting_pct", {"*": 88, "village": 84}, noise=0.02, spread=0.04),
    MetricModel("street_vending_24h", {"*": 0.2, "commercial": 1.2, "village": 0.1}, kind="count", per_1k=True),
    MetricModel("illegal_parking_24h", {"*": 0.4, "commercial": 1.2, "village": 0.1, "hospital": 3},
        kind="count", per_1k=True),
    MetricModel("muck_truck_alarms_24h", {"*": 0.03, "industrial_park": 0.2, "commercial": 0.08}, kind="count"),
    MetricModel("site_dust_pm10", {"*": 62, "village": 55, "industrial_park": 70},
        rhythm="work", noise=0.1, spread=0.12),
    # --- Utilities: water, power, gas
    MetricModel("water_pressure_mpa", {"*": 0.32}, rhythm="pressure", noise=0.03, spread=0.08),
    MetricModel("water_outage_households", {"*": 0.01}, kind="count", per_1k=True),
    MetricModel("water_chlorine_mgl", {"*": 0.35}),
    MetricModel("water_turbidity_ntu", {"*": 0.25}, noise=0.1, spread=0.2),
    MetricModel("pipe_bursts_24h", {"*": 3e-05}, kind="count"),
    MetricModel("power_outage_households", {"*": 0.01}, kind="count", per_1k=True),
    MetricModel("power_load_pct", {"*": 40, "commercial": 46, "industrial_park": 50},
        rhythm="load", noise=0.04, spread=0.1),
    MetricModel("feeder_trips_24h", {"*": 5e-05}, kind="count"),
    MetricModel("gas_pressure_kpa", {"*": 2.3}, noise=0.03, spread=0.05),
    MetricModel("gas_outage_households", {"*": 0.003}, kind="count", per_1k=True),
    # --- Air
    MetricModel("pm25", {"*": 35, "industrial_park": 48}, rhythm="smog", noise=0.08),
    MetricModel("aqi", {"*": 60, "industrial_park": 70}, rhythm="smog", noise=0.06),
    MetricModel("pm10", {"*": 60, "industrial_park": 78}, rhythm="smog", noise=0.08),
    MetricModel("o3", {"*": 80}, rhythm="ozone", noise=0.08, spread=0.1),
    MetricModel("no2", {"*": 26, "commercial": 34, "village": 16, "industrial_park": 36}, rhythm="rush", noise=0.1),
    MetricModel("so2", {"*": 7, "industrial_park": 14}, noise=0.1),
    MetricModel("co", {"*": 0.7}, rhythm="smog", noise=0.08),
    MetricModel("nmhc", {"*": 0.6, "industrial_park": 1.2}, noise=0.12),
    MetricModel("dustfall", {"*": 3.2, "industrial_park": 4.5}, noise=0.005),  # a 30-day deposit barely moves in a day
    MetricModel("straw_fires_24h", {"*": 0, "village": 5e-05}, kind="count"),
    # --- Water and noise
    MetricModel("water_class", {"*": 2.9, "industrial_park": 3.1}, noise=0.02, spread=0.07),
    MetricModel("dissolved_oxygen", {"*": 8}, noise=0.04, spread=0.07),
    MetricModel("ammonia_n", {"*": 0.42, "industrial_park": 0.5}, noise=0.08),
    MetricModel("codmn", {"*": 3.6}, spread=0.12),
    MetricModel("total_phosphorus", {"*": 0.1}, noise=0.08),
    MetricModel("sewage_cod_out", {"*": 20, "industrial_park": 26}, noise=0.08),
    MetricModel("polluter_exceedances_24h", {"*": 0, "industrial_park": 0.003}, kind="count"),
    MetricModel("noise_db", {"*": 51, "commercial": 56, "industrial_park": 57, "village": 45, "hospital": 50,
        "school": 50},
        rhythm="noise", noise=0.03, spread=0.05),
    MetricModel("noise_day_db", {"*": 53, "commercial": 57, "industrial_park": 58, "village": 47, "hospital": 50,
        "school": 51},
        noise=0.02, spread=0.04),
    MetricModel("noise_night_db", {"*": 43, "commercial": 47, "industrial_park": 50, "village": 38, "hospital": 41,
        "school": 40},
        noise=0.02, spread=0.04),
    MetricModel("radiation_ngyh", {"*": 85}, noise=0.03, spread=0.08),
    # --- Economy (daily statistics)
    MetricModel("industrial_power_yoy_pct", {"*": 4, "industrial_park": 6}, noise=0.0, spread=0.5, extra={"sd": 2.0}),
    MetricModel("market_entities", {"*": 200, "village": 120, "commercial": 500, "industrial_park": 600,
        "school": 60, "hospital": 200},
        kind="count", per_1k=True, fixed=True),
    MetricModel("enterprise_openings_30d", {"*": 2.5, "village": 1.5, "commercial": 7, "industrial_park": 8,
        "school": 1, "hospital": 3},
        kind="count", per_1k=True),
    MetricModel("enterprise_closures_30d", {"*": 1, "village": 0.6, "commercial": 3, "industrial_park": 3,
        "school": 0.4, "hospital": 1},
        kind="count", per_1k=True),
    MetricModel("tax_yoy_pct", {"*": 4}, noise=0.0, spread=0.4, extra={"sd": 2.0}),
    MetricModel("retail_index", {"*": 104.5, "commercial": 106}, noise=0.01, spread=0.02),
    MetricModel("invoice_yoy_pct", {"*": 5, "industrial_park": 6.5}, noise=0.0, spread=0.4, extra={"sd": 2.0}),
    MetricModel("output_yoy_pct", {"*": 5.5, "industrial_park": 7}, noise=0.0, spread=0.4, extra={"sd": 2.0}),
    MetricModel("fai_yoy_pct", {"*": 4.5}, noise=0.0, spread=0.4, extra={"sd": 2.5}),
    MetricModel("unemployment_pct", {"*": 4.8, "village": 4.6}, noise=0.01, spread=0.05),
    MetricModel("firms_operating_pct", {"*": 97, "industrial_park": 96}, noise=0.005, spread=0.01),
    MetricModel("cpi_yoy_pct", {"*": 0.8}, noise=0.0, spread=0.05, extra={"sd": 0.25}),
    MetricModel("veg_price_index", {"*": 102}, noise=0.01, spread=0.015),
    MetricModel("hotel_occupancy_pct", {"*": 62, "commercial": 70, "village": 58}, noise=0.03, spread=0.08),
    MetricModel("foot_traffic_1h", {"*": 150, "commercial": 3000, "village": 40, "hospital": 400, "school": 60,
        "industrial_park": 80},
        kind="count", rhythm="leisure"),
    # --- Party building and volunteering
    MetricModel("party_members", {"*": 65, "village": 80, "school": 250, "hospital": 400, "industrial_park": 90},
        kind="count", per_1k=True, fixed=True),
    MetricModel("party_members_injob", {"*": 30, "village": 20, "school": 120, "hospital": 200, "industrial_park": 50},
        kind="count", per_1k=True, fixed=True),
    MetricModel("party_injob_reported", {}, kind="share", of="party_members_injob", p=0.93),
    MetricModel("party_sessions_planned", {"*": 18, "village": 15, "industrial_park": 12, "school": 15, "hospital": 15},
        kind="count", fixed=True),
    MetricModel("party_sessions_held", {}, kind="share", of="party_sessions_planned", p=0.97),
    MetricModel("party_dues_paid", {}, kind="share", of="party_members", p=0.985),
    MetricModel("party_study_active", {}, kind="share", of="party_members", p=0.9),
    MetricModel("party_volunteering_30d", {}, kind="share", of="party_members", p=0.72),
    MetricModel("party_service_hours_7d", {"*": 100, "village": 110, "school": 375, "hospital": 600,
        "industrial_park": 135},
        noise=0.1, per_1k=True),
    MetricModel("volunteers", {"*": 120, "village": 90, "school": 400, "hospital": 300, "industrial_park": 80},
        kind="count", per_1k=True, fixed=True),
    MetricModel("volunteers_active_30d", {}, kind="share", of="volunteers", p=0.38),
    MetricModel("volunteer_hours_7d", {"*": 170, "village": 160, "school": 625, "hospital": 800,
        "industrial_park": 180},
        noise=0.1, per_1k=True),
    MetricModel("volunteer_activities_7d", {"*": 1.2, "village": 0.9, "school": 4, "hospital": 4, "industrial_park": 1},
        kind="count", per_1k=True),
    MetricModel("party_centre_visits_24h", {"*": 6, "village": 5, "commercial": 8, "hospital": 10, "school": 8,
        "industrial_park": 6},
        kind="count", per_1k=True),
    MetricModel("compounds", {"*": 4, "village": 2, "commercial": 3, "industrial_park": 2, "school": 2, "hospital": 2},
        kind="count", fixed=True, spread=0.2),
    MetricModel("compounds_red_property", {}, kind="share", of="compounds", p=0.92),
    MetricModel("councils_30d", {"*": 0.8, "village": 1, "school": 2, "hospital": 4, "industrial_park": 1.5},
        kind="count", per_1k=True),
    MetricModel("household_contacts_30d", {"*": 200, "village": 230, "school": 500, "hospital": 800,
        "industrial_park": 180},
        kind="count", per_1k=True),
    MetricModel("micro_wishes_90d", {"*": 10, "village": 12, "school": 12, "hospital": 12, "industrial_park": 12},
        kind="count", spread=0.12),
    MetricModel("micro_wishes_claimed_90d", {}, kind="share", of="micro_wishes_90d", p=0.92),
    # --- Households, grid visits, dispute types, party-led work
    MetricModel("households", {"*": 380, "village": 330, "industrial_park": 250, "school": 200, "hospital": 300},
        kind="count", per_1k=True, fixed=True, spread=0.05),
    MetricModel("grid_visits_7d", {"*": 150, "village": 140, "industrial_park": 90, "school": 80, "hospital": 120},
        kind="count", per_1k=True),
    MetricModel("disputes_neighbour_30d", {}, kind="share", of="disputes_30d", p=0.35),
    MetricModel("disputes_family_30d", {}, kind="share", of="disputes_30d", p=0.25),
    MetricModel("disputes_property_30d", {}, kind="share", of="disputes_30d", p=0.18),
    MetricModel("disputes_labour_30d", {}, kind="share", of="disputes_30d", p=0.1),
    MetricModel("orders_party_claimed_7d", {"*": 6, "hospital": 60, "school": 9, "industrial_park": 9}, kind="count",
        per_1k=True),
    MetricModel("new_orgs", {"*": 6, "village": 3, "commercial": 30, "industrial_park": 40, "school": 3, "hospital": 4},
        kind="count", fixed=True),
    MetricModel("new_orgs_party", {}, kind="share", of="new_orgs", p=0.86),
    MetricModel("small_venues", {"*": 25, "village": 12, "commercial": 80, "industrial_park": 30, "school": 6,
        "hospital": 10},
        kind="count", fixed=True),
    MetricModel("small_venues_inspected_30d", {}, kind="share", of="small_venues", p=0.93),
    MetricModel("gas_inspected_90d", {}, kind="share", of="households", p=0.9),
    # --- Weather and AI video alerts
    MetricModel("temperature_c", {"*": 0, "commercial": 1}, noise=0.0, spread=0.0, extra={"sd": 0.4},
        driver="temperature"),
    MetricModel("wind_ms", {"*": 3, "village": 3.4}, noise=0.2),
    MetricModel("visibility_km", {"*": 12}, noise=0.1),
    MetricModel("ai_smoke_alerts_24h", {"*": 0.01, "village": 0.03, "industrial_park": 0.05}, kind="count"),
    MetricModel("ai_crowd_alerts_1h", {"*": 0.002, "commercial": 0.03, "school": 0.01, "hospital": 0.01},
        kind="count", rhythm="leisure"),
    MetricModel("ai_throw_alerts_24h", {"*": 0.004, "village": 0, "commercial": 0.006}, kind="count", per_1k=True),
    MetricModel("electrical_fire_alarms_24h", {"*": 0.03, "commercial": 0.2, "industrial_park": 0.3, "village": 0.01,
        "hospital": 0.1},
        kind="count"),
    MetricModel("smoke_alarms_24h", {"*": 0.03, "village": 0.05, "commercial": 0.05}, kind="count", per_1k=True),
    # --- Hospitals (more)
    MetricModel("icu_occupancy_pct", {"*": 0, "hospital": 66}, spread=0.06),
    MetricModel("outpatient_wait_min", {"*": 0, "hospital": 28}, rhythm="work", noise=0.1, spread=0.1),
    MetricModel("ili_pct", {"*": 0, "hospital": 3}, noise=0.02, spread=0.1),  # a sentinel's daily report
    MetricModel("fever_drug_sales_24h", {"*": 3, "village": 2, "commercial": 6, "hospital": 30},
        kind="count", per_1k=True),
    # --- Digital city-management cases by type
    MetricModel("exposed_garbage_24h", {"*": 0.2, "village": 0.3, "commercial": 0.4}, kind="count", per_1k=True),
    MetricModel("illegal_ads_24h", {"*": 0.15, "commercial": 0.4, "village": 0.05}, kind="count", per_1k=True),
    MetricModel("road_damage_24h", {"*": 0.06, "village": 0.08, "industrial_park": 0.3}, kind="count", per_1k=True),
    MetricModel("bike_disorder_24h", {"*": 0.15, "commercial": 0.8, "village": 0.01, "school": 0.4},
        kind="count", per_1k=True),
    MetricModel("greenery_damage_24h", {"*": 0.05, "village": 0.02}, kind="count", per_1k=True),
    MetricModel("citymgmt_found_7d", {"*": 9, "commercial": 18.75, "village": 7.5, "industrial_park": 11.25},
        kind="count", spread=0.12),
    MetricModel("cooking_fume_mgm3", {"*": 0.42, "commercial": 0.5, "village": 0.3, "industrial_park": 0.35},
        rhythm="meals", noise=0.1, spread=0.12),
    # --- Service quality and infrastructure (more)
    MetricModel("gov_items_online_24h", {}, kind="share", of="gov_items_24h", p=0.86),
    MetricModel("hypertension_patients", {"*": 120, "village": 150, "industrial_park": 40, "school": 30,
        "hospital": 100},
        kind="count", per_1k=True, fixed=True),
    MetricModel("hypertension_followed_90d", {}, kind="share", of="hypertension_patients", p=0.9),
    MetricModel("traffic_signals", {"*": 6, "village": 2, "commercial": 16, "industrial_park": 8, "school": 6,
        "hospital": 6},
        kind="count", fixed=True),
    MetricModel("traffic_signals_faulty", {}, kind="share", of="traffic_signals", p=0.008, hold_h=12),
    MetricModel("kitchen_waste_tonnes_24h", {"*": 0.25, "village": 0.19, "commercial": 0.42, "industrial_park": 0.33,
        "hospital": 1, "school": 0.3},
        noise=0.1, per_1k=True),
    MetricModel("illegal_construction_24h", {"*": 0.01, "village": 0.02, "industrial_park": 0.03},
        kind="count", per_1k=True),
    MetricModel("water_ph", {"*": 7.5}, noise=0.01, spread=0.03),
    MetricModel("ambulance_idle_pct", {"*": 45}, rhythm="speed", spread=0.05),
    MetricModel("blood_stock_days", {"*": 8}, noise=0.01, spread=0.01),
)
