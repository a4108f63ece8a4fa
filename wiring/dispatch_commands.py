"""`cityvitals routing check` and `cityvitals task ...`: the same dispatch commands as the wall and the API."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from cityvitals.config import load_settings


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register ``routing`` and ``task`` on the top-level sub-command parsers."""
    routing = subparsers.add_parser("routing", help="check the dispatch routing table (YAML)")
    rsub = routing.add_subparsers(dest="routing_command", required=True)
    check = rsub.add_parser("check", help="validate routing files; prints file:line:col: reason per error")
    check.add_argument("paths", nargs="*", type=Path, help="default: $CITYVITALS_ROUTING or the shipped table")
    check.set_defaults(func=cmd_routing_check)
    task = subparsers.add_parser("task", help="dispatch a task or take a step on one, as a named user")
    tsub = task.add_subparsers(dest="task_command", required=True)
    new = tsub.add_parser("dispatch", help="dispatch a task for an area (analyst or admin)")
    new.add_argument("area")
    new.add_argument("--as", dest="user", required=True, help="the user who dispatches (their rights count)")
    new.add_argument("--instruction", required=True)
    new.add_argument("--type", dest="task_type", help="task type of the routing table (sets the deadlines)")
    new.add_argument("--priority", default="normal", choices=["low", "normal", "high", "urgent"])
    new.add_argument("--due", help="deadline, ISO 8601 with its zone (default: by the task type)")
    new.add_argument("--unit", help="send to this unit instead of the routed one")
    new.add_argument("--indicator")
    new.add_argument("--group", help="the indicator's domain or panel (routes district tasks to a department)")
    new.set_defaults(func=cmd_task_dispatch)
    from cityvitals.dispatch.commands import ACTIONS

    step = tsub.add_parser("step", help="take a step on a task: " + ", ".join(ACTIONS))
    step.add_argument("action", choices=sorted(ACTIONS))
    step.add_argument("task", type=int)
    step.add_argument("--as", dest="user", required=True)
    step.add_argument("--note", help="note (handle) or reason (return, reopen, escalate)")
    step.add_argument("--unit", help="the unit below to re-dispatch to")
    step.add_argument("--photo", type=Path, help="handle: a JPEG, PNG or WebP file kept as the evidence "
                      "(checked like the phone page's)")
    step.set_defaults(func=cmd_task_step)
    listing = tsub.add_parser("list", help="list tasks, newest first")
    listing.add_argument("--unit", action="append", help="only tasks of these units")
    listing.add_argument("--open", action="store_true", help="only open tasks")
    listing.set_defaults(func=cmd_task_list)
    show = tsub.add_parser("show", help="a task and its events, as JSON")
    show.add_argument("task", type=int)
    show.set_defaults(func=cmd_task_show)
    grade = tsub.add_parser("assess", help="assessment (考核) per unit: received, on time, returned... as CSV")
    grade.add_argument("--days", type=float, default=7.0, help="the period: the last DAYS days (default 7)")
    grade.set_defaults(func=cmd_task_assess)
    tsub.add_parser("escalate", help="escalate every task past its deadline now (the web process does so "
                    "every 30 s)").set_defaults(func=cmd_task_escalate)


def cmd_routing_check(args: argparse.Namespace) -> int:
    """Print each file's problems (or a summary of a good one); exit 1 if any file is refused."""
    from cityvitals.dispatch.routing import load_routing

    bad = 0
    for path in args.paths or [load_settings().routing_path]:
        spec, errors = load_routing(path)
        for error in errors:
            print(error)
        if spec is None:
            bad += 1
            continue
        print(f"{path}: ok: {len(spec.levels)} levels, {len(spec.departments)} departments, "
              f"{len(spec.task_types)} task types")
    return 1 if bad else 0


def _context():  # noqa: ANN202
    from cityvitals.connections import open_connections
    from wiring.dispatching import dispatch_context

    return dispatch_context(open_connections(load_settings()))


def _actor(ctx, name: str):  # noqa: ANN001, ANN202
    from cityvitals.users import find_user
    from wiring.dispatching import actor_of

    user = find_user(ctx.sql, name)
    if user is None:
        raise SystemExit(f"cityvitals: no user {name!r}")
    return actor_of(ctx, user)


def _done(run) -> int:  # noqa: ANN001
    from cityvitals.dispatch.commands import DispatchError

    try:
        task = run()
    except DispatchError as exc:
        for reason in exc.reasons:
            print(f"refused: {reason}", file=sys.stderr)
        return 1
    print(json.dumps(task.as_dict(), ensure_ascii=False))
    return 0


def cmd_task_dispatch(args: argparse.Namespace) -> int:
    """Dispatch a task as the named user; print it as JSON, or every reason it was refused."""
    from cityvitals.dispatch.commands import DispatchTask

    due = None
    if args.due:
        parsed = datetime.fromisoformat(args.due)
        if parsed.tzinfo is None:
            print(f"cityvitals: --due {args.due!r} has no time zone", file=sys.stderr)
            return 2
        due = parsed.timestamp()
    ctx = _context()
    return _done(DispatchTask(ctx, _actor(ctx, args.user), area=args.area, instruction=args.instruction,
                              task_type=args.task_type, priority=args.priority, due=due, unit=args.unit,
                              indicator=args.indicator, group=args.group).run)


