"""Photo evidence of a handled task: checked to be an image of a known kind and size, kept in the data directory.

A photo is stored under a name the server makes (``task-<id>-<random>.<ext>``), never one the
client sends, in a directory only this user may read. Pillow opens and verifies the bytes: a file
that merely claims to be a JPEG is refused, and so is one whose pixels would take gigabytes.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from cityvitals.private_files import private_dir

MAX_BYTES = 8_000_000  # a phone's photo is 2 to 5 MB
MAX_PIXELS = 50_000_000  # 8K by 6K; a decompression bomb claims far more
KINDS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
NAME = re.compile(r"task-(?P<task>\d{1,12})-[0-9a-f]{16}\.(jpg|png|webp)")


class PhotoError(ValueError):
    """The bytes are not a photo we keep; the message says why."""


def check_photo(data: bytes) -> str:
    """The file extension for ``data``; a PhotoError if it is empty, too large, not an image or too many pixels."""
    if not data:
        raise PhotoError("the photo is empty")
    if len(data) > MAX_BYTES:
        raise PhotoError(f"the photo has {len(data)} bytes; at most {MAX_BYTES}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = image.format, image.size
            if width * height > MAX_PIXELS:
                raise PhotoError(f"the photo has {width}×{height} pixels; at most {MAX_PIXELS}")
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        if isinstance(exc, PhotoError):
            raise
        raise PhotoError(f"not an image Pillow can read ({type(exc).__name__})") from None
    if kind not in KINDS:
        raise PhotoError(f"a {kind} image; only {', '.join(KINDS)} are kept")
    return KINDS[kind]


def save_photo(directory: Path, task_id: int, data: bytes) -> str:
    """Check ``data`` and keep it for the task; the name it is kept under."""
    ext = check_photo(data)
    private_dir(directory)
    name = f"task-{task_id}-{secrets.token_hex(8)}.{ext}"
    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return name


def photo_problem(directory: Path | None, task_id: int, name: object) -> str | None:
    """Why ``name`` is not a photo kept for this task; None if it is one."""
    match = NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None or int(match["task"]) != task_id:
        return f"photo {str(name)[:80]!r} is not a photo uploaded for task {task_id}"
    if directory is None or not (directory / name).is_file():
        return f"photo {name} was never uploaded"
    return None
