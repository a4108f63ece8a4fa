"""Every component id of the dashboard, in one place."""

INTERVAL = "refresh"
AREA_STORE = "area-store"
MAP = "area-map"
HEALTH = "health-index"
HEADER_STATUS = "header-status"
CLOCK = "clock"
TICKER = "warning-ticker"
FEEDS = "feed-health"


def tile(domain: str) -> dict:
    """Pattern-matching id of one domain tile."""
    return {"type": "domain-tile", "domain": domain}
