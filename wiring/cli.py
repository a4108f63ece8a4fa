"""The ``cityvitals`` command: run the whole thing, check areas and the catalog."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cityvitals.config import ConfigError, load_settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine as SqlEngine

log = logging.getLogger("cityvitals")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    from cityvitals.areas import commands as area_commands
    from wiring import archive_commands, backtest_commands, db_commands, dispatch_commands, order_history_command

    parser = argparse.ArgumentParser(prog="cityvitals", description="City Vitals: real-time city vital signs.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run feeds, engine and dashboard in one process (embedded defaults)")
    run.add_argument("--port", type=int, default=8050)
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--data-dir", default=None, help="where the embedded Redis and SQLite keep their files")
    run.add_argument("--sim-interval", type=float, default=60.0, help="seconds between simulator rounds")
    run.add_argument("--no-simulator", action="store_true", help="do not start the simulated city feed")
    run.set_defaults(func=cmd_run)
    area_commands.add_parsers(sub)
    db_commands.add_parsers(sub)
    archive_commands.add_parsers(sub)
    backtest_commands.add_parsers(sub)
    dispatch_commands.add_parsers(sub)
    catalog = sub.add_parser("catalog", help="check or list the indicator catalog")
    csub = catalog.add_subparsers(dest="catalog_command", required=True)
    check = csub.add_parser("check", help="validate catalog files; prints file:line: reason per error")
    check.add_argument("paths", nargs="*", type=Path)
    check.set_defaults(func=cmd_catalog_check)
    listing = csub.add_parser("list", help="list indicators")
    listing.add_argument("--json", action="store_true", help="one JSON array")
    listing.add_argument("paths", nargs="*", type=Path)
    listing.set_defaults(func=cmd_catalog_list)
    rules = csub.add_parser("test", help="run rule unit tests (YAML: input series, expected states)")
    rules.add_argument("files", nargs="+", type=Path)
    rules.set_defaults(func=cmd_catalog_test)
    add_token_parsers(sub)
    add_user_parsers(sub)
    engine = sub.add_parser("engine", help="the indicator engine as its own worker process")
    esub = engine.add_subparsers(dest="engine_command", required=True)
    esub.add_parser("run", help="score the sample stream until SIGTERM (one process leads, others stand by)"
                    ).set_defaults(func=cmd_engine_run)
    profile = sub.add_parser("profile", help="switch a threshold profile (flood season, large event...) on or off")
    profile.add_argument("action", choices=["list", "on", "off"])
    profile.add_argument("name", nargs="?")
    profile.add_argument("--data-dir", default=None, help="the data dir of the running app (embedded Redis)")
    profile.set_defaults(func=cmd_profile)
    feeds = sub.add_parser("feeds", help="run or check the feed adapters of a feeds configuration file")
    fsub = feeds.add_subparsers(dest="feeds_command", required=True)
    frun = fsub.add_parser("run", help="run feed adapters as a worker process until SIGTERM")
    frun.add_argument("names", nargs="*", help="feeds to run (default: all in the file)")
    frun.add_argument("--config", type=Path, default=None, help="feeds YAML (default: $CITYVITALS_FEEDS, "
                                                                 "else the simulator alone)")
    frun.set_defaults(func=cmd_feeds_run)
    fcheck = fsub.add_parser("check", help="validate a feeds file; file:line:col: reason per error")
    fcheck.add_argument("config", type=Path)
    fcheck.set_defaults(func=cmd_feeds_check)
    freplay = fsub.add_parser("replay", help="replay a CSV or Parquet export into the store (resumable)")
    freplay.add_argument("file", type=Path)
    freplay.add_argument("--mapping", type=Path, metavar="YAML",
                         help="a mapping file: time from several columns, constants, value maps, wide files")
    freplay.add_argument("--dry-run", action="store_true",
                         help="print the first samples as they would be stored and the refusal counts; store nothing")
    freplay.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                         help="time, value, metric, area or lon/lat: the column that holds it (repeat)")
    freplay.add_argument("--metric", help="the metric of every row, when no column names it")
    freplay.add_argument("--time-format", help="strftime format of the time column (default: ISO 8601 or Unix s)")
    freplay.add_argument("--timezone", default="Asia/Shanghai", help="zone of times without an offset")
    freplay.add_argument("--speed", default="1", help="data time per real time: 1, 60, ... or max")
    freplay.add_argument("--name", default="replay", help="feed name (health record and checkpoint)")
    freplay.set_defaults(func=cmd_feeds_replay)
    order_history_command.add_parser(fsub)
    sim = sub.add_parser("simulate", help="start or stop an incident scenario in the running simulated city")
    sim.add_argument("--scenario", help="flood, pollution, large_event, power_outage or hotline_surge")
    sim.add_argument("--area", help="area id (default: the first area of the scenario's usual level)")
    sim.add_argument("--minutes", type=float, help="how long it lasts (default: the scenario's usual length)")
    sim.add_argument("--stop", action="store_true", help="stop the scenario in the area instead")
    sim.add_argument("--list", action="store_true", help="list the scenarios and those running")
    sim.add_argument("--data-dir", default=None, help="the data dir of the running app (embedded Redis)")
    sim.set_defaults(func=cmd_simulate)
    return parser


def cmd_engine_run(args: argparse.Namespace) -> int:
    """Run the engine (tick and catalog hot reload) in this process until SIGTERM or SIGINT."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from cityvitals.leader import shut_down
    from cityvitals.shutdown import wait_for_stop
    from wiring.dispatching import dispatch_context, start_escalation
    from wiring.runtime import open_runtime, save_engine_snapshot, start_archive, start_engine

    rt = open_runtime(load_settings())
    scheduler = BackgroundScheduler(timezone="UTC")
    leadership = start_engine(rt, scheduler)
    archive_lead = start_archive(rt, scheduler)  # the sample archive (cityvitals/archive/)
    start_escalation(dispatch_context(rt), scheduler, rt.settings)  # past deadlines a level up; the webhook
    scheduler.start()
    log.info("engine worker up (redis %s, database %s)", rt.redis_url, rt.settings.database_url)
    wait_for_stop()
    shut_down(scheduler, leadership, archive_lead)  # the tick in progress ends (and is acknowledged) first
    save_engine_snapshot(rt)  # after the lead went: a tick a standby writes meanwhile makes it unused, not wrong
    _stop_embedded_redis(rt)
    return 0


