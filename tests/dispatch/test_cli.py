"""`cityvitals task` and `cityvitals user units`: the same commands from a shell, refusals on stderr."""

from __future__ import annotations

import json
import subprocess
import sys

from cityvitals import store
from cityvitals.db import create_schema, make_engine
from cityvitals.dispatch.photos import MAX_BYTES
from cityvitals.dispatch.tasks import read_events
from cityvitals.users import add_user
from tests.conftest import PASSWORD, REPO
from tests.dispatch.conftest import GRID, HEAD, png


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


def test_a_photo_from_the_shell_is_checked_like_the_page(tmp_path, redis_url):
    sql = make_engine(f"sqlite:///{tmp_path / 'cv.sqlite'}")
    create_schema(sql)
    add_user(sql, "lin", PASSWORD, "analyst")
    add_user(sql, "wang", PASSWORD, "responder")
    cli(tmp_path, redis_url, "user", "units", "wang", HEAD)
    task = json.loads(cli(tmp_path, redis_url, "task", "dispatch", GRID, "--as", "lin", "--instruction", "x").stdout)
    tid = str(task["id"])
    signed = cli(tmp_path, redis_url, "task", "step", "sign", tid, "--as", "wang")
    assert json.loads(signed.stdout)["status"] == "signed"
    (tmp_path / "fake.jpg").write_text("not a picture")
    with (tmp_path / "huge.jpg").open("wb") as f:
        f.truncate(MAX_BYTES + 1)
    photos = tmp_path / "photos"
    for name, reason in (("fake.jpg", "not an image Pillow can read"), ("huge.jpg", f"at most {MAX_BYTES}"),
                         ("missing.png", "No such file")):
        refused = cli(tmp_path, redis_url, "task", "step", "handle", tid, "--as", "wang", "--note", "done",
                      "--photo", str(tmp_path / name))
        assert refused.returncode == 1 and f"refused: {tmp_path / name}: " in refused.stderr, refused.stderr
        assert reason in refused.stderr, refused.stderr
    assert not photos.exists() or list(photos.iterdir()) == []  # nothing refused was kept
    (tmp_path / "fixed.png").write_bytes(png())
    not_theirs = cli(tmp_path, redis_url, "task", "step", "handle", tid, "--as", "lin", "--note", "done",
                     "--photo", str(tmp_path / "fixed.png"))
    assert not_theirs.returncode == 1 and "only a responder of" in not_theirs.stderr
    handled = cli(tmp_path, redis_url, "task", "step", "handle", tid, "--as", "wang", "--note", "修好了 fixed",
                  "--photo", str(tmp_path / "fixed.png"))
    assert handled.returncode == 0, handled.stderr
    event = read_events(sql, [task["id"]])[task["id"]][-1]
    assert (event.step, event.note) == ("handled", "修好了 fixed")
    assert (photos / event.photo).read_bytes() == png() and [p.name for p in photos.iterdir()] == [event.photo]
    assert oct((photos / event.photo).stat().st_mode & 0o777) == "0o600"
    again = cli(tmp_path, redis_url, "task", "step", "handle", tid, "--as", "wang", "--note", "twice",
                "--photo", str(tmp_path / "fixed.png"))
    assert again.returncode == 1 and "is handled" in again.stderr
    assert [p.name for p in photos.iterdir()] == [event.photo]  # the refused step's photo is not kept
    wrong_step = cli(tmp_path, redis_url, "task", "step", "sign", tid, "--as", "wang", "--photo",
                     str(tmp_path / "fixed.png"))
    assert wrong_step.returncode == 2 and "--photo goes with handle" in wrong_step.stderr
