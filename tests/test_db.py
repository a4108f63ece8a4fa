"""The SQL schema: processes that start together all get it, none fails on the race."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import inspect

from cityvitals.db import make_engine


def test_processes_starting_together_all_get_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    code = f"from cityvitals.db import create_schema, make_engine; create_schema(make_engine({url!r}))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [(p.wait(60), p.stderr.read()) for p in procs]
    assert [rc for rc, _ in results] == [0] * 6, "\n".join(err for _, err in results)
    assert {"areas", "warning_log"} <= set(inspect(make_engine(url)).get_table_names())
