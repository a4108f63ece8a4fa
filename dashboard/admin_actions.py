"""What the admin page's buttons do: each checks the admin role on the server and goes to the audit log.

Each action returns a new value for the page's change marker (so the lists are re-read at once)
and a message. Anyone may post to a Dash callback, so the role is checked here, not only by
hiding the controls, and every value is checked as if typed by a stranger: a refusal says why.
Refused attempts are audited, and actions are rate-limited per user.
"""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from pathlib import Path

import dash
from dash import ALL, Input, Output, State, callback, html

from cityvitals import store
from cityvitals.scenarios import KINDS, MAX_MINUTES
from cityvitals.security import allowed, current_name, refuse, write_allowed
from cityvitals.tokens import create_token, revoke_token
from cityvitals.users import audit
from dashboard import context, ids
from dashboard.admin import REFUSED
from dashboard.components import BUSY
from indicators.loader import Catalog, CatalogInvalid, load_catalog

PROFILE_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")  # a catalog profile id (indicators/schema.py), bounded
ENGINE_RELOAD_S = 5  # how often each engine checks its catalog files (wiring.runtime.start_engine)


def admin_action(func: Callable[..., tuple]) -> Callable[..., tuple]:
    """Refuse anyone but an admin; ignore the call Dash makes when a list's buttons are drawn anew."""
    @functools.wraps(func)
    def wrapper(*args):  # noqa: ANN202
        if not allowed("admin"):
            refuse(context.get().sql, "role", callback=func.__name__)
            return dash.no_update, html.Span(REFUSED, className="refused")
        if not any(t["value"] for t in dash.callback_context.triggered):
            return dash.no_update, dash.no_update
        if not write_allowed():
            refuse(context.get().sql, "rate_limit", callback=func.__name__)
            return dash.no_update, BUSY
        return func(*args)
    return wrapper


def action(trigger: Input, *states: State, answer: str = ids.ADMIN_MESSAGE) -> Callable:
    """Register an admin action fired by ``trigger``: it answers the change marker and ``answer``'s children."""
    def register(func: Callable[..., tuple]) -> Callable[..., tuple]:
        return callback(Output(ids.ADMIN_CHANGED, "data", allow_duplicate=True),
                        Output(answer, "children", allow_duplicate=True), trigger, *states,
                        prevent_initial_call=True)(admin_action(func))
    return register


def _done(action: str, message: str, **detail: object) -> tuple[float, str]:
    """Log the action in the audit log; the change marker and the message for the page."""
    audit(context.get().sql, current_name(), action, **detail)
    return time.time(), message


@action(Input(ids.ADMIN_START, "n_clicks"), State(ids.ADMIN_SCENARIO, "value"), State(ids.ADMIN_AREA, "value"),
        State(ids.ADMIN_MINUTES, "value"))
def start_scenario(_clicks: int, scenario: str | None, area: str | None, minutes: float | None) -> tuple:
    """Ask the simulator to play a scenario in an area (it takes it on its next round)."""
    if not isinstance(scenario, str) or scenario not in KINDS:
        return dash.no_update, "请选择场景 Choose a scenario"
    if not isinstance(area, str) or area not in context.get().tree:
        return dash.no_update, "请选择区域 Choose an area"
    length = _minutes(minutes, KINDS[scenario].minutes)
    if not 1 <= length <= MAX_MINUTES:
        return dash.no_update, f"时长须在 1 到 {MAX_MINUTES} 分钟 The length must be 1 to {MAX_MINUTES} minutes"
    store.start_scenario(context.get().client, scenario, area, time.time(), length)
    return _done("scenario_start", f"已开始 Started {scenario} in {area} for {length:g} min; the simulator takes it "
                 "on its next round", scenario=scenario, area=area, minutes=length)


def _minutes(value: object, default: float) -> float:
    """A length in minutes as typed (a number or its text); NaN, which the range check refuses, if it is none."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return math.nan
    try:
        return float(value)
    except (ValueError, OverflowError):
        return math.nan


def _pressed(field: str) -> str | None:
    """The pressed button's ``field`` in its id, if it is short text (ids come from the client)."""
    value = dash.ctx.triggered_id.get(field) if isinstance(dash.ctx.triggered_id, dict) else None
    return value if isinstance(value, str) and len(value) <= 200 else None


