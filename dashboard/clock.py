"""The city's clock: every time a screen shows is in the city's zone, whatever the server's or the browser's.

The zone is the engine's (``CITYVITALS_TIMEZONE``, default Asia/Shanghai), so a warning's "since" on the
ticker, its row in the warnings log, its task's due time and a chart's axis all say the same hour.
Plotly draws a date axis in the wall time it is given, so charts get times shifted into the zone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from dashboard import context


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone() -> ZoneInfo:
    """The city's time zone."""
    return _zone(context.get().timezone)


def seconds(when: datetime) -> float:
    """A datetime from SQL (SQLite gives UTC back without its zone) as Unix seconds."""
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def local(when: float | datetime) -> datetime:
    """Unix seconds, or a datetime from SQL, as an aware datetime in the city's zone."""
    return datetime.fromtimestamp(seconds(when) if isinstance(when, datetime) else when, zone())


def shown(when: float | datetime, fmt: str = "%m-%d %H:%M:%S") -> str:
    """A time as the city's clock reads it."""
    return local(when).strftime(fmt)


def offset_s(ts: float) -> float:
    """How many seconds the city's clock is ahead of UTC at ``ts``."""
    offset = local(ts).utcoffset()
    return offset.total_seconds() if offset else 0.0


def axis_ms(ts: float) -> float:
    """Unix seconds as the milliseconds plotly draws as the city's wall time (``x0``, a range end)."""
    return (ts + offset_s(ts)) * 1000


def parse(text: str) -> float:
    """A date or date and time written without a zone (``2026-11-30``, ``2026-11-30T08:00``) in the city's zone."""
    when = datetime.fromisoformat(text)
    return (when if when.tzinfo else when.replace(tzinfo=zone())).timestamp()


def midnight(ts: float) -> float:
    """The start of the city's day that holds ``ts``."""
    return local(ts).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
