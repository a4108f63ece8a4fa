"""The feeds configuration file and `cityvitals feeds run` as a real worker process."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from cityvitals import store
from cityvitals.areas import AreaTree, pukou_demo, save_areas
from cityvitals.db import create_schema, make_engine
from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity
from feeds.simulator.models import MODELS
from feeds.simulator.orders import THINNED
from feeds.workorders.aggregate import COUNTS, PRODUCED
from tests.conftest import stream_samples
from tests.feeds.conftest import forget_session, start_worker, stop_worker
from wiring.cli import main


def test_check_reports_every_problem_with_its_line(tmp_path, capsys):
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - {type: simulator, interval_s: -5}\n  - type: mqtt\n    name: s1\n    port: 99999\n"
                   "    colour: red\n  - {type: kafka, name: k}\n", encoding="utf-8")
    assert main(["feeds", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2:" in out and "interval_s" in out and "greater than 0" in out
    assert f"{bad}:5:" in out and "port" in out
    assert f"{bad}:6:" in out and "colour" in out and "Extra inputs are not permitted" in out
    assert f"{bad}:7:" in out and "kafka" in out
    good = tmp_path / "good.yaml"
    good.write_text("feeds:\n  - {type: simulator}\n  - {type: mqtt, name: sensors, prefix: city}\n", encoding="utf-8")
    assert main(["feeds", "check", str(good)]) == 0
    assert "2 feed(s): simulator (simulator), sensors (mqtt)" in capsys.readouterr().out


@pytest.mark.timeout(600)  # its own bounds add up to 300 s: 180 to start, 60 to deliver, 60 to stop
def test_feeds_run_serves_the_simulator_and_mqtt_until_sigterm(tmp_path, redis_client, redis_url, demo_tree):
    # A name of its own: the broker session is the feed's (client id cityvitals-<name>), and the broker is
    # shared with other test runs, whose worker would otherwise take this one's session and its message.
    name = f"sensors{uuid.uuid4().hex[:8]}"
    prefix = f"cvw{name}"
    config = tmp_path / "feeds.yaml"
    config.write_text(f"feeds:\n  - {{type: simulator, interval_s: 3600}}\n"
                      f"  - {{type: mqtt, name: {name}, prefix: {prefix}}}\n", encoding="utf-8")
    log = open(tmp_path / "worker.log", "w")
    worker = start_worker(tmp_path, redis_url, config, log)
    try:
        # Generous: the orders' first round (a week of events, seconds of CPU) starts 15 s in, and the
        # machine may be running other suites. "subscribed" is logged once the broker confirmed it (SUBACK):
        # a message published before that would never reach the worker.
        deadline = time.monotonic() + 180
        while (not {"simulator", "simulator-orders"} <= store.read_feed_health(redis_client).keys()
               or f"mqtt {name}: subscribed" not in (tmp_path / "worker.log").read_text()):
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
        grid = demo_tree.ids("grid")[7]
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", 1883)
        pub.loop_start()
        pub.publish(f"{prefix}/{grid}/aqi", b"77", qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        deadline = time.monotonic() + 60  # written within a flush (0.5 s) on a quiet machine
        while store.read_feed_health(redis_client).get(name, {}).get("accepted") != 1:
            assert worker.poll() is None and time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.2)
    finally:
        stop_worker(worker)
        log.close()
        forget_session(f"cityvitals-{name}")
    health = store.read_feed_health(redis_client)
    # every modelled metric of every grid, but a station's metrics only where there is a station
    delivered = sum(int(np.isfinite(v).sum()) for v in SimulatedCity(AreaTree(pukou_demo()), registry()).values(
        time.time()).values())
    assert delivered < 502 * len(MODELS) and health["simulator"]["accepted"] == delivered
    # The simulated city's work orders, through the pipeline: every count for every grid, medians where due.
    # Eight days backfilled at the seed district's ~230 orders a day, about six steps each: ~11,000 events.
    assert health["simulator-orders"]["simulated"] and 5_000 < health["simulator-orders"]["events_accepted"] < 20_000
    accepted = health["simulator-orders"]["accepted"]
    assert 502 * (len(COUNTS) + len(THINNED)) <= accepted <= 502 * (len(PRODUCED) + len(THINNED))



def test_feeds_run_replays_work_orders_and_publishes_their_aggregates(tmp_path, redis_client, redis_url, demo_tree):
    grid = demo_tree.ids("grid")[3]
    now = time.time()
    events = tmp_path / "orders.csv"
    events.write_text("order,source,area,step,ts\n"
                      f"Q-1,12345,{grid},received,{now - 7200}\nQ-1,12345,{grid},dispatched,{now - 7100}\n"
                      f"Q-2,110,{grid},received,{now - 600}\nQ-2,110,{grid},dispatched,{now - 7200}\n",
                      encoding="utf-8")
    config = tmp_path / "feeds.yaml"
    config.write_text(f"feeds:\n  - {{type: workorders, name: orders, replay: {events}, deadlines_h: {{'110': 1}}}}\n",
                      encoding="utf-8")
    assert main(["feeds", "check", str(config)]) == 0
    worker = start_worker(tmp_path, redis_url, config, subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120  # generous: a loaded machine takes seconds to start a worker
        while not store.read_feed_health(redis_client).get("orders", {}).get("accepted"):
            assert worker.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        stop_worker(worker)
    health = store.read_feed_health(redis_client)["orders"]
    assert (health["events_accepted"], health["refused"]) == (3, 1)  # Q-2 dispatched before it was received
    latest = {(s.metric, s.area): s.value for s in stream_samples(redis_client)}
    assert (latest[("orders_open", grid)], latest[("nonpolice_calls_1h", grid)]) == (2, 1)
    assert latest[("orders_overdue", grid)] == 0  # Q-2 is due in an hour by the file's deadline


def test_a_wrong_work_order_deadline_is_reported_with_its_line(tmp_path, capsys):
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - type: workorders\n    deadlines_h: {fax: 2, '12345': -1}\n", encoding="utf-8")
    assert main(["feeds", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3:" in out and "fax" in out and "greater than 0" in out


def test_a_polled_api_feed_is_checked_with_its_line(tmp_path, capsys):
    bad = tmp_path / "feeds.yaml"
    bad.write_text("feeds:\n  - {type: air_quality_api, name: env, url: 'ftp://x'}\n"
                   "  - {type: air_quality_api, name: env2, url: 'http://10.0.0.7/api', retries: 99}\n",
                   encoding="utf-8")
    assert main(["feeds", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2:" in out and "url" in out and f"{bad}:3:" in out and "retries" in out
    good = tmp_path / "good.yaml"
    good.write_text("feeds:\n  - {type: air_quality_api, name: env, url: 'http://10.0.0.7/api', timeout_s: 5}\n",
                    encoding="utf-8")
    assert main(["feeds", "check", str(good)]) == 0


def test_the_simulated_orders_are_sent_once(tmp_path, capsys):
    both = tmp_path / "both.yaml"
    both.write_text("feeds:\n  - {type: simulator}\n  - {type: workorders, name: orders, simulate: true}\n",
                    encoding="utf-8")
    assert main(["feeds", "check", str(both)]) == 1
    assert "the simulator already sends the simulated work orders" in capsys.readouterr().out
    alone = tmp_path / "alone.yaml"
    alone.write_text("feeds:\n  - {type: workorders, name: orders, simulate: true}\n", encoding="utf-8")
    assert main(["feeds", "check", str(alone)]) == 0


def _writers(client) -> list[int]:
    """Pids of the processes that wrote the simulator's stream entries, in the order they first did."""
    pids: list[int] = []
    for _, fields in client.xrange(store.SAMPLES):
        pid = int(fields["bid"].removeprefix("simulator-").split("-")[0]) if fields.get("src") == "simulator" else 0
        if pid and pid not in pids:
            pids.append(pid)
    return pids


