"""Adapters found by type: a new one is read from the feeds file and started without touching the worker."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Literal

import pytest
from pydantic import Field

from feeds import registry
from feeds.config import FeedsConfigError, load_feeds
from feeds.registry import Adapter, FeedConfig, register
from feeds.worker import run_until_stopped, start_feeds


class EchoFeedConfig(FeedConfig):
    """A made-up adapter's entry."""

    type: Literal["echo"]
    name: str = "echo"
    value: float = Field(gt=0)


class MqttAgainConfig(FeedConfig):
    """A second claim on a built-in type."""

    type: Literal["mqtt"]


class EchoFeed:
    started: list[EchoFeed] = []

    def __init__(self, host, cfg, scheduler) -> None:
        self.host, self.cfg, self.scheduler = host, cfg, scheduler
        self.stopped = False
        EchoFeed.started.append(self)

    def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTERED", {})  # forgotten after the test
    monkeypatch.setattr(EchoFeed, "started", [])
    return register(Adapter(EchoFeedConfig, EchoFeed))


def test_the_built_in_types_are_registered_in_the_order_errors_list_them():
    assert list(registry.adapters()) == ["simulator", "mqtt", "replay", "workorders", "air_quality_api"]


def test_a_registered_type_is_validated_with_its_line_and_started_by_the_worker(echo, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("feeds:\n  - {type: simulator}\n  - {type: echo, value: -1}\n", encoding="utf-8")
    with pytest.raises(FeedsConfigError) as exc:
        load_feeds(bad)
    assert f"{bad}:3:" in str(exc.value) and "value" in str(exc.value) and "greater than 0" in str(exc.value)
    good = tmp_path / "good.yaml"
    good.write_text("feeds:\n  - {type: echo, name: first, value: 2}\n  - {type: echo, name: second, value: 3}\n",
                    encoding="utf-8")
    config = load_feeds(good)
    assert config.feeds == (EchoFeedConfig(type="echo", name="first", value=2),
                            EchoFeedConfig(type="echo", name="second", value=3))
    host, scheduler = SimpleNamespace(client=None, tree=None), object()
    (started,) = start_feeds(host, config, ["second"], scheduler)
    assert (started.host, started.cfg.value, started.scheduler) == (host, 3, scheduler)


def test_the_worker_stops_what_it_started(echo, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - {type: echo, value: 2}\n", encoding="utf-8")
    run_until_stopped(SimpleNamespace(client=None, tree=None), load_feeds(path), [], wait=lambda: None)
    assert [(f.cfg.name, f.stopped) for f in EchoFeed.started] == [("echo", True)]


def test_an_unregistered_type_is_refused_with_the_known_ones(tmp_path):
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - {type: echo, value: 2}\n", encoding="utf-8")
    with pytest.raises(FeedsConfigError) as exc:
        load_feeds(bad)
    assert f"{bad}:2:" in str(exc.value) and "'echo'" in str(exc.value) and "'air_quality_api'" in str(exc.value)


def test_a_type_is_registered_once(echo):
    with pytest.raises(ValueError, match="'echo' is registered already"):
        register(Adapter(EchoFeedConfig, EchoFeed))
    with pytest.raises(ValueError, match="'mqtt' is registered already"):
        register(Adapter(MqttAgainConfig, EchoFeed))
