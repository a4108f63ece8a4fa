"""YAML with positions: validate a file against a pydantic model and say file:line:col for each error."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
MAX_DEPTH = 100  # nesting levels reported as too deep (no file of ours nests past ten)


def nesting_mark(text: str, limit: int = MAX_DEPTH) -> yaml.Mark | None:
    """Where ``text`` nests deeper than ``limit``, read as events (without recursion); None if it does not."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > limit:
                return event.start_mark
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def read_utf8(path: Path) -> str:
    """The file's text; a YAMLError marking the first byte that is not UTF-8."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = raw.count(b"\n", 0, exc.start), exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
        raise yaml.MarkedYAMLError(problem=f"byte 0x{raw[exc.start]:02x} is not UTF-8 text",
                                   problem_mark=yaml.Mark(str(path), exc.start, line, col, None, None)) from None


def compose_and_load(text: str) -> tuple[yaml.Node | None, object]:
    """The node tree (for positions) and the data of a YAML text.

    A YAMLError for bad syntax, deep nesting, or a key given twice in one mapping (PyYAML would keep
    the last silently, so an operator's first threshold would vanish without a word).
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:  # PyYAML composes recursively: a few hundred levels exhaust the stack
        raise yaml.MarkedYAMLError(problem=f"nested more than {MAX_DEPTH} levels deep",
                                   problem_mark=nesting_mark(text)) from None
    _refuse_repeated_keys(root)
    return root, yaml.safe_load(text)


def _refuse_repeated_keys(root: yaml.Node | None) -> None:
    """Raise a YAMLError at the second of two equal keys of one mapping (merge keys ``<<`` aside)."""
    stack, seen = ([root] if root is not None else []), set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an alias repeats its anchor's node: walk it once (an alias bomb stays cheap)
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Mark] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if key.value in first:
                        raise yaml.MarkedYAMLError(
                            problem=f"key {key.value!r} given twice in one mapping (first at line "
                                    f"{first[key.value].line + 1}); the second would silently replace the first",
                            problem_mark=key.start_mark)
                    first[key.value] = key.start_mark
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def syntax_error(exc: yaml.YAMLError, text: str) -> tuple[int, int, str]:
    """Line, column and a one-line reason for a YAML error (a bad character has a position, not a mark)."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return mark.line + 1, mark.column + 1, f"YAML syntax: {exc.problem}"
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return line, exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1, \
            f"YAML syntax: character #x{exc.character:04x} is not allowed: {exc.reason}"
    return 1, 1, "YAML syntax: " + " ".join(str(exc).split())


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
    text = ""
    try:
        text = read_utf8(path)
        root, data = compose_and_load(text)
    except OSError as exc:
        return None, [f"{path}: {exc.strerror or exc}"]
    except yaml.YAMLError as exc:
        line, col, reason = syntax_error(exc, text)
        return None, [f"{path}:{line}:{col}: {reason}"]
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
