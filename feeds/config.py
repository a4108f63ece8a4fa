"""The feeds configuration file: which adapters a feed worker runs, each with validated options.

```yaml
feeds:
  - {type: simulator, name: simulator, interval_s: 60}
  - {type: mqtt, name: sensors, host: 10.0.0.5, port: 1883, prefix: city, password_env: MQTT_PASSWORD}
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityvitals.yaml_nodes import load_model
from feeds.replay.config import ReplayFeedConfig


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SimulatorFeedConfig(Strict):
    """The simulated city."""

    type: Literal["simulator"]
    name: str = Field(default="simulator", pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    interval_s: float = Field(default=60.0, gt=0)
    seed: int = 7


class MqttFeedConfig(Strict):
    """An MQTT broker publishing ``<prefix>/<area>/<metric>``."""

    type: Literal["mqtt"]
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    prefix: str = Field(default="city", pattern=r"^[^/#+]+$")
    qos: Literal[0, 1] = 1
    username: str | None = None
    password_env: str | None = None  # the password itself never sits in the file

    def password(self) -> str | None:
        """The password from the environment variable the file names."""
        return os.environ.get(self.password_env) if self.password_env else None


FeedConfig = Annotated[SimulatorFeedConfig | MqttFeedConfig | ReplayFeedConfig, Field(discriminator="type")]


class FeedsFile(Strict):
    """The whole file."""

    feeds: tuple[FeedConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> FeedsFile:
        names = [f.name for f in self.feeds]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"feed names must be unique: {', '.join(dupes)}")
        return self


DEFAULT = FeedsFile(feeds=(SimulatorFeedConfig(type="simulator", name="simulator"),))


class FeedsConfigError(Exception):
    """A feeds file that cannot be used; the message lists every problem with file and line."""


def load_feeds(path: Path | None) -> FeedsFile:
    """The feeds file at ``path``; without one, the simulator alone."""
    if path is None:
        return DEFAULT
    config, errors = load_model(path, FeedsFile)
    if errors:
        raise FeedsConfigError("\n".join(errors))
    return config