def _stop_embedded_redis(rt) -> None:  # noqa: ANN001 (a Runtime; imported lazily like the rest)
    """Stop the embedded redis-server this process started, unless another process still uses it."""
    from cityvitals.redis_server import stop_embedded

    if rt.settings.embedded_redis:
        stop_embedded(rt.client)


def cmd_profile(args: argparse.Namespace) -> int:
    """List the catalog's profiles with their state, or switch one on or off for every engine."""
    from cityvitals import store
    from cityvitals.users import audit
    from wiring.runtime import open_runtime

    rt = open_runtime(load_settings(args.data_dir))
    known = rt.catalog.profiles
    if args.action == "list":
        switched = store.profiles_on(rt.client)
        for p in known.values():
            dates = f" (by date {p.start} to {p.end})" if p.start and p.end else ""
            print(f"{p.id:<20} {'ON ' if p.id in switched else 'off'} {p.name.zh} {p.name.en}{dates}")
        return 0
    if args.name not in known:
        print(f"cityvitals: unknown profile {args.name!r}; the catalog has {', '.join(known) or 'none'}",
              file=sys.stderr)
        return 2
    changed = store.switch_profile(rt.client, args.name, args.action == "on")
    audit(rt.sql, "cli", f"profile_{args.action}", profile=args.name)
    print(f"profile {args.name} {args.action}{'' if changed else ' (it already was)'}; engines apply it next tick")
    return 0


def _feeds_config(path: Path | None):
    import os

    from feeds.config import load_feeds

    env = os.environ.get("CITYVITALS_FEEDS")
    return load_feeds(path or (Path(env) if env else None))


def cmd_feeds_check(args: argparse.Namespace) -> int:
    """Validate a feeds file."""
    from feeds.config import FeedsConfigError

    try:
        config = _feeds_config(args.config)
    except FeedsConfigError as exc:
        print(exc)
        return 1
    print(f"ok: {len(config.feeds)} feed(s): {', '.join(f'{f.name} ({f.type})' for f in config.feeds)}")
    return 0


