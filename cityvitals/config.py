"""Settings from environment variables, with embedded defaults for a one-command start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOG = REPO_ROOT / "indicators" / "catalog"
DEFAULT_ROUTING = Path(__file__).resolve().parent / "routing.yaml"


class ConfigError(Exception):
    """A setting is wrong or a configured server cannot be reached; the message says which."""


@dataclass(frozen=True)
class Settings:
    """Where the live store, the history database and the catalog are."""

    data_dir: Path
    redis_url: str | None  # None: start the embedded Redis server in data_dir
    database_url: str
    catalog_path: Path
    tick_seconds: float
    stale_check: bool = True
    anonymous_role: str = "viewer"  # what a visitor who has not logged in may do: viewer or none
    history_days: float = 7.0  # how long the one-minute indicator history is kept in SQL
    engine_name: str | None = None  # the engine's consumer name in the stream group (default: engine-<host>)
    session_idle_s: float = 30 * 60  # a login ends after this long without a request
    session_max_s: float = 12 * 3600  # and after this long whatever happens (a shift)
    trusted_proxies: int = 0  # reverse proxies in front of the web server whose X-Forwarded-* headers count
    frame_ancestors: str = "'self'"  # who may show the wall in a frame (CSP frame-ancestors sources)
    metrics_token: str | None = None  # a bearer token that may read /metrics when visitors may not
    archive_dir: Path | None = None  # the sample archive's Parquet files (default: <data_dir>/archive)
    archive_days: float = 90.0  # how long archived samples are kept (whole days past it are deleted)
    routing_path: Path = DEFAULT_ROUTING  # who answers for a dispatched task (cityvitals/dispatch/routing.py)
    closure_target: float = 99.87  # the dispatch panel's closure-rate target, in percent
    webhook_url: str | None = None  # where task events are POSTed (cityvitals/dispatch/webhook.py); None: nowhere
    webhook_secret: str | None = None  # the HMAC-SHA256 key that signs them
    value_step_s: float = 300.0  # how often every indicator's value at every level goes to the value archive
    timezone: str = "Asia/Shanghai"  # the city's zone: schedules, days, and every time the dashboard shows

    @property
    def archive_path(self) -> Path:
        """Where the sample archive is."""
        return self.archive_dir or self.data_dir / "archive"

    @property
    def embedded_redis(self) -> bool:
        """Whether the embedded Redis server is used."""
        return self.redis_url is None


def load_settings(data_dir: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read CITYVITALS_* / REDIS_URL / DATABASE_URL; a missing URL means the embedded default."""
    env = os.environ if env is None else env
    root = Path(data_dir or env.get("CITYVITALS_DATA_DIR") or REPO_ROOT / "data").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{root / 'cityvitals.sqlite'}"
    tick_seconds = _positive(env, "CITYVITALS_TICK_SECONDS", "5", "a number of seconds")
    anonymous_role = env.get("CITYVITALS_ANONYMOUS_ROLE", "viewer")
    if anonymous_role not in ("viewer", "none"):
        raise ConfigError(f"CITYVITALS_ANONYMOUS_ROLE must be viewer or none, got {anonymous_role!r}")
    history_days = _positive(env, "CITYVITALS_HISTORY_DAYS", "7", "a number of days")
    proxies = env.get("CITYVITALS_TRUSTED_PROXIES", "0")
    if not proxies.isdigit():
        raise ConfigError(f"CITYVITALS_TRUSTED_PROXIES must be a whole number of proxies, got {proxies!r}")
    return Settings(
        data_dir=root,
        redis_url=env.get("REDIS_URL") or None,
        database_url=database_url,
        catalog_path=Path(env.get("CITYVITALS_CATALOG") or DEFAULT_CATALOG),
        tick_seconds=tick_seconds,
        anonymous_role=anonymous_role,
        history_days=history_days,
        engine_name=env.get("CITYVITALS_ENGINE_NAME") or None,
        session_idle_s=60 * _positive(env, "CITYVITALS_SESSION_IDLE_MINUTES", "30", "a number of minutes"),
        session_max_s=3600 * _positive(env, "CITYVITALS_SESSION_MAX_HOURS", "12", "a number of hours"),
        trusted_proxies=int(proxies),
        frame_ancestors=_frame_ancestors(env.get("CITYVITALS_FRAME_ANCESTORS", "'self'")),
        metrics_token=env.get("CITYVITALS_METRICS_TOKEN") or None,
        archive_dir=Path(env["CITYVITALS_ARCHIVE_DIR"]).resolve() if env.get("CITYVITALS_ARCHIVE_DIR") else None,
        archive_days=_positive(env, "CITYVITALS_ARCHIVE_DAYS", "90", "a number of days"),
        routing_path=Path(env.get("CITYVITALS_ROUTING") or DEFAULT_ROUTING),
        closure_target=_percent(env, "CITYVITALS_CLOSURE_TARGET", "99.87"),
        **_webhook(env),
        value_step_s=_positive(env, "CITYVITALS_VALUE_STEP_SECONDS", "300", "a number of seconds"),
        timezone=_zone(env.get("CITYVITALS_TIMEZONE") or "Asia/Shanghai"),
    )


def _zone(name: str) -> str:
    """An IANA time zone name, or a ConfigError saying what was given."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CITYVITALS_TIMEZONE must be an IANA time zone such as Asia/Shanghai, "
                          f"got {name!r}") from None
    return name


def _frame_ancestors(raw: str) -> str:
    """CSP frame-ancestors sources ('self', 'none', origins); anything that could end the header is refused."""
    sources = raw.split()
    if not sources or any(c in raw for c in ";,\r\n\"") or any(
            s not in ("'self'", "'none'") and not s.startswith(("https://", "http://")) for s in sources):
        raise ConfigError(f"CITYVITALS_FRAME_ANCESTORS must be 'self', 'none' or origins like "
                          f"https://wall.example, separated by spaces; got {raw!r}")
    return " ".join(sources)


def _webhook(env: dict[str, str]) -> dict[str, str | None]:
    """The task webhook's URL and secret; a ConfigError if one comes without the other or the URL is not HTTP."""
    url, secret = env.get("CITYVITALS_WEBHOOK_URL") or None, env.get("CITYVITALS_WEBHOOK_SECRET") or None
    if bool(url) != bool(secret):
        raise ConfigError("CITYVITALS_WEBHOOK_URL and CITYVITALS_WEBHOOK_SECRET go together: set both or neither")
    if url and not url.startswith(("https://", "http://")):
        raise ConfigError(f"CITYVITALS_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    return {"webhook_url": url, "webhook_secret": secret}


def _percent(env: dict[str, str], name: str, default: str) -> float:
    """A percentage above 0 and at most 100 from the environment, or a ConfigError naming the variable."""
    value = _positive(env, name, default, "a percentage")
    if value > 100:
        raise ConfigError(f"{name} must be at most 100 (a percentage), got {env.get(name)!r}")
    return value


def _positive(env: dict[str, str], name: str, default: str, what: str) -> float:
    """A positive number from the environment, or a ConfigError naming the variable."""
    raw = env.get(name, default)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {what}, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value
