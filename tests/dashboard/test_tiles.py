"""Domain tiles: score, sparkline of the score history and the domain's own data age."""

from __future__ import annotations

from dashboard.overview import sparkline, tile_body

NOW = 1_800_000_000.0


def _text(component) -> str:
    """All text under a Dash component (both languages)."""
    if isinstance(component, str):
        return component
    if isinstance(component, list | tuple):
        return " ".join(_text(c) for c in component)
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


def test_sparkline_rises_with_the_score_and_leaves_a_gap_where_all_was_stale():
    assert sparkline([60.0, 70.0, None, 80.0, 100.0]) == "▁▃ ▅█"
    assert sparkline([99.0, 100.0, 99.5]) == "███"  # a wobble of a point stays flat on the 10-point scale
    assert sparkline([100.0, 100.0]) == "██"  # steady and healthy: a line along the top
    assert sparkline([90.0, 100.0]) == "▁█"
    assert sparkline([100.0]) == "" and sparkline([None, None]) == ""  # nothing to draw a line from
    assert len(sparkline([50.0] * 100, points=30)) == 30


def test_a_tile_says_how_old_its_own_data_is():
    body = tile_body("public_safety", {"score": 92.0, "red": 1, "normal": 14, "data_ts": NOW - 125}, [90.0, 92.0], NOW)
    text = _text(body)
    assert "92" in text and "数据" in text and "data" in text and "■ 1" in text
    age = body[0].children[1].children[-1]  # after the label in both languages: the age, ticking in the browser
    assert (age.children, getattr(age, "data-ts")) == ("2 min", NOW - 125)
    stale = _text(tile_body("public_safety", {"score": None, "data_ts": None}, [], NOW))
    assert "—" in stale and "无数据" in stale and "no data" in stale


def test_an_age_is_never_negative_and_grows_in_coarser_units():
    from dashboard.components import age_text

    assert [age_text(s) for s in (-0.4, -3, 0.4, 89, 125, 7200, 3 * 86400)] == [
        "0 s", "0 s", "0 s", "89 s", "2 min", "2 h", "3 d"]


def test_a_state_waiting_out_its_minimum_duration_says_where_it_goes_and_counts_down():
    from dashboard.components import pending_note

    assert pending_note(None, None, 300.0, NOW) is None
    note = pending_note("normal", NOW - 120, 300.0, NOW)
    assert " ".join(_text(note).split()) == "→ 正常 （ 3 min 后） → normal in 3 min"
    # the browser counts down from the time the state will be taken (assets/55_ages.js)
    countdowns = [c for part in note for c in part.children if not isinstance(c, str)]
    assert [c.to_plotly_json()["props"]["data-until"] for c in countdowns] == [NOW + 180, NOW + 180]
    assert _text(pending_note("red", NOW - 400, 300.0, NOW)).endswith("0 s")  # due: taken on the next tick
