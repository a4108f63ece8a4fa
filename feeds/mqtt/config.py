"""An MQTT feed's entry in the feeds file."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field

from feeds.ingest import BUFFER_LIMIT
from feeds.registry import NAME_PATTERN, FeedConfig


class MqttFeedConfig(FeedConfig):
    """An MQTT broker publishing ``<prefix>/<area>/<metric>``."""

    type: Literal["mqtt"]
    name: str = Field(pattern=NAME_PATTERN)
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    prefix: str = Field(default="city", pattern=r"^[^/#+]+$")
    qos: Literal[0, 1] = 1
    buffer: int = Field(default=BUFFER_LIMIT, ge=1)  # messages held while Redis is away
    username: str | None = None
    password_env: str | None = None  # the password itself never sits in the file

    def password(self) -> str | None:
        """The password from the environment variable the file names."""
        return os.environ.get(self.password_env) if self.password_env else None
