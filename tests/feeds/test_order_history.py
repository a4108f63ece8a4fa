"""A historical work-order export replayed with its own timeline (#17 item 5): each day's backlog and closure.

The figures below are worked out by hand from the six rows of the export, day by day in Shanghai:

| day   | received | closed | backlog at midnight | overdue | due that day | closed on time | closure |
|-------|----------|--------|---------------------|---------|--------------|----------------|---------|
| 10-01 | B1 B2    | B1     | B2                  | —       | —            | —              | —       |
| 10-02 | B3 B4    | B3     | B2 B4               | B2      | B1 B2        | B1             | 50.0%   |
| 10-03 | —        | B2     | B4                  | —       | —            | —              | —       |

(citymgmt orders are due 24 h after receipt, 12345 orders 72 h: B3 and B4 fall due after the export.)
"""

from __future__ import annotations

import json
import textwrap
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd

from cityvitals import store
from feeds.workorders.aggregate import COUNTS
from tests.conftest import stream_samples
from wiring.cli import main

SH = ZoneInfo("Asia/Shanghai")
MAPPING = """\
    order: 工单编号
    source: {column: 来源渠道, map: {市民热线: "12345", 数字城管: citymgmt}}
    area: {column: 网格}
    steps: {received: 受理时间, dispatched: 派遣时间, closed: 办结时间}
    format: "%Y-%m-%d %H:%M"
    """


def _midnight(day: int) -> float:
    return datetime(2026, 10, day, tzinfo=SH).timestamp()


def test_an_export_replayed_day_by_day_gives_each_days_backlog_and_closure(tmp_path, cli_env, capsys, demo_tree):
    redis_client = cli_env
    g0, g1 = demo_tree.ids("grid")[:2]
    rows = [
        ("B1", "数字城管", g0, "2026-10-01 09:00", "", "2026-10-01 15:00"),
        ("B2", "数字城管", g0, "2026-10-01 10:00", "", "2026-10-03 11:00"),  # closed a day late
        ("B3", "市民热线", g1, "2026-10-02 08:00", "2026-10-02 09:00", "2026-10-02 20:00"),
        ("B4", "市民热线", g1, "2026-10-02 12:00", "", ""),  # still open at the end of the export
        ("B5", "数字城管", g1, "2026-10-03 09:00", "", "2026-10-02 09:00"),  # closed before it was received
        ("B6", "微信公众号", g1, "2026-10-03 09:00", "", ""),  # a channel the map does not know
    ]
    export = tmp_path / "orders.csv"
    columns = ["工单编号", "来源渠道", "网格", "受理时间", "派遣时间", "办结时间"]
    pd.DataFrame(rows, columns=columns).to_csv(export, index=False)
    mapping = tmp_path / "orders.yaml"
    mapping.write_text(textwrap.dedent(MAPPING), encoding="utf-8")
    daily = tmp_path / "daily.csv"

    assert main(["feeds", "order-history", str(export), "--mapping", str(mapping), "--csv", str(daily)]) == 0
    out = capsys.readouterr().out

    table = pd.read_csv(daily)
    assert table["day"].tolist() == ["2026-10-01", "2026-10-02", "2026-10-03"]
    assert table[["received", "closed", "backlog", "overdue", "due", "closed_on_time"]].values.tolist() == [
        [2, 1, 1, 0, 0, 0], [2, 1, 2, 1, 2, 1], [0, 1, 1, 0, 0, 0]]
    assert table["closure_pct"].fillna(-1).tolist() == [-1, 50.0, -1]
    assert "4 orders, 2 refused (impossible_timeline 1, unmapped_value 1)" in out, out
    assert "row 6: order 'B5': impossible timeline: closed at 2026-10-02T01:00:00+00:00" in out
    assert "2026-10-02         2       1        2        1    2               1       50.0%" in out, out
    medians = 1 + 2 + 2  # grids with an order closed in the week before each midnight (B1; B1, B3; B1, B2, B3)
    stored = 3 * len(demo_tree.ids("grid")) * len(COUNTS) + medians
    assert f"3 days replayed into history: {stored} samples stored" in out

    # The history is in the sample stream at each day's end, grid by grid
    open_at = {(s.area, s.ts): s.value for s in stream_samples(redis_client) if s.metric == "orders_open"}
    ends = [_midnight(d) for d in (2, 3, 4)]
    assert [open_at[(g0, t)] for t in ends] == [1, 1, 0]
    assert [open_at[(g1, t)] for t in ends] == [0, 1, 1]
    overdue = {(s.area, s.ts): s.value for s in stream_samples(redis_client) if s.metric == "orders_overdue"}
    assert overdue[(g0, ends[1])] == 1 and overdue[(g0, ends[0])] == 0
    health = store.read_feed_health(redis_client)["order-history"]
    assert health["refused_by"] == {"impossible_timeline": 1, "unmapped_value": 1}


def test_a_dry_run_prints_the_days_and_stores_nothing(tmp_path, cli_env, capsys, demo_tree):
    grid = demo_tree.ids("grid")[0]
    events = [("C1", "received", "2026-10-05T08:00:00+08:00"), ("C1", "closed", "2026-10-06T08:00:00+08:00"),
              ("C2", "closed", "2026-10-06T09:00:00+08:00")]  # C2 was never received
    export = tmp_path / "events.ndjson"
    export.write_text("".join(json.dumps({"order": o, "source": "12345", "area": grid, "step": s, "ts": t}) + "\n"
                              for o, s, t in events), encoding="utf-8")
    assert main(["feeds", "order-history", str(export), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 orders, 1 refused" in out and "order 'C2': closed before received" in out, out
    assert "2026-10-05         1       0        1" in out and "2026-10-06         0       1        0" in out, out
    assert stream_samples(cli_env) == []
