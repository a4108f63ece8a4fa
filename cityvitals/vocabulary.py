"""The fixed words every part shares: the six domains, the six thematic panels, the six states.

They live here, below both the engine and the store, because the store packs records by them.
"""

DOMAINS = (
    "public_service", "public_safety", "social_governance",
    "city_management", "eco_environment", "economic_development",
)
PANELS = (
    "party_building", "public_safety", "public_service",
    "eco_environment", "city_management", "social_governance",
)
# by code, in severity order (see indicators.states.State)
STATE_NAMES = ("not_judged", "insufficient", "normal", "stale", "yellow", "red")