def test_two_feed_workers_fire_each_round_once_and_the_standby_takes_over(tmp_path, redis_client, redis_url):
    sql = make_engine(f"sqlite:///{tmp_path / 'cv.sqlite'}")
    create_schema(sql)
    save_areas(sql, [a for a in pukou_demo() if a.id == "pukou" or a.id.startswith("pukou.qiaolin")])
    sql.dispose()
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - {type: simulator, interval_s: 1}\n", encoding="utf-8")
    logs = [open(tmp_path / f"worker-{k}.log", "w") for k in range(2)]
    workers = [start_worker(tmp_path, redis_url, config, log) for log in logs]
    text = lambda: "".join((tmp_path / f"worker-{k}.log").read_text() for k in range(2))  # noqa: E731
    try:
        deadline = time.monotonic() + 120  # generous: other suites may be loading the machine
        # both workers up (one leads, the other stands by: a loaded machine can take seconds to start one),
        # then five rounds (1 s apart) with both of them running
        while "feed:simulator: standing by" not in text() or len(redis_client.xrange(store.SAMPLES)) < 5:
            assert all(w.poll() is None for w in workers) and time.monotonic() < deadline, text()
            time.sleep(0.2)
        assert len(_writers(redis_client)) == 1, text()  # one process fired every round
        leader = next(w for w in workers if w.pid == _writers(redis_client)[0])
        standby = next(w for w in workers if w is not leader)
        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        while _writers(redis_client)[-1] != standby.pid:  # the lock lapses within three rounds
            assert standby.poll() is None and time.monotonic() < deadline + 20, text()
            time.sleep(0.2)
        stop_worker(standby)
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
        for log in logs:
            log.close()
    assert _writers(redis_client) == [leader.pid, standby.pid]
