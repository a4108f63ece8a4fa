"""An area's state as every screen shows it: its own macro state, and how many areas below it are red and yellow.

One definition for the health block, the map (colour, label, outline, hover), its legend, the ticker's head
and the kiosk: the engine writes both halves into the area's summary (``worst``: its own macro indicators;
``below``: per lower level, the areas red and yellow by their worst macro state). Nothing here adds them up
differently: a street with a red grid is shown "normal, 1 grid red below", never plainly "normal".
"""

from __future__ import annotations

from dash import html

from cityvitals.areas import LEVELS
from dashboard.components import bi
from dashboard.figures import centre_icon
from dashboard.theme import STATE_ICON
from indicators.states import State

BELOW_LEVELS = LEVELS[1:]  # the levels a summary's ``below`` counts
SEVERITIES = (State.RED, State.YELLOW)
# level -> (Chinese, English singular, English plural)
LEVEL_WORDS = {"street": ("街道", "street", "streets"), "community": ("社区", "community", "communities"),
               "grid": ("网格", "grid", "grids")}
SEVERITY_WORDS = {State.RED: ("红色", "red"), State.YELLOW: ("黄色", "yellow")}


def own_state(summary: dict | None) -> State:
    """The area's own worst macro state; an area never summarised is STALE, never normal."""
    return State[summary["worst"].upper()] if summary and summary.get("worst") else State.STALE


def below_counts(summary: dict | None, severity: State) -> dict[str, int]:
    """Areas below of each level whose worst macro state is ``severity`` (red or yellow), non-zero only."""
    below = (summary or {}).get("below") or {}
    return {lv: int(below[lv][severity.label]) for lv in BELOW_LEVELS
            if lv in below and below[lv].get(severity.label)}


def mark(summary: dict | None) -> State | None:
    """RED when a red area lies below, else YELLOW when a yellow one does, else None."""
    return next((s for s in SEVERITIES if below_counts(summary, s)), None)


def most_below(summary: dict | None, severity: State) -> int:
    """The largest count of ``severity`` areas at one level below (what a map label shows: never double-counted)."""
    return max(below_counts(summary, severity).values(), default=0)


def has_red(summary: dict | None) -> bool:
    """Whether the area is red by its own macro indicators or has a red area below it."""
    return own_state(summary) == State.RED or bool(below_counts(summary, State.RED))


def has_warning(summary: dict | None) -> bool:
    """Whether the area or anything below it is yellow or red."""
    return own_state(summary) >= State.YELLOW or mark(summary) is not None


def count_text(counts: dict[str, int], severity: State) -> tuple[str, str]:
    """``({1: street, 3: grids}, red)`` -> ("1个街道、3个网格红色", "1 street, 3 grids red")."""
    zh = "、".join(f"{n}个{LEVEL_WORDS[lv][0]}" for lv, n in counts.items())
    en = ", ".join(f"{n} {LEVEL_WORDS[lv][1 if n == 1 else 2]}" for lv, n in counts.items())
    return f"{zh}{SEVERITY_WORDS[severity][0]}", f"{en} {SEVERITY_WORDS[severity][1]}"


def below_texts(summary: dict | None) -> list[tuple[State, str, str]]:
    """One (severity, Chinese, English) line per severity with areas below: "3 grids red" / "3个网格红色"."""
    return [(s, *count_text(counts, s)) for s in SEVERITIES if (counts := below_counts(summary, s))]


def below_lines(summary: dict | None, empty: bool = True) -> list[html.Div]:
    """The counts below as lines in both languages, red first; "nothing below" when all is clear (if ``empty``)."""
    lines = [html.Div([html.Span(STATE_ICON[s], className="icon"), " ", *bi(f"下级{zh}", en + " below")],
                      className=f"below state-{s.label}") for s, zh, en in below_texts(summary)]
    if not lines and empty:
        return [html.Div(bi("下级无预警", "nothing red or yellow below"), className="below below-clear")]
    return lines


def hover_line(summary: dict | None) -> str:
    """The counts below for a map's hover text (plain text, both languages), "" when there are none."""
    return "".join(f"<br>{STATE_ICON[s]} 下级{zh} · {en} below" for s, zh, en in below_texts(summary))


def label(state: State, summary: dict | None) -> str:
    """The text at an area's centre on the map: its own icon (none for normal), then e.g. "■3↓" for red below."""
    own = centre_icon(state)
    severity = mark(summary)
    return own if severity is None else f"{own} {STATE_ICON[severity]}{most_below(summary, severity)}↓".strip()


def legend_lines(summaries: dict[str, dict], area_ids: list[str], level: str) -> list[html.Div]:
    """Per severity and lower level: how many of the map's areas (of ``level``) have such areas below.

    "2 streets with red grids below" / "2个街道下有红色网格".
    """
    words = LEVEL_WORDS.get(level)
    lines = []
    for s in SEVERITIES:
        for lv in BELOW_LEVELS:
            n = sum(1 for a in area_ids if below_counts(summaries.get(a), s).get(lv))
            if not n or words is None:
                continue
            zh = f"{n}个{words[0]}下有{SEVERITY_WORDS[s][0]}{LEVEL_WORDS[lv][0]}"
            en = f"{n} {words[1 if n == 1 else 2]} with {SEVERITY_WORDS[s][1]} {LEVEL_WORDS[lv][2]} below"
            lines.append(html.Div(className=f"legend-item legend-below state-{s.label}", children=[
                html.Span(f"{STATE_ICON[s]}↓", className="legend-swatch"), html.Span(bi(zh, en)),
            ]))
    return lines
