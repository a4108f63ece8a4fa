"""One indicator in one area: why this state, history with its bands, state log, definition, child ranking."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import yaml
from dash import Input, Output, State, callback, dcc, html

from cityvitals.metrics import registry
from dashboard import clock, context, data, exports, ids
from dashboard.components import age_text, bi, data_time_text, page_header, pending_note, state_badge, value_text
from dashboard.dispatching import dispatch_link
from dashboard.exports import chart_stores, csv_button, graph_config, tidy
from dashboard.ranges import TimeRange, parse_range, range_picker
from dashboard.relations import relations_card
from dashboard.theme import STATE_NAME
from dashboard.trends import history_figure, series
from dashboard.urls import indicator_path, quoted
from indicators.explain import UnknownTarget, explain
from indicators.history import read_transitions
from indicators.states import State as IndicatorState

RANK_ROWS = 20


def layout(indicator: str, area_id: str, query: dict[str, str] | None = None) -> html.Div:
    """The detail page; the "why" card and the child ranking refresh live; ``?range=`` sets the history's range."""
    ctx = context.get()
    d = data.definitions(ctx.client).get(indicator)
    if d is None or area_id not in ctx.tree:
        return html.Div(f"未知指标或区域 Unknown indicator or area: {indicator} / {area_id}", className="error-page")
    area = ctx.tree[area_id]
    rng = parse_range(query or {})
    key = {"page": "detail", "indicator": indicator, "area": area_id, **rng.query}
    compare = f"/compare/{indicator}?area={quoted(area.parent or area_id)}&{urlencode(rng.query)}"
    return html.Div(className="page detail-page", children=[
        dcc.Store(id=ids.DETAIL_KEY, data={"indicator": indicator, "area": area_id}),
        *chart_stores(key),
        page_header(bi(f"{d['name']['zh']} · {area.name_zh}", f"{d['name']['en']} · {area.name_en}"),
                    area_id, d["group"] if d["tier"] == "panel" else "overview",
                    crumb_href=f"/indicator/{indicator}?area={{id}}&{urlencode(rng.query)}"),
        range_picker(f"/indicator/{indicator}", {"area": area_id}, rng),
        html.Div(className="detail-body", children=[
            html.Div(className="card", children=[html.H2(bi("为何是此状态", "Why this state")),
                                                 html.Div(id=ids.DETAIL_WHY)]),
            html.Div(className="card", children=[
                html.H2([*bi(f"历史 · {rng.names()[0]}", f"History · {rng.names()[1]}"), csv_button("history"),
                         dcc.Link(bi("比较各区域", "Compare areas"), href=compare, className="export-button")]),
                history_graph(indicator, area_id, d, rng)]),
            html.Div(className="card", children=[html.H2(bi("下级区域排名", "Child areas, worst first")),
                                                 html.Div(id=ids.DETAIL_CHILDREN)]),
            html.Div(className="card", children=[html.H2(bi("状态记录", "State log")), state_log(indicator, area_id)]),
            html.Div(className="card", children=[
                html.H2(bi(f"一起变化的指标 · {rng.names()[0]}", f"Moved with it · {rng.names()[1]}")),
                relations_card(indicator, area_id, data.definitions(ctx.client), rng)]),
            html.Div(className="card", children=[html.H2(bi("定义", "Definition (YAML)")), definition_block(d)]),
        ]),
    ])


@callback(
    Output(ids.DETAIL_WHY, "children"),
    Output(ids.DETAIL_CHILDREN, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.DETAIL_KEY, "data"),
)
def refresh(_n: int, key: dict) -> tuple:
    """Ask the engine's records why the cell is in its state (indicators.explain reads only Redis)."""
    ctx = context.get()
    try:
        e = explain(ctx.client, key["indicator"], key["area"])
    except UnknownTarget as exc:
        return [html.Div([state_badge(IndicatorState.STALE), f" 尚无数据 No data yet ({exc})"], className="why")], []
    parts = why(e, time.time(), data.definitions(ctx.client).get(key["indicator"]))
    if e["state"] in ("yellow", "red"):  # a warning: one click from dispatching it
        parts.append(dispatch_link(key["area"]))
    return parts, ranking(e)


def source_facts(e: dict) -> list[tuple[tuple[str, str], Any]]:
    """How the value is formed: rolled up from the children (and how many had data), or the area's own statistic."""
    if e.get("own_level"):
        return [(("汇总", "Roll-up"), bi("本级统计数据（不由下级汇总）", f"the {e['own_level']}'s own statistic, "
                                                                  "not rolled up"))]
    coverage = bi(f"{100 * e['coverage']:.0f}% 下级有数据", f"{100 * e['coverage']:.0f}% of children with data")
    return [(("汇总", "Roll-up"), e["rollup"]), (("覆盖", "Coverage"), coverage if e["coverage"] is not None else "—")]


