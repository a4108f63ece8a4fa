"""State colours and icons: the single source for Python figures and the CSS variables."""

from __future__ import annotations

from indicators.states import State

# Colour-blind-safe pairs: states differ in colour AND in icon shape.
STATE_COLOR = {
    State.NOT_JUDGED: "#2b303b",
    State.INSUFFICIENT: "#565d6b",
    State.NORMAL: "#2a9d8f",
    State.STALE: "#6b7280",
    State.YELLOW: "#f4c542",
    State.RED: "#e63946",
}
STATE_ICON = {State.NOT_JUDGED: "–", State.INSUFFICIENT: "○", State.NORMAL: "●", State.STALE: "◌",
              State.YELLOW: "▲", State.RED: "■"}
STATE_NAME = {
    State.NOT_JUDGED: ("不评判", "not judged"),
    State.INSUFFICIENT: ("证据不足", "insufficient evidence"),
    State.NORMAL: ("正常", "normal"),
    State.STALE: ("数据过期", "stale"),
    State.YELLOW: ("黄色预警", "yellow"),
    State.RED: ("红色预警", "red"),
}


def css_variables() -> str:
    """CSS custom properties for the states, matching the Python enum."""
    lines = [f"  --state-{s.label}: {c};" for s, c in STATE_COLOR.items()]
    return ":root {\n" + "\n".join(lines) + "\n}"


def discrete_colorscale() -> list[list]:
    """A plotly colorscale that maps z = state code (with zmin -0.5, zmax len(State) - 0.5) to its colour."""
    scale: list[list] = []
    for s in State:
        lo, hi = s / len(State), (s + 1) / len(State)
        scale += [[lo, STATE_COLOR[s]], [hi, STATE_COLOR[s]]]
    return scale
