"""YAML with positions: validate a file against a pydantic model and say file:line:col for each error."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def node_at(node: yaml.Node, loc: tuple) -> yaml.Node:
    """Follow a pydantic error location through the YAML node tree as far as it goes.

    A part the file does not have (a union's tag, a missing field) is skipped, not followed.
    """
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            if nxt is None:  # unknown key: point at the key itself
                nxt = next((k for k, _ in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        else:
            nxt = None
        if nxt is not None:
            node = nxt
    return node


def load_model(path: Path, model: type[M]) -> tuple[M | None, list[str]]:
    """The file as ``model``, or None and every problem as ``file:line:col: field: reason``."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        return None, [f"{path}: {exc.strerror or exc}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return None, [f"{path}:{line}:{col}: YAML syntax: {getattr(exc, 'problem', exc)}"]
    try:
        return model.model_validate(data or {}), []
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            node = node_at(root, loc) if root is not None else None
            line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
            errors.append(f"{path}:{line}:{col}: {'.'.join(map(str, loc))}: {err['msg']}")
        return None, errors
