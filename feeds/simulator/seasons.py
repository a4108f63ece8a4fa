"""Nanjing's year and China's calendar: monthly normals, seasonal factors and public holidays.

Monthly normals are those of Nanjing (Pukou lies across the Yangtze from the city): mean air
temperature, rainfall and rain days (CMA 1991-2020 normals, rounded); the flood season
(汛期) runs June to September, with the plum rains (梅雨) in late June and July. The Yangtze at
Nanjing rises from about 3.5 m in winter to about 6.5 m in July; its warning level is 8.5 m.
A value between two months is interpolated from the mid-month normals, so nothing jumps on the 1st.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np

# Jan..Dec
TEMPERATURE_C = (3.1, 5.6, 10.2, 16.1, 21.5, 25.4, 28.5, 28.0, 23.7, 17.8, 11.2, 5.2)
RAIN_MM = (48, 56, 86, 90, 100, 185, 205, 150, 80, 58, 52, 32)
RAIN_DAYS = (9, 9, 11, 10, 10, 12, 13, 11, 8, 8, 8, 7)
RIVER_M = (3.4, 3.5, 3.9, 4.5, 5.3, 6.0, 6.5, 6.3, 5.7, 5.0, 4.2, 3.6)
FLOOD_SEASON = (6, 7, 8, 9)

# How a metric's typical value moves over the year, as a factor per month (1 where not listed).
SEASONAL: dict[str, tuple[float, ...]] = {
    # Winter inversions and heating: particles and NO2 peak in December and January.
    **dict.fromkeys(("pm25", "pm10", "aqi", "co", "so2"),
                    (1.45, 1.3, 1.1, 0.95, 0.85, 0.75, 0.6, 0.65, 0.8, 1.0, 1.2, 1.45)),
    "no2": (1.25, 1.1, 1.05, 0.95, 0.9, 0.85, 0.8, 0.8, 0.9, 1.0, 1.15, 1.25),
    "o3": (0.6, 0.7, 0.9, 1.1, 1.3, 1.35, 1.25, 1.2, 1.2, 1.0, 0.75, 0.6),
    # Air conditioning in summer, heating in winter.
    "power_load_pct": (1.1, 1.05, 0.95, 0.9, 0.95, 1.1, 1.3, 1.3, 1.1, 0.95, 0.95, 1.05),
    # Fires: dry winters, heaters, fireworks at the Spring Festival.
    **dict.fromkeys(("fire_calls_24h", "fire_alarms_1h", "smoke_alarms_24h", "electrical_fire_alarms_24h"),
                    (1.35, 1.3, 1.1, 0.95, 0.9, 0.85, 0.9, 0.9, 0.85, 0.95, 1.1, 1.3)),
    "straw_fires_24h": (0.5, 0.5, 0.5, 0.5, 2.5, 3.0, 0.5, 0.5, 0.5, 2.5, 3.0, 0.5),  # harvests
    "ili_pct": (1.8, 1.6, 1.1, 0.8, 0.6, 0.5, 0.5, 0.5, 0.6, 0.8, 1.2, 1.6),
    "fever_clinic_24h": (1.6, 1.5, 1.1, 0.9, 0.7, 0.7, 0.7, 0.7, 0.8, 0.9, 1.1, 1.4),
    "dissolved_oxygen": (1.2, 1.2, 1.1, 1.0, 0.95, 0.9, 0.85, 0.85, 0.9, 1.0, 1.1, 1.2),  # colder holds more
}

# Public holidays (the State Council's days off, make-up working days left out), 2025-2027.
HOLIDAYS: tuple[tuple[str, date, date], ...] = (
    ("New Year", date(2025, 1, 1), date(2025, 1, 1)),
    ("Spring Festival", date(2025, 1, 28), date(2025, 2, 4)),
    ("Qingming", date(2025, 4, 4), date(2025, 4, 6)),
    ("Labour Day", date(2025, 5, 1), date(2025, 5, 5)),
    ("Dragon Boat", date(2025, 5, 31), date(2025, 6, 2)),
    ("National Day", date(2025, 10, 1), date(2025, 10, 8)),
    ("New Year", date(2026, 1, 1), date(2026, 1, 3)),
    ("Spring Festival", date(2026, 2, 15), date(2026, 2, 23)),
    ("Qingming", date(2026, 4, 4), date(2026, 4, 6)),
    ("Labour Day", date(2026, 5, 1), date(2026, 5, 5)),
    ("Dragon Boat", date(2026, 6, 19), date(2026, 6, 21)),
    ("Mid-Autumn", date(2026, 9, 25), date(2026, 9, 27)),
    ("National Day", date(2026, 10, 1), date(2026, 10, 7)),
    ("New Year", date(2027, 1, 1), date(2027, 1, 3)),
    ("Spring Festival", date(2027, 2, 5), date(2027, 2, 13)),
    ("Qingming", date(2027, 4, 3), date(2027, 4, 5)),
    ("Labour Day", date(2027, 5, 1), date(2027, 5, 5)),
    ("Dragon Boat", date(2027, 6, 9), date(2027, 6, 11)),
    ("Mid-Autumn", date(2027, 9, 15), date(2027, 9, 17)),
    ("National Day", date(2027, 10, 1), date(2027, 10, 7)),
)


def holiday(day: date) -> str | None:
    """Name of the public holiday ``day`` falls in, or None."""
    return next((name for name, first, last in HOLIDAYS if first <= day <= last), None)


def day_off(local: datetime) -> bool:
    """Whether ``local`` falls on a weekend or a public holiday: the city keeps its rest-day rhythm."""
    return local.weekday() >= 5 or holiday(local.date()) is not None


def monthly(normals: tuple[float, ...], local: datetime) -> float:
    """A monthly normal at ``local``, interpolated between mid-month values."""
    x = local.month - 1 + (local.day - 15.5) / 30.5  # months from mid-January
    return float(np.interp(x, np.arange(-1, 13), np.array([normals[-1], *normals, normals[0]])))


def seasonal(metric: str, local: datetime) -> float:
    """The seasonal factor of ``metric`` at ``local`` (1 for metrics without a season)."""
    factors = SEASONAL.get(metric)
    return 1.0 if factors is None else monthly(factors, local)


def flood_season(local: datetime) -> bool:
    """Whether ``local`` lies in the flood season (June to September)."""
    return local.month in FLOOD_SEASON
