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

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from cityvitals.yaml_nodes import load_model
from feeds.registry import Adapter, FeedConfig, adapters


class FeedsFile(BaseModel):
    """The whole file; :func:`feeds_model` gives the model whose feeds are the registered types."""

    model_config = ConfigDict(extra="forbid", frozen=True)

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
        simulating = [f.name for f in self.feeds if f.type == "workorders" and f.simulate]
        if simulating and any(f.type == "simulator" for f in self.feeds):
            raise ValueError(f"the simulator already sends the simulated work orders (as <name>-orders); "
                             f"drop simulate: true from {', '.join(simulating)}")
        return self


def feeds_model() -> type[FeedsFile]:
    """The feeds file's model: each entry validated by the model of its ``type``, as registered now."""
    return _model_for(tuple(adapters().values()))


@lru_cache(maxsize=8)
def _model_for(known: tuple[Adapter, ...]) -> type[FeedsFile]:
    entry = Annotated[Union[tuple(a.config for a in known)], Field(discriminator="type")]  # noqa: UP007 (built at run time)
    return create_model("FeedsFile", __base__=FeedsFile, feeds=(tuple[entry, ...], ()))


class FeedsConfigError(Exception):
    """A feeds file that cannot be used; the message lists every problem with file and line."""


def load_feeds(path: Path | None) -> FeedsFile:
    """The feeds file at ``path``; without one, the simulator (with its work orders)."""
    if path is None:
        return feeds_model().model_validate({"feeds": [{"type": "simulator"}]})
    config, errors = load_model(path, feeds_model())
    if errors:
        raise FeedsConfigError("\n".join(errors))
    return config