def why(e: dict, now: float, definition: dict | None = None) -> list:
    """State, the evidence behind it, the rule that judged it, since when, a clearing countdown, data age, feed."""
    state = IndicatorState[e["state"].upper()]
    facts = [
        (("数值", "Value"), value_text(e["value"], e["unit"])),
        *evidence_facts(e, definition or {}),
        (("黄色界限", "Yellow at"), e["thresholds"]["yellow"]), (("红色界限", "Red at"), e["thresholds"]["red"]),
        (("方向", "Direction"), e["direction"]), (("界限来源", "Limits from"), e["thresholds"]["source"]),
        *funnel_facts(e),
        (("状态始于", "In state since"), f"{clock.shown(e['since'])}"
                                       f" ({age_text(now - e['since'])})"),
        (("待变", "Changing"), change_note(e, now) or "—"),
        (("数据时间", "Data age"), data_time_text(now - e["data_age_s"], now, (definition or {}).get("stale_after"))
                                  if e["data_age_s"] is not None else "—"),
        (("数据源", "Feed"), e["feed"] or "—"),
        *source_facts(e),
    ]
    if state == IndicatorState.NOT_JUDGED and e["rollup"] == "rate_per_10k":
        tree = context.get().tree
        if e.get("population") == 0:
            facts.insert(0, (("原因", "Why"), html.Span(bi("该区域无人口数据", "no population for this area"),
                                                      className="no-population")))
        elif e["area"] in tree and tree[e["area"]].kind == "special":
            facts.insert(0, (("原因", "Why"), html.Span(bi("专属网格：事件来自患者、学生或职工，不按居民计",
                                                         "a special grid: its events come from patients, pupils "
                                                         "or workers, not per resident"), className="no-population")))
    return [
        html.Div([state_badge(state), " ", *bi(*STATE_NAME[state])], className=f"why-state state-{state.label}"),
        html.Dl(className="facts", children=[x for k, v in facts for x in (html.Dt(bi(*k)), html.Dd(v))]),
    ]


def change_note(e: dict, now: float) -> list | None:
    """Where a pending state goes and when: a clear counts down ``clear_after``, a raise ``min_duration``."""
    if not e["pending"]:
        return None
    clearing = IndicatorState[e["pending"].upper()] < IndicatorState[e["state"].upper()]
    wait = e.get("clear_after_s", e["min_duration_s"]) if clearing else e["min_duration_s"]
    note = pending_note(e["pending"], e["pending_since"], wait, now)
    return html.Span(note, className="clearing-note" if clearing else "raising-note")


def evidence_facts(e: dict, definition: dict) -> list[tuple[tuple[str, str], object]]:
    """The events and exposure behind a count, rate or ratio ("1 of 2 elevators"), and the minimum it needs."""
    ev = e.get("evidence") or {}
    num, den = ev.get("num"), ev.get("den")
    if e["rollup"] not in ("ratio", "rate_per_10k", "sum") or num is None or den is None:
        return []
    facts = [(("证据", "Evidence"), html.Span(bi(*evidence_text(num, den, e["rollup"], definition.get("source") or {})),
                                              className="evidence"))]
    ratio = e["rollup"] == "ratio"
    need = [(ev.get("min_events"), num, "件事件", "events"),
            (ev.get("min_denominator"), den, "（分母）" if ratio else " 名居民",
             "in the denominator" if ratio else "residents")]
    asked = [(n, have, zh, en) for n, have, zh, en in need if n]
    if asked:
        short = any(have < n for n, have, _, _ in asked)
        zh = "，".join(f"≥ {_count(n)}{zh}" for n, _, zh, _ in asked) + ("（不足）" if short else "")
        en = ", ".join(f"≥ {_count(n)} {en}" for n, _, _, en in asked) + (" (not met)" if short else "")
        facts.append((("最少证据", "Minimum evidence"),
                      html.Span(bi(zh, en), className="evidence-need short" if short else "evidence-need")))
    elif e["rollup"] != "sum":
        facts.append((("最少证据", "Minimum evidence"), bi("未设定", "none set")))
    return facts


def evidence_text(num: float, den: float, rollup: str, source: dict) -> tuple[str, str]:
    """``(4, 1000, sum)`` -> "4 fires among 1,000 residents"; ``(1, 2, ratio)`` -> "1 of 2 elevators"."""
    metrics = registry()
    if rollup == "ratio":
        top, bottom = metrics.get(source.get("numerator") or ""), metrics.get(source.get("denominator") or "")
        unit = bottom.unit if bottom else ""
        if top is None or bottom is None or top.unit == unit:
            zh = f"{_count(den)} 中 {_count(num)}" + (f"（{top.name_zh} / {bottom.name_zh}）" if top and bottom else "")
            return zh, f"{_count(num)} of {_count(den)}{' ' + _unit(unit, den) if unit else ''}"
        return (f"{bottom.name_zh} {_count(den)} 中 {top.name_zh} {_count(num)}",
                f"{_count(num)} {_unit(top.unit, num)} among {_count(den)} {_unit(unit, den)}")
    metric = metrics.get(source.get("metric") or "")
    unit = metric.unit if metric else "events"
    what = metric.name_zh if metric else "事件"
    return (f"{_count(den)} 名居民中 {what} {_count(num)}",
            f"{_count(num)} {_unit(unit, num)} among {_count(den)} residents")


