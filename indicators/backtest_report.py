"""The figures of a backtest per indicator and level, and the difference between two catalogs' runs.

Counted as a *new warning*: a transition into yellow or red from a state that is neither (normal,
stale, insufficient, not judged); a yellow turning red is an *escalation*, counted apart (as in
``bench.alarms``). A cell *chatters* with more than 3 transitions of any kind within 10 minutes
(ISA-18.2 calls such an alarm a defect). Time in red and yellow is summed over the areas of a level
(area-hours). Two runs are compared by *warning episodes* (from a new warning until the cell is
neither yellow nor red again): episodes of the same cell that overlap in time are the same warning,
moved earlier or later by the difference of their onsets; the others are gained or lost.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from cityvitals.areas import AreaTree
from indicators.backtest import Outcome

WARNING = ("yellow", "red")
KEY = ["indicator", "level"]
CHATTER_TRANSITIONS, CHATTER_WINDOW_S = 3, 600.0


def subtree(tree: AreaTree, area_id: str) -> set[str]:
    """``area_id`` and every area below it."""
    found, todo = {area_id}, [area_id]
    while todo:
        kids = [c.id for c in tree.children(todo.pop())]
        found.update(kids)
        todo.extend(kids)
    return found


def _within(frame: pd.DataFrame, areas: Collection[str] | None) -> pd.DataFrame:
    return frame if areas is None else frame[frame["area"].isin(list(areas))]


def new_warnings(log: pd.DataFrame) -> pd.DataFrame:
    """The rows of a warnings log that raise a new warning."""
    return log[log["to_state"].isin(WARNING) & ~log["from_state"].isin(WARNING)]


def chattering(log: pd.DataFrame) -> pd.Series:
    """Per (indicator, level): cells with more than 3 transitions within any 10 minutes."""
    counts: dict[tuple[str, str], int] = {}
    for (indicator, level, _area), times in log.groupby(["indicator", "level", "area"], observed=True)["at"]:
        t = np.sort(times.to_numpy())
        n = CHATTER_TRANSITIONS
        if t.size > n and np.any(t[n:] - t[:-n] < CHATTER_WINDOW_S):
            counts[(indicator, level)] = counts.get((indicator, level), 0) + 1
    return pd.Series(counts, dtype=int)


def time_in(timeline: pd.DataFrame, end: float) -> pd.DataFrame:
    """Per (indicator, level): area-hours in red and in yellow up to ``end``, from the state timeline."""
    tl = timeline.sort_values(["indicator", "level", "area", "at"], kind="stable")
    nxt = tl.groupby(["indicator", "level", "area"], observed=True)["at"].shift(-1).fillna(end)
    hours = (nxt.clip(upper=end) - tl["at"]).clip(lower=0) / 3600
    out = pd.DataFrame({"indicator": tl["indicator"], "level": tl["level"], "state": tl["to_state"], "h": hours})
    out = out[out["state"].isin(WARNING)]
    if out.empty:
        return _empty(["red_area_hours", "yellow_area_hours"])
    table = out.pivot_table(index=KEY, columns="state", values="h", aggfunc="sum", fill_value=0.0)
    return table.reindex(columns=["red", "yellow"], fill_value=0.0).rename(
        columns={"red": "red_area_hours", "yellow": "yellow_area_hours"})


def _empty(columns: list[str]) -> pd.DataFrame:
    """A table with no rows, indexed by indicator and level."""
    return pd.DataFrame(columns=columns, index=pd.MultiIndex.from_tuples([], names=KEY))


def summary(outcome: Outcome, areas: Collection[str] | None = None) -> pd.DataFrame:
    """Per indicator and level with a warning or time in one: warnings, per hour, escalations, chattering, area-hours.

    Only the cells of ``areas`` count, if given.
    """
    log, timeline = _within(outcome.warnings, areas), _within(outcome.timeline, areas)
    columns = ["warnings", "per_hour", "escalations", "chattering", "red_area_hours", "yellow_area_hours"]
    if log.empty and not timeline["to_state"].isin(WARNING).any():
        return _empty(columns)
    new = new_warnings(log)
    escalations = log[(log["from_state"] == "yellow") & (log["to_state"] == "red")]
    table = pd.DataFrame({"warnings": new.groupby(KEY).size(), "escalations": escalations.groupby(KEY).size(),
                          "chattering": chattering(log)})
    table.index.names = KEY
    table = table.join(time_in(timeline, outcome.end), how="outer").fillna(0)
    for column in ("warnings", "escalations", "chattering"):
        table[column] = table[column].astype(int)
    table.insert(1, "per_hour", table["warnings"] / outcome.hours if outcome.hours else 0.0)
    return table.sort_values(["warnings", "red_area_hours"], ascending=False)


def episodes(log: pd.DataFrame, end: float) -> pd.DataFrame:
    """Warning episodes: indicator, level, area, onset, until (``end`` if still warning), worst state."""
    rows = []
    for (indicator, level, area), cell in log.groupby(["indicator", "level", "area"], sort=True, observed=True):
        onset, worst = None, ""
        for at, before, after in zip(cell["at"], cell["from_state"], cell["to_state"], strict=True):
            if after in WARNING and before not in WARNING:
                onset, worst = at, after
            elif after in WARNING and onset is not None:
                worst = "red" if "red" in (worst, after) else worst
            elif after not in WARNING and onset is not None:
                rows.append((indicator, level, area, onset, at, worst))
                onset = None
        if onset is not None:
            rows.append((indicator, level, area, onset, end, worst))
    return pd.DataFrame(rows, columns=[*KEY, "area", "onset", "until", "worst"])


def changes(new: Outcome, current: Outcome, areas: Collection[str] | None = None) -> pd.DataFrame:
    """Each warning episode that differs: kind (gained, lost, earlier, later), the cell, both onsets, shift_s."""
    end = min(new.end, current.end)
    mine, theirs = (episodes(_within(o.warnings, areas), end) for o in (new, current))
    mine, theirs = mine[mine["onset"] < end], theirs[theirs["onset"] < end]  # a stopped run's span only
    rows = []
    cells = set(map(tuple, mine[[*KEY, "area"]].to_numpy())) | set(map(tuple, theirs[[*KEY, "area"]].to_numpy()))
    for cell in sorted(cells):
        a = mine[(mine[KEY[0]] == cell[0]) & (mine[KEY[1]] == cell[1]) & (mine["area"] == cell[2])]
        b = theirs[(theirs[KEY[0]] == cell[0]) & (theirs[KEY[1]] == cell[1]) & (theirs["area"] == cell[2])]
        rows += _match(cell, list(a[["onset", "until"]].itertuples(index=False)),
                       list(b[["onset", "until"]].itertuples(index=False)))
    return pd.DataFrame(rows, columns=[*KEY, "area", "kind", "current_onset", "new_onset", "shift_s"])


def _match(cell: tuple, mine: list, theirs: list) -> list[tuple]:
    """Pair overlapping episodes of one cell in time order; the unpaired are gained (mine) or lost (theirs)."""
    rows, used = [], set()
    for onset, until in theirs:
        k = next((k for k, (o, u) in enumerate(mine) if k not in used and o < until and onset < u), None)
        if k is None:
            rows.append((*cell, "lost", onset, np.nan, np.nan))
            continue
        used.add(k)
        shift = mine[k][0] - onset
        if shift:
            rows.append((*cell, "earlier" if shift < 0 else "later", onset, mine[k][0], shift))
    rows += [(*cell, "gained", np.nan, o, np.nan) for k, (o, _u) in enumerate(mine) if k not in used]
    return rows


def difference(moved: pd.DataFrame) -> pd.DataFrame:
    """Per indicator and level: warnings gained, lost, earlier and later, and the median shift of each."""
    if moved.empty:
        return pd.DataFrame(columns=["gained", "lost", "earlier", "earlier_by_s", "later", "later_by_s"])
    counts = moved.pivot_table(index=KEY, columns="kind", values="area", aggfunc="count", fill_value=0)
    counts = counts.reindex(columns=["gained", "lost", "earlier", "later"], fill_value=0).astype(int)
    shifts = moved[moved["kind"].isin(["earlier", "later"])].assign(by=lambda f: f["shift_s"].abs())
    median = shifts.pivot_table(index=KEY, columns="kind", values="by", aggfunc="median")
    median = median.reindex(columns=["earlier", "later"]).add_suffix("_by_s")
    table = counts.join(median, how="left")
    return table[["gained", "lost", "earlier", "earlier_by_s", "later", "later_by_s"]]


MAX_CHANGES = 1000  # episodes listed in the JSON (all are counted)


def _when(t: float) -> str | None:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") if math.isfinite(t) else None


def _records(table: pd.DataFrame) -> list[dict]:
    rows = table.reset_index().to_dict("records")
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows]


def as_json(runs: Mapping[str, Outcome], areas: Collection[str] | None, source: str, seconds: float) -> dict:
    """The whole report of one or two runs (``new`` and maybe ``current``) as plain JSON-able data."""
    new = runs["new"]
    out: dict = {"source": source, "from": _when(new.start), "to": _when(min(o.end for o in runs.values())),
                 "tick_s": new.tick_s, "stopped": any(o.run.stopped for o in runs.values()),
                 "seconds": round(seconds, 2), "catalogs": {}}
    for name, o in runs.items():
        table = summary(o, areas)
        out["catalogs"][name] = {"version": o.catalog_version, "ticks": o.run.ticks, "samples": o.run.samples,
                                 "hours": round(o.hours, 3), "warnings": int(table["warnings"].sum()),
                                 "per_hour": round(float(table["warnings"].sum()) / o.hours, 3) if o.hours else 0.0,
                                 "by_indicator": _records(table), "forecasts": o.forecasts}
    if "current" in runs:
        moved = changes(new, runs["current"], areas)
        out["difference"] = _records(difference(moved))
        out["changes_total"] = len(moved)
        out["changes"] = _records(moved.head(MAX_CHANGES).assign(
            current_onset=lambda f: f["current_onset"].map(_when), new_onset=lambda f: f["new_onset"].map(_when)))
    return out


def as_text(result: dict) -> str:
    """The report of :func:`as_json` for a person: a header, then one line per indicator and level."""
    lines = [f"backtest of {result['source']}", f"from {result['from']} to {result['to']}, a tick every "
             f"{result['tick_s']:g} s{' (STOPPED early)' if result['stopped'] else ''}, {result['seconds']:.1f} s"]
    for name, c in result["catalogs"].items():
        lines.append(f"{name} catalog {c['version'][:12]}: {c['warnings']} warnings ({c['per_hour']:.2f} per hour) "
                     f"over {c['hours']:.1f} h, {c['ticks']:,} ticks, {c['samples']:,} samples")
    lines.append("")
    head = f"{'indicator':<36} {'level':<9} {'warnings':>8} {'per h':>7} {'chatter':>7} {'red h':>8} {'yellow h':>8}"
    for name, c in result["catalogs"].items():
        lines += [f"[{name}]", head]
        lines += [f"{r['indicator']:<36} {r['level']:<9} {r['warnings']:>8} {r['per_hour']:>7.2f} {r['chattering']:>7} "
                  f"{r['red_area_hours']:>8.2f} {r['yellow_area_hours']:>8.2f}" for r in c["by_indicator"]]
        lines += ["  (no warnings, no time in yellow or red)"] if not c["by_indicator"] else []
        lines += [f"  early warning {rule} (toward {f['toward']}): {f['early_warnings']} raised, "
                  f"{f['hits']}/{f['crossings']} crossings warned before (hit rate {_s(f['hit_rate'], '.2f')}), "
                  f"lead time p50 {_s(f['lead_time_p50_s'])} s, {_s(f['false_early_per_day'], '.2f')} false per day"
                  for rule, f in c["forecasts"].items()]
    if "difference" in result:
        lines += ["", "[difference: new versus current]",
                  f"{'indicator':<36} {'level':<9} {'gained':>6} {'lost':>6} {'earlier':>7} {'by s':>7} {'later':>6} "
                  f"{'by s':>7}"]
        lines += [f"{r['indicator']:<36} {r['level']:<9} {r['gained']:>6} {r['lost']:>6} {r['earlier']:>7} "
                  f"{_s(r['earlier_by_s']):>7} {r['later']:>6} {_s(r['later_by_s']):>7}" for r in result["difference"]]
        lines += ["  (the same warnings at the same times)"] if not result["difference"] else []
    return "\n".join(lines)


def _s(x: float | None, spec: str = ".0f") -> str:
    return "-" if x is None else format(x, spec)


def timeline_csv(runs: Mapping[str, Outcome], areas: Collection[str] | None, path: Path) -> int:
    """Write the runs' state timelines (a ``catalog`` column says whose) to ``path``; returns the rows."""
    frames = [_within(o.timeline, areas).assign(catalog=name) for name, o in runs.items()]
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "time", pd.to_datetime(frame["at"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    frame.to_csv(path, index=False)
    return len(frame)
