"""Two `cityvitals feeds run` processes on one feeds file, against the real Redis and Mosquitto: a replay
and an MQTT feed deliver every sample once, and when the worker leading one is SIGKILLed (or stalls:
SIGSTOP, then SIGCONT once the other took over), the other carries on where it stopped."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pandas as pd
import pytest

from cityvitals import store
from feeds.replay.reader import file_identity
from tests.feeds.conftest import forget_session, start_worker, stop_worker

T0 = time.time() - 86_400  # the samples' times: a day ago, one second apart (the row or message number)
GRIDS = [f"pukou.jiangpu.c01.g{k:02d}" for k in range(1, 11)]
BOUND_S = 180  # generous: two workers start (seconds of CPU each) on a machine other suites load


def _writers(client, feed: str) -> list[int]:
    """Pids of the processes that wrote the feed's stream entries, in the order they first did."""
    pids: list[int] = []
    for _, fields in client.xrange(store.SAMPLES):
        if fields.get("src") == feed:
            pid = int(fields["bid"].removeprefix(f"{feed}-").split("-")[0])
            if pid not in pids:
                pids.append(pid)
    return pids


def _numbers(client, feed: str) -> list[int]:
    """The row (message) number of every sample of the feed in the stream, repeats included, sorted."""
    entries = [store.decode_columns(f["data"]) for _, f in client.xrange(store.SAMPLES) if f.get("src") == feed]
    return sorted(round(ts - T0) for c in entries for ts in c.ts.tolist())


class Workers:
    """Two feed workers on one feeds file, each with its own log."""

    def __init__(self, tmp_path: Path, redis_url: str, config: Path) -> None:
        self.logs = [tmp_path / f"worker-{k}.log" for k in range(2)]
        self.files = [open(path, "w") for path in self.logs]
        self.procs = [start_worker(tmp_path, redis_url, config, f) for f in self.files]

    def text(self) -> str:
        return "\n".join(f"--- worker {p.pid}\n{log.read_text()}" for p, log in zip(self.procs, self.logs, strict=True))

    def wait(self, what: str, check: Callable[[], bool], deadline: float) -> None:
        """Wait until ``check()``, failing with both logs if a worker that should run died or time ran out."""
        while not check():
            assert all(p.poll() is None for p in self.procs if p.returncode is None), f"a worker died\n{self.text()}"
            assert time.monotonic() < deadline, f"{what}: not after {BOUND_S} s\n{self.text()}"
            time.sleep(0.2)

    def by_pid(self, pid: int) -> subprocess.Popen:
        return next(p for p in self.procs if p.pid == pid)

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(10)
        for f in self.files:
            f.close()


def _stop_leader(workers: Workers, leader: subprocess.Popen, how: signal.Signals) -> None:
    """SIGKILL the leader (it is gone), or SIGSTOP it (it stalls: the test continues it later)."""
    leader.send_signal(how)
    if how == signal.SIGKILL:
        leader.wait(10)


@pytest.mark.timeout(600)  # BOUND_S to run, then up to 60 s for each worker to stop
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stalled"])
def test_two_workers_replay_each_row_once_and_the_standby_resumes_at_the_checkpoint(tmp_path, redis_client,
                                                                                      redis_url, how):
    rows = 2000  # a second apart, at 200x: 10 s of replay, 50 rows a batch
    pd.DataFrame({"t": [T0 + k for k in range(rows)], "g": [GRIDS[k % 10] for k in range(rows)],
                  "v": [float(k % 400) for k in range(rows)]}).to_csv(tmp_path / "export.csv", index=False)
    config = tmp_path / "feeds.yaml"
    config.write_text(f"feeds:\n  - {{type: replay, name: export, file: {tmp_path / 'export.csv'}, metric: aqi,\n"
                      f"      map: {{time: t, value: v, area: g}}, speed: 200, batch: 50}}\n", encoding="utf-8")
    workers = Workers(tmp_path, redis_url, config)
    field = store.checkpoint_field("export", file_identity(tmp_path / "export.csv"))
    deadline = time.monotonic() + BOUND_S
    try:
        workers.wait("one worker replaying, the other standing by",
                     lambda: "feed:export: standing by" in workers.text()
                     and store.read_checkpoint(redis_client, field) >= 300, deadline)
        assert store.read_checkpoint(redis_client, field) < rows, "the replay ended before the leader was stopped"
        [leader_pid] = _writers(redis_client, "export")  # one worker wrote every row so far
        leader = workers.by_pid(leader_pid)
        standby = next(p for p in workers.procs if p is not leader)
        _stop_leader(workers, leader, how)
        workers.wait("the standby taking the replay over", lambda: len(_writers(redis_client, "export")) == 2,
                     deadline)
        if how == signal.SIGSTOP:
            leader.send_signal(signal.SIGCONT)  # it wakes up mid-replay: its next write is fenced off
        workers.wait("the whole file delivered", lambda: store.read_checkpoint(redis_client, field) == rows,
                     deadline)
        workers.wait("the standby saying so", lambda: "replay export: the whole file is delivered"
                     in workers.logs[workers.procs.index(standby)].read_text(), deadline)
        if how == signal.SIGSTOP:
            workers.wait("the stalled leader standing down",
                         lambda: "another worker leads it now" in workers.text(), deadline)
            stop_worker(leader)
        stop_worker(standby)
    finally:
        workers.close()
    assert _numbers(redis_client, "export") == list(range(rows)), "a row lost or sent twice"
    assert _writers(redis_client, "export") == [leader.pid, standby.pid]