def funnel_facts(e: dict) -> list[tuple[tuple[str, str], object]]:
    """For a cell judged by funnel limits: the reference area and its rate, the count expected here, the limits."""
    f = e.get("funnel")
    if not f:
        return []
    tree = context.get().tree
    ref = f.get("reference")
    name = (tree[ref].name_zh, tree[ref].name_en) if ref in tree else (ref or "—", ref or "—")
    if f.get("rate") is None:
        return [(("参照区域", "Reference"), bi(f"{name[0]}（尚无比率）", f"{name[1]} (no rate yet)"))]
    rate = f"{100 * f['rate']:.3g}%" if e["rollup"] == "ratio" else f"{1e4 * f['rate']:.3g} / 10k"
    higher = e["direction"] != "lower_is_worse"
    sign = "≥" if higher else "≤"
    return [
        (("参照区域", "Reference"), bi(f"{name[0]} 比率 {rate}", f"{name[1]}, rate {rate}")),
        (("此处预期", "Expected here"), f"{f['expected']:.3g}"),
        (("漏斗界限", "Funnel limits"), bi(
            f"黄 {sign} {_count(f['yellow_at'])}，红 {sign} {_count(f['red_at'])}"
            f"（共 {f.get('cells', 1)} 个单元同判，BH校正）",
            f"yellow {sign} {_count(f['yellow_at'])}, red {sign} {_count(f['red_at'])} "
            f"(among {f.get('cells', 1)} cells, Benjamini–Hochberg)")),
    ]


def _count(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if float(x).is_integer() or abs(x) >= 100 else f"{x:.3g}"


def _unit(unit: str, n: float) -> str:
    """A plural unit of the registry ("fires") for ``n`` of them: "1 fire", "2 fires"."""
    return unit[:-1] if n == 1 and unit.endswith("s") and not unit.endswith("ss") else unit


def ranking(e: dict) -> html.Table | html.Div:
    """The children behind the value, worst first, with their share of the roll-up."""
    if not e["children"]:
        return html.Div("无下级区域或无数据 No child areas or no data", className="empty")
    tree = context.get().tree
    rows = [html.Tr([
        html.Td(state_badge(IndicatorState[c["state"].upper()])),
        html.Td(dcc.Link(tree[c["area"]].name_zh if c["area"] in tree else c["area"],
                         href=indicator_path(e['indicator'], c['area']))),
        html.Td(value_text(c["value"], e["unit"])),
        html.Td("—" if c["contribution"] is None else f"{100 * c['contribution']:.0f}%"),
    ]) for c in e["children"][:RANK_ROWS]]
    return html.Table(className="table", children=[
        html.Thead(html.Tr([html.Th(""), html.Th("区域 Area"), html.Th("数值 Value"), html.Th("贡献 Share")])),
        html.Tbody(rows),
    ])


def history_graph(indicator: str, area_id: str, d: dict, rng: TimeRange) -> dcc.Graph | html.Div:
    """The indicator's history at this area (any level) from the value archive, with its yellow and red bands."""
    frame, bucket = series([indicator], [area_id], rng)
    if not len(frame):
        return html.Div(bi("此时段尚无历史（值存档每5分钟记录一次）",
                           "No history in this range yet (the value archive records every 5 minutes)"),
                        className="empty")
    return dcc.Graph(id=ids.DETAIL_HISTORY, figure=history_figure(d, frame, rng, bucket),
                     config=graph_config(f"{indicator}-{area_id}-{rng.key}"))


def history_csv(key: dict, _chart: str) -> pd.DataFrame:
    """The history chart's data, as drawn."""
    frame, bucket = series([key["indicator"]], [key["area"]], parse_range(key))
    return tidy(frame, data.definitions(context.get().client), bucket.label)


exports.register("detail", history_csv)


def state_log(indicator: str, area_id: str) -> html.Table | html.Div:
    """The newest state changes of this indicator in this area, from the warnings log."""
    rows = read_transitions(context.get().sql, indicator, area_id, limit=30)
    if not rows:
        return html.Div("无状态变化 No state changes logged", className="empty")
    return html.Table(className="table", children=[
        html.Thead(html.Tr([html.Th(h) for h in ("时间 Time", "从 From", "到 To", "数值 Value", "界限 Limits")])),
        html.Tbody([html.Tr([
            html.Td(clock.shown(r["at"])), html.Td(r["from_state"]),
            html.Td(r["to_state"], className=f"state-{r['to_state']}"),
            html.Td(value_text(r["value"])), html.Td(f"▲{r['yellow']} ■{r['red']}"),
        ]) for r in rows]),
    ])


def definition_block(d: dict) -> html.Pre:
    """The indicator as declared in the catalog, and where."""
    shown = {k: v for k, v in d.items() if k not in ("position",) and v not in (None, [], ())}
    where = d.get("position", "").rsplit("/", 1)[-1]  # file:line, without the install's directories
    return html.Pre(f"# {where}\n" + yaml.safe_dump(shown, allow_unicode=True, sort_keys=False),
                    className="definition")