def cmd_feeds_run(args: argparse.Namespace) -> int:
    """Run the configured feeds in this process until SIGTERM or SIGINT."""
    from cityvitals.shutdown import wait_for_stop
    from feeds.config import FeedsConfigError
    from feeds.worker import run_until_stopped
    from wiring.runtime import open_runtime

    try:
        config = _feeds_config(args.config)
    except FeedsConfigError as exc:
        print(f"cityvitals: the feeds configuration has errors:\n{exc}", file=sys.stderr)
        return 2
    rt = open_runtime(load_settings())
    try:
        run_until_stopped(rt, config, args.names, wait_for_stop)
    except ValueError as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2
    finally:
        _stop_embedded_redis(rt)
    return 0


def cmd_feeds_replay(args: argparse.Namespace) -> int:
    """Replay one file through the ingest path, resuming from its checkpoint (see wiring/replay_command.py)."""
    from wiring.replay_command import replay

    return replay(args)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Ask the running simulator for a scenario (through Redis), stop one, or list them."""
    import time

    from cityvitals import store
    from cityvitals.scenarios import KINDS, MAX_MINUTES
    from cityvitals.users import audit
    from wiring.runtime import open_runtime

    rt = open_runtime(load_settings(args.data_dir))
    if args.list or not args.scenario:
        for s in KINDS.values():
            print(f"{s.id:<14} {s.name_zh} {s.name_en} (level {s.level}, {s.minutes:g} min)")
        for r in store.read_scenarios(rt.client):
            left = r["start"] + r["minutes"] * 60 - time.time()
            print(f"running: {r['scenario']} in {r['area']}, {max(left, 0) / 60:.0f} min left")
        return 0
    scenario = KINDS.get(args.scenario)
    if scenario is None:
        print(f"cityvitals: unknown scenario {args.scenario!r}; one of {', '.join(KINDS)}", file=sys.stderr)
        return 2
    area = args.area or rt.tree.ids(scenario.level)[0]
    if area not in rt.tree:
        print(f"cityvitals: unknown area {area!r}", file=sys.stderr)
        return 2
    if args.stop:
        stopped = store.stop_scenario(rt.client, scenario.id, area)
        audit(rt.sql, "cli", "scenario_stop", scenario=scenario.id, area=area, stopped=stopped)
        print(f"{scenario.id} in {area}: {'stopped' if stopped else 'was not running'}")
        return 0 if stopped else 1
    minutes = args.minutes or scenario.minutes
    if not 0 < minutes <= MAX_MINUTES:
        print(f"cityvitals: --minutes must be more than 0 and at most {MAX_MINUTES}", file=sys.stderr)
        return 2
    store.start_scenario(rt.client, scenario.id, area, time.time(), minutes)
    audit(rt.sql, "cli", "scenario_start", scenario=scenario.id, area=area, minutes=minutes)
    print(f"{scenario.id} ({scenario.name_zh}) starts in {area} ({rt.tree[area].name_zh}) for {minutes:g} min; "
          "the simulator takes it on its next round")
    return 0


def add_user_parsers(sub: argparse._SubParsersAction) -> None:
    from wiring import dispatch_commands

    """``cityvitals user add|list|remove``: accounts for the dashboard (viewer, analyst, admin)."""
    user = sub.add_parser("user", help="add, list or remove dashboard users")
    usub = user.add_subparsers(dest="user_command", required=True)
    add = usub.add_parser("add", help="add a user; the password is read from standard input")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["viewer", "analyst", "admin", "responder"])
    add.set_defaults(func=cmd_user_add)
    usub.add_parser("list", help="list users and roles").set_defaults(func=cmd_user_list)
    remove = usub.add_parser("remove", help="remove a user (their sessions end)")
    remove.add_argument("name")
    remove.set_defaults(func=cmd_user_remove)
    password = usub.add_parser("password", help="set a new password, read from standard input (sessions end)")
    password.add_argument("name")
    password.set_defaults(func=cmd_user_password)
    role = usub.add_parser("role", help="give a user another role (their sessions end)")
    role.add_argument("name")
    role.add_argument("--role", required=True, choices=["viewer", "analyst", "admin", "responder"])
    role.set_defaults(func=cmd_user_role)
    units = usub.add_parser("units", help="bind a responder to the units whose tasks they see and step")
    units.add_argument("name")
    units.add_argument("units", nargs="*", metavar="UNIT", help="unit ids (none: unbind from all)")
    units.set_defaults(func=dispatch_commands.cmd_user_units)


def _read_password() -> str:
    import getpass

    return getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")


def cmd_user_add(args: argparse.Namespace) -> int:
    """Add a user with the password given on standard input (a prompt on a terminal)."""
    from cityvitals.users import add_user, audit

    password = _read_password()
    sql = _sql()
    try:
        user = add_user(sql, args.name, password, args.role)
    except ValueError as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2
    audit(sql, "cli", "user_add", name=user.name, role=user.role)
    print(f"user {user.name!r} added as {user.role}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    """One line per user: name, role, whether disabled."""
    from cityvitals.users import list_users

    for user, disabled in list_users(_sql()):
        print(f"{user.name:<24} {user.role:<8} {'disabled' if disabled else ''}".rstrip())
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    """Remove a user; exit 1 if there is none by that name."""
    from cityvitals.users import remove_user

    sql = _sql()
    return _said(sql, remove_user(sql, args.name), ("user_remove", {"name": args.name}),
                 f"user {args.name!r} removed", f"no user {args.name!r}")


def _said(sql: SqlEngine, done: bool, action: tuple[str, dict], said: str, missing: str) -> int:
    """Audit and say what was done (exit 0), or say that there was nothing to do it to (exit 1)."""
    from cityvitals.users import audit

    if not done:
        print(f"cityvitals: {missing}", file=sys.stderr)
        return 1
    audit(sql, "cli", action[0], **action[1])
    print(said)
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    """Set a user's password from standard input and end their sessions; exit 1 if there is no such user."""
    from cityvitals.users import set_password

    sql = _sql()
    try:
        found = set_password(sql, args.name, _read_password())
    except ValueError as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2
    return _user_changed(sql, found, args.name, "user_password", "password changed")


