"""The feeds configuration file: which adapters a feed worker runs, each with validated options.

```yaml
feeds:
  - {type: simulator, name: simulator, interval_s: 60}
  - {type: mqtt, name: sensors, host: 10.0.0.5, port: 1883, prefix: city, password_env: MQTT_PASSWORD}
  - {type: workorders, name: workorders, interval_s: 60, deadlines_h: {"12345": 48}}
  - {type: air_quality_api, name: env-bureau, url: "http://10.0.0.7/api/stations", interval_s: 300}
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cityvitals.yaml_nodes import load_model
from feeds.ingest import BUFFER_LIMIT
from feeds.replay.config import ReplayFeedConfig
from feeds.workorders.events import SOURCES


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
    buffer: int = Field(default=BUFFER_LIMIT, ge=1)  # messages held while Redis is away
    username: str | None = None
    password_env: str | None = None  # the password itself never sits in the file

    def password(self) -> str | None:
        """The password from the environment variable the file names."""
        return os.environ.get(self.password_env) if self.password_env else None


class WorkOrdersFeedConfig(Strict):
    """The work-order pipeline: publishes per-grid aggregates of the orders pushed or replayed into it."""

    type: Literal["workorders"]
    name: str = Field(default="workorders", pattern=r"^[a-z][a-z0-9_-]{0,39}$")
    interval_s: float = Field(default=60.0, gt=0)
    replay: Path | None = None  # a CSV or NDJSON file of events read once at start
    simulate: bool = False  # the simulated city's orders without the simulator (which sends them itself)
    seed: int = 7
    deadlines_h: dict[Literal[SOURCES], Annotated[float, Field(gt=0)]] = {}  # overrides, per source


class AirQualityApiFeedConfig(Strict):
    """An air-quality HTTP JSON API polled on a schedule (feeds/polling/air_quality.py)."""

    type: Literal["air_quality_api"]
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,39}$")
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


FeedConfig = Annotated[SimulatorFeedConfig | MqttFeedConfig | ReplayFeedConfig | WorkOrdersFeedConfig
                       | AirQualityApiFeedConfig, Field(discriminator="type")]


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

    @model_validator(mode="after")
    def _orders_simulated_once(self) -> FeedsFile:
        simulating = [f.name for f in self.feeds if isinstance(f, WorkOrdersFeedConfig) and f.simulate]
        if simulating and any(isinstance(f, SimulatorFeedConfig) for f in self.feeds):
            raise ValueError(f"the simulator already sends the simulated work orders (as <name>-orders); "
                             f"drop simulate: true from {', '.join(simulating)}")
        return self


DEFAULT = FeedsFile(feeds=(SimulatorFeedConfig(type="simulator", name="simulator"),))


class FeedsConfigError(Exception):
    """A feeds file that cannot be used; the message lists every problem with file and line."""


def load_feeds(path: Path | None) -> FeedsFile:
    """The feeds file at ``path``; without one, the simulator (with its work orders)."""
    if path is None:
        return DEFAULT
    config, errors = load_model(path, FeedsFile)
    if errors:
        raise FeedsConfigError("\n".join(errors))
    return config