@action(Input(ids.admin_button("stop", key=ALL), "n_clicks"))
def stop_scenario(_clicks: list) -> tuple:
    """Stop the scenario whose button was pressed."""
    scenario, area = store.split_scenario_key(_pressed("key") or "")
    if scenario not in KINDS or area not in context.get().tree:
        return dash.no_update, "没有这个场景 No such scenario"
    if not store.stop_scenario(context.get().client, scenario, area):
        return time.time(), f"{scenario} in {area} was not running (any more)"
    return _done("scenario_stop", f"已停止 Stopped {scenario} in {area}", scenario=scenario, area=area)


@action(Input(ids.admin_button("profile", profile=ALL, switch=ALL), "n_clicks"))
def switch_profile(_clicks: list) -> tuple:
    """Switch the pressed profile on or off for every engine (they apply it on their next tick)."""
    name, on = _pressed("profile"), _pressed("switch") == "on"
    if name is None or not PROFILE_ID.fullmatch(name):
        return dash.no_update, "没有这个阈值方案 No such profile"
    changed = store.switch_profile(context.get().client, name, on)
    word = "on" if on else "off"
    return _done(f"profile_{word}", f"阈值方案 Profile {name} {word}{'' if changed else ' (it already was)'}; "
                 "the engines apply it on their next tick", profile=name)


@action(Input(ids.ADMIN_TOKEN_CREATE, "n_clicks"), State(ids.ADMIN_TOKEN_SOURCE, "value"))
def new_token(_clicks: int, source: str | None) -> tuple:
    """Create an ingest token and show it this once; only its hash is kept."""
    source = (source if isinstance(source, str) else "").strip()
    try:
        token = create_token(context.get().sql, source)
    except ValueError as exc:
        return dash.no_update, str(exc)
    changed, _ = _done("token_create", "", source=source)
    return changed, html.Div(className="token-shown", children=[
        html.Span(f"{source} 的令牌只显示这一次，请立即保存 Token for {source}, shown this once: store it now "),
        html.Code(token, className="token-value"),
    ])


@action(Input(ids.admin_button("revoke", token=ALL), "n_clicks"))
def revoke(_clicks: list) -> tuple:
    """Revoke the pressed token (running servers stop taking it within their token cache time)."""
    raw = _pressed("token")
    if raw is None or not raw.isdigit() or len(raw) > 12:
        return dash.no_update, "没有这个令牌 No such token"
    token_id = int(raw)
    if not revoke_token(context.get().sql, token_id):
        return time.time(), f"token #{token_id} was not live"
    return _done("token_revoke", f"已吊销 Revoked token #{token_id}", id=token_id)


@action(Input(ids.ADMIN_CHECK, "n_clicks"), answer=ids.ADMIN_CHECK_RESULT)
def check_catalog(_clicks: int) -> tuple:
    """Validate the catalog files the engines load, now, and say what the engines will do with them."""
    path = context.get().catalog_path
    catalog, errors = check_files(path)
    live = store.meta(context.get().client).catalog_version
    live = "—" if live is None else live
    changed, _ = _done("catalog_check", "", path=str(path), version=catalog.version if catalog else None,
                       errors=len(errors))
    return changed, check_result(path, catalog, errors, live)


def check_files(path: Path | None) -> tuple[Catalog | None, list[str]]:
    """Load the catalog at ``path`` as an engine's hot reload does: the catalog, or every error."""
    if path is None:
        return None, ["this server was started without a catalog path"]
    try:
        return load_catalog([path]), []
    except CatalogInvalid as exc:
        return None, [str(e) for e in exc.errors]
    except OSError as exc:
        return None, [f"{path}: {exc}"]


def check_result(path: Path | None, catalog: Catalog | None, errors: list[str], live: str) -> list:
    """What the check found, next to the version the engine runs."""
    if catalog is None:
        return [html.Div(f"✗ {path}: {len(errors)} error(s); the engines keep the last good catalog ({live})",
                         className="state-red"), html.Ul([html.Li(e, className="config-error") for e in errors])]
    then = ("the engine runs this version" if catalog.version == live else
            f"the engines load it within {ENGINE_RELOAD_S} s (now {live})")
    return [html.Div(f"✓ {path}: {len(catalog.indicators)} indicators, version {catalog.version}; {then}",
                     className="state-normal")]
