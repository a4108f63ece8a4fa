"""Settings from environment variables, with embedded defaults for a one-command start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CATALOG = REPO_ROOT / "indicators" / "catalog"


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

    @property
    def embedded_redis(self) -> bool:
        """Whether the embedded Redis server is used."""
        return self.redis_url is None


def load_settings(data_dir: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read CITYVITALS_* / REDIS_URL / DATABASE_URL; a missing URL means the embedded default."""
    env = os.environ if env is None else env
    root = Path(data_dir or env.get("CITYVITALS_DATA_DIR") or REPO_ROOT / "data").resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{root / 'cityvitals.sqlite'}"
    tick = env.get("CITYVITALS_TICK_SECONDS", "5")
    try:
        tick_seconds = float(tick)
    except ValueError:
        raise ConfigError(f"CITYVITALS_TICK_SECONDS must be a number of seconds, got {tick!r}") from None
    if tick_seconds <= 0:
        raise ConfigError(f"CITYVITALS_TICK_SECONDS must be positive, got {tick!r}")
    anonymous_role = env.get("CITYVITALS_ANONYMOUS_ROLE", "viewer")
    if anonymous_role not in ("viewer", "none"):
        raise ConfigError(f"CITYVITALS_ANONYMOUS_ROLE must be viewer or none, got {anonymous_role!r}")
    return Settings(
        data_dir=root,
        redis_url=env.get("REDIS_URL") or None,
        database_url=database_url,
        catalog_path=Path(env.get("CITYVITALS_CATALOG") or DEFAULT_CATALOG),
        tick_seconds=tick_seconds,
        anonymous_role=anonymous_role,
    )