def cmd_user_role(args: argparse.Namespace) -> int:
    """Give a user another role and end their sessions; exit 1 if there is no such user."""
    from cityvitals.users import set_role

    sql = _sql()
    return _user_changed(sql, set_role(sql, args.name, args.role), args.name, "user_role", f"now {args.role}",
                         role=args.role)


def _user_changed(sql, found: bool, name: str, action: str, what: str, **detail: str) -> int:  # noqa: ANN001
    from cityvitals.users import audit

    if not found:
        print(f"cityvitals: no user {name!r}", file=sys.stderr)
        return 1
    audit(sql, "cli", action, name=name, **detail)
    print(f"user {name!r}: {what}; their sessions have ended")
    return 0


def add_token_parsers(sub: argparse._SubParsersAction) -> None:
    """``cityvitals token create|list|revoke``: ingest tokens for the HTTP push API."""
    token = sub.add_parser("token", help="create, list or revoke ingest tokens for POST /api/v1/samples")
    tsub = token.add_subparsers(dest="token_command", required=True)
    create = tsub.add_parser("create", help="create a token for a source; it is printed once, stored hashed")
    create.add_argument("source", help="the feed name the pushed samples are counted under (push:<source>)")
    create.set_defaults(func=cmd_token_create)
    tsub.add_parser("list", help="list tokens (never their values)").set_defaults(func=cmd_token_list)
    revoke = tsub.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)
    revoke.set_defaults(func=cmd_token_revoke)


def _sql():
    from cityvitals.db import connect_database, create_schema
    from cityvitals.private_files import private_dir

    settings = load_settings()
    private_dir(settings.data_dir)
    sql = connect_database(settings.database_url)
    create_schema(sql)
    return sql


