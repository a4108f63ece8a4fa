"""The responders' phone page (``/respond``): their units' open tasks, most urgent first, and the steps they take.

A plain page (it works at 390×844 on a phone's browser) whose script calls ``/api/v1/tasks``, so
every step goes through the same commands as the wall and the CLI. The script is a file served
from here: the CSP lets scripts run only from this origin.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, render_template_string, send_from_directory

from cityvitals.security import current_name, current_role

STATIC = Path(__file__).resolve().parent / "static"
PAGE = """<!doctype html><html lang="zh"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>任务 Tasks · City Vitals</title><link rel="stylesheet" href="/respond/respond.css"></head>
<body><header><h1>我的任务 My tasks</h1><span id="who" data-role="{{ role }}">{{ name }}</span>
{% if role == 'responder' %}<form method="post" action="/logout"><input type="hidden" name="csrf_token"
 value="{{ csrf }}"><button>退出 Log out</button></form>
{% else %}<a href="/login?next=/respond">登录 Log in</a>{% endif %}
</header><p id="message" role="status"></p><main id="tasks"></main>
<script src="/respond/respond.js"></script></body></html>"""


def respond_blueprint() -> Blueprint:
    """The page and its script and style."""
    bp = Blueprint("respond", __name__)

    @bp.get("/respond")
    def page() -> str:
        from flask_wtf.csrf import generate_csrf

        return render_template_string(PAGE, name=current_name(), role=current_role() or "", csrf=generate_csrf())

    @bp.get("/respond/<any('respond.js', 'respond.css'):name>")
    def asset(name: str):  # noqa: ANN202
        return send_from_directory(STATIC, name, max_age=0)

    return bp