def _publisher(prefix: str, count: int, rate: float, published: list[int]) -> threading.Thread:
    """Publish ``count`` QoS 1 messages at ``rate`` a second, message k with ts T0 + k, in a thread."""
    def run() -> None:
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{prefix}")
        pub.connect("127.0.0.1", 1883)  # no broker: the test fails, loudly
        pub.loop_start()
        for k in range(count):
            pub.publish(f"{prefix}/{GRIDS[k % 10]}/aqi", f'{{"value": {k % 400}, "ts": {T0 + k}}}',
                        qos=1).wait_for_publish(10)
            published.append(k)
            time.sleep(1 / rate)
        pub.loop_stop()
        pub.disconnect()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(600)  # BOUND_S to run, then up to 60 s for each worker to stop
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stalled"])
def test_two_workers_write_each_mqtt_message_once_and_the_standby_resumes_the_session(tmp_path, redis_client,
                                                                                      redis_url, how):
    name, count = f"mq{uuid.uuid4().hex[:8]}", 300
    prefix = f"cvw{name}"
    config = tmp_path / "feeds.yaml"
    config.write_text(f"feeds:\n  - {{type: mqtt, name: {name}, prefix: {prefix}}}\n", encoding="utf-8")
    workers = Workers(tmp_path, redis_url, config)
    deadline = time.monotonic() + BOUND_S
    published: list[int] = []
    try:
        workers.wait("one worker subscribed, the other standing by",
                     lambda: f"mqtt {name}: subscribed" in workers.text()
                     and f"feed:{name}: standing by" in workers.text(), deadline)
        publisher = _publisher(prefix, count, rate=40.0, published=published)
        workers.wait("a third of the messages written", lambda: len(_numbers(redis_client, name)) >= count // 3,
                     deadline)
        [leader_pid] = _writers(redis_client, name)
        leader = workers.by_pid(leader_pid)
        standby = next(p for p in workers.procs if p is not leader)
        _stop_leader(workers, leader, how)
        workers.wait("the standby resuming the session", lambda: len(_writers(redis_client, name)) == 2, deadline)
        if how == signal.SIGSTOP:
            leader.send_signal(signal.SIGCONT)  # its connection was taken over; its writes are fenced off
        publisher.join(max(0.0, deadline - time.monotonic()))
        assert published == list(range(count)), "the publisher did not finish"
        workers.wait("every message written", lambda: len(_numbers(redis_client, name)) >= count, deadline)
        if how == signal.SIGSTOP:
            workers.wait("the stalled leader standing down", lambda: f"feed:{name}: standing by"
                         in workers.logs[workers.procs.index(leader)].read_text(), deadline)
            stop_worker(leader)
        stop_worker(standby)  # what it holds is written before it exits: the stream is final
    finally:
        workers.close()
        forget_session(f"cityvitals-{name}")
    assert _numbers(redis_client, name) == list(range(count)), "a message lost or written twice"
    assert _writers(redis_client, name) == [leader.pid, standby.pid]
