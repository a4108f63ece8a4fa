"""`cityvitals task` and `cityvitals user units`: the same commands from a shell, refusals on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

from cityvitals import store
from cityvitals.db import create_schema, make_engine
from cityvitals.users import add_user
from tests.conftest import PASSWORD, REPO
from tests.dispatch.conftest import GRID, HEAD


def cli(tmp_path, redis_url, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "CITYVITALS_DATA_DIR": str(tmp_path), "REDIS_URL": redis_url,
           "DATABASE_URL": f"sqlite:///{tmp_path / 'cv.sqlite'}"}
    return subprocess.run([sys.executable, "-m", "wiring.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=120)


def test_dispatch_bind_step_and_assess_from_the_shell(tmp_path, redis_url, redis_client):
    sql = make_engine(f"sqlite:///{tmp_path / 'cv.sqlite'}")
    create_schema(sql)
    add_user(sql, "lin", PASSWORD, "analyst")
    add_user(sql, "wang", PASSWORD, "responder")
    assert cli(tmp_path, redis_url, "user", "units", "wang", "nowhere/head").returncode == 1
    bound = cli(tmp_path, redis_url, "user", "units", "wang", HEAD)
    assert bound.returncode == 0 and HEAD in bound.stdout
    made = cli(tmp_path, redis_url, "task", "dispatch", GRID, "--as", "lin", "--instruction", "check the drain",
               "--due", "2020-01-01T00:00:00+08:00")
    assert made.returncode == 1 and "refused: deadline" in made.stderr and "is in the past" in made.stderr
    made = cli(tmp_path, redis_url, "task", "dispatch", GRID, "--as", "lin", "--instruction", "check the drain")
    task = json.loads(made.stdout)
    assert (task["unit"], task["dispatcher"]) == (HEAD, "lin")
    wrong = cli(tmp_path, redis_url, "task", "step", "sign", str(task["id"]), "--as", "lin")
    assert wrong.returncode == 1 and "only a responder of" in wrong.stderr
    signed = cli(tmp_path, redis_url, "task", "step", "sign", str(task["id"]), "--as", "wang")
    assert json.loads(signed.stdout)["status"] == "signed"
    shown = json.loads(cli(tmp_path, redis_url, "task", "show", str(task["id"])).stdout)
    assert [e["step"] for e in shown["events"]] == ["dispatched", "signed"]
    graded = cli(tmp_path, redis_url, "task", "assess").stdout.splitlines()
    assert graded[0].startswith("rank,unit,name_zh,name_en,received") and graded[1].startswith(f"1,{HEAD},")
    assert redis_client.hget(store.WORKORDERS, f"task-{task['id']}") is not None  # the order is in the pipeline
