"""The polled APIs' entries in the feeds file."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field

from feeds.registry import NAME_PATTERN, FeedConfig


class AirQualityApiFeedConfig(FeedConfig):
    """An air-quality HTTP JSON API polled on a schedule (feeds/polling/air_quality.py)."""

    type: Literal["air_quality_api"]
    name: str = Field(pattern=NAME_PATTERN)
    url: str = Field(pattern=r"^https?://\S+$")
    interval_s: float = Field(default=300.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, le=10)
    backoff_s: float = Field(default=0.5, ge=0)
    stale_after_s: float | None = Field(default=None, gt=0)  # default: three intervals
    token_env: str | None = None  # sent as a bearer token; the token itself never sits in the file

    def headers(self) -> tuple[tuple[str, str], ...]:
        """Request headers: the bearer token from the environment variable the file names."""
        token = os.environ.get(self.token_env) if self.token_env else None
        return (("Authorization", f"Bearer {token}"),) if token else ()