def cmd_task_step(args: argparse.Namespace) -> int:
    """Take one step on a task as the named user; ``--photo`` is uploaded first, for the handle step to name."""
    from cityvitals.dispatch.commands import ACTIONS

    if args.photo is not None and args.action != "handle":
        print(f"cityvitals: --photo goes with handle, not {args.action}", file=sys.stderr)
        return 2
    ctx = _context()
    actor = _actor(ctx, args.user)
    extra = {"unit": args.unit} if args.unit else {}
    if args.photo is not None:
        name = _upload(ctx, actor, args.task, args.photo)
        if name is None:
            return 1
        extra["photo"] = name
    status = _done(ACTIONS[args.action](ctx, actor, args.task, args.note, **extra).run)
    if status and args.photo is not None:  # the step was refused: keep no photo that no step names
        (ctx.photos / extra["photo"]).unlink(missing_ok=True)
    return status


def _upload(ctx, actor, task_id: int, path: Path) -> str | None:  # noqa: ANN001
    """Keep the photo at ``path`` for the task (the same command as the page's upload); its name, or None."""
    from cityvitals.dispatch.commands import AddPhoto, DispatchError
    from cityvitals.dispatch.photos import MAX_BYTES

    try:
        size = path.stat().st_size
        # a file over the limit is refused unread (a photo may be a mistaken multi-gigabyte video)
        data = path.read_bytes() if size <= MAX_BYTES else None
    except OSError as exc:
        print(f"refused: {path}: {exc.strerror}", file=sys.stderr)
        return None
    if data is None:
        print(f"refused: {path}: the photo has {size} bytes; at most {MAX_BYTES}", file=sys.stderr)
        return None
    try:
        return AddPhoto(ctx, actor, task_id, data).run()
    except DispatchError as exc:
        for reason in exc.reasons:
            print(f"refused: {path}: {reason}", file=sys.stderr)
        return None


def cmd_task_list(args: argparse.Namespace) -> int:
    """One line per task: number, status, unit, area, deadline."""
    from cityvitals.dispatch.tasks import OPEN, list_tasks

    ctx = _context()
    for t in list_tasks(ctx.sql, units=args.unit, statuses=OPEN if args.open else None):
        due = datetime.fromtimestamp(t.due).astimezone().isoformat(timespec="seconds")
        print(f"{t.id:>6} {t.status:<10} {t.unit:<36} {t.area:<28} due {due}")
    return 0


def cmd_task_show(args: argparse.Namespace) -> int:
    """Print a task and its events as JSON; exit 1 if there is no such task."""
    from cityvitals.dispatch.tasks import read_events, read_task

    ctx = _context()
    task = read_task(ctx.sql, args.task)
    if task is None:
        print(f"cityvitals: no task {args.task}", file=sys.stderr)
        return 1
    events = [e.as_dict() for e in read_events(ctx.sql, [task.id])[task.id]]
    print(json.dumps({**task.as_dict(), "events": events}, ensure_ascii=False, indent=1))
    return 0


def cmd_task_escalate(args: argparse.Namespace) -> int:
    """Escalate every task past its deadline; print how many."""
    from cityvitals.dispatch.commands import escalate_overdue

    print(f"{len(escalate_overdue(_context()))} task(s) escalated")
    return 0


def cmd_task_assess(args: argparse.Namespace) -> int:
    """Print the ranked units of the last ``--days`` days as CSV."""
    import time

    from cityvitals.dispatch.assessment import assess, scores_csv

    ctx = _context()
    now = time.time()
    sys.stdout.write(scores_csv(assess(ctx.sql, ctx.routing, now - args.days * 86400.0, now + 1), ctx.routing))
    return 0


def cmd_user_units(args: argparse.Namespace) -> int:
    """Bind a responder to units (each must exist in the routing table); exit 1 if refused."""
    from cityvitals.dispatch.tasks import bind_units
    from cityvitals.users import audit, find_user

    ctx = _context()
    user = find_user(ctx.sql, args.name)
    if user is None or user.role != "responder":
        print(f"cityvitals: {args.name!r} is not a responder (cityvitals user role NAME --role responder)",
              file=sys.stderr)
        return 1
    unknown = [u for u in args.units if ctx.routing.unit(u) is None]
    if unknown:
        print(f"cityvitals: unknown unit(s) {', '.join(unknown)}", file=sys.stderr)
        return 1
    bind_units(ctx.sql, user.id, args.units)
    audit(ctx.sql, "cli", "user_units", name=user.name, units=sorted(args.units))
    print(f"user {user.name!r} answers for {', '.join(sorted(args.units)) or 'no unit'}")
    return 0