def cmd_token_create(args: argparse.Namespace) -> int:
    """Print a new token for a source; only its hash is kept."""
    from cityvitals.tokens import create_token
    from cityvitals.users import audit

    sql = _sql()
    try:
        token = create_token(sql, args.source)
    except ValueError as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2
    audit(sql, "cli", "token_create", source=args.source)
    print(token)
    print(f"token for source {args.source!r}: shown once, store it now", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    """One line per token: id, source, created, revoked."""
    from cityvitals.tokens import list_tokens

    for t in list_tokens(_sql()):
        revoked = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "live"
        print(f"{t.id:>4}  {t.source:<24} created {t.created_at:%Y-%m-%d %H:%M}  {revoked}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    """Revoke a token; exit 1 if there is no such live token."""
    from cityvitals.tokens import revoke_token

    sql = _sql()
    return _said(sql, revoke_token(sql, args.id), ("token_revoke", {"id": args.id}), f"token {args.id} revoked",
                 f"no live token with id {args.id}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console command."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apscheduler", "alembic"):  # a line per job run or per start drowns the real news
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except ConfigError as exc:
        print(f"cityvitals: {exc}", file=sys.stderr)
        return 2


def cmd_run(args: argparse.Namespace) -> int:
    """Run everything in this process and serve the dashboard until SIGTERM or SIGINT."""
    import threading

    from apscheduler.schedulers.background import BackgroundScheduler

    from cityvitals.leader import shut_down
    from cityvitals.shutdown import wait_for_stop
    from feeds.simulator.adapter import start_simulator
    from feeds.simulator.config import SimulatorFeedConfig
    from indicators.loader import CatalogInvalid
    from wiring.dispatching import dispatch_context, start_escalation
    from wiring.runtime import open_runtime, save_engine_snapshot, start_archive, start_engine
    from wiring.web import build_server, http_server

    try:
        rt = open_runtime(load_settings(args.data_dir))
    except CatalogInvalid as exc:
        print(f"cityvitals: the indicator catalog has errors:\n{exc}", file=sys.stderr)
        return 2
    http = http_server(build_server(rt), args.host, args.port)
    try:
        http.prepare()  # binds the port: a taken one is said before anything starts
    except OSError as exc:
        print(f"cityvitals: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})", file=sys.stderr)
        return 2
    scheduler = BackgroundScheduler(timezone="UTC")
    leads = start_engine(rt, scheduler), start_archive(rt, scheduler)  # the archive: cityvitals/archive/
    start_escalation(dispatch_context(rt), scheduler, rt.settings)  # past deadlines a level up; the webhook
    if not args.no_simulator:
        start_simulator(rt, SimulatorFeedConfig(type="simulator", interval_s=args.sim_interval), scheduler)
    scheduler.start()
    threading.Thread(target=http.serve, name="http", daemon=True).start()
    log.info("City Vitals on http://%s:%d (redis %s, database %s)", args.host, args.port, rt.redis_url,
             rt.settings.database_url)
    wait_for_stop()
    http.stop()
    shut_down(scheduler, *leads)  # as in `engine run`; the feeds' locks freed too
    save_engine_snapshot(rt)
    _stop_embedded_redis(rt)
    return 0


def _catalog_paths(args: argparse.Namespace) -> list[Path]:
    return args.paths or [load_settings().catalog_path]


def cmd_catalog_check(args: argparse.Namespace) -> int:
    """Validate the catalog; one line per error, exit 1 if any."""
    from indicators.loader import CatalogInvalid, load_catalog

    try:
        catalog = load_catalog(_catalog_paths(args))
    except CatalogInvalid as exc:
        for err in exc.errors:
            print(err)
        print(f"{len(exc.errors)} error(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(catalog.indicators)} indicators in {len(catalog.files)} file(s), version {catalog.version}")
    return 0


def cmd_catalog_test(args: argparse.Namespace) -> int:
    """Run rule-test files through the real engine; one line per failure, exit 1 if any."""
    from indicators.ruletest import run_file

    failed = checked = 0
    for path in args.files:
        outcome = run_file(path)
        checked += outcome.checked
        for line in outcome.failures:
            print(f"FAIL {line}")
        failed += len(outcome.failures)
    print(f"{checked} expectation(s) checked in {len(args.files)} file(s), {failed} failure(s)")
    return 1 if failed else 0


def cmd_catalog_list(args: argparse.Namespace) -> int:
    """Print the indicators, as one JSON array with --json."""
    from indicators.loader import CatalogInvalid, load_catalog

    try:
        catalog = load_catalog(_catalog_paths(args))
    except CatalogInvalid as exc:
        print(exc, file=sys.stderr)
        return 1
    rows = [{"id": i.id, "name": i.name.model_dump(), "tier": i.tier, "group": i.group, "unit": i.unit,
             "direction": i.direction, "rollup": i.rollup,
             "thresholds": i.thresholds.model_dump(), "weight": i.weight} for i in catalog.indicators]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{r['id']:<40} {r['tier']:<6} {r['group']:<22} {r['direction']:<16} {r['thresholds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
