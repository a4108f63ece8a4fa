"""The one line a command stops with when a configured server does not answer (no traceback)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from cityvitals.config import ConfigError


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def reason(exc: BaseException) -> str:
    """Why a connection failed, as a person would say it: "connection refused", "name or service not known"."""
    for cause in _chain(exc):  # client libraries wrap the socket's error in their own
        if isinstance(cause, OSError) and cause.strerror:
            text = cause.strerror
            break
    else:  # drivers that keep only the message (psycopg): its last clause
        lines = str(exc).strip().splitlines()
        text = re.split(r": |\. ", lines[0])[-1] if lines else type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\] ", "", text.strip()).rstrip(".")
    return text[:1].lower() + text[1:]


def unreachable(server: str, where: str, exc: BaseException, setting: str) -> ConfigError:
    """The error for ``server`` at ``where`` not answering, naming the setting that points at it."""
    return ConfigError(f"cannot reach {server} at {where} ({reason(exc)}); set {setting}")
