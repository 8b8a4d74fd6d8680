"""The console's query and form arguments: checked once, read through typed helpers.

Every request to the console passes `check_arguments` first: a name or value carrying NUL or
another control character, or longer than any filter needs, is refused (422) before a view or
the database sees it. Views then read ids and numbers with `id_arg` and `int_arg`, which bound
them (an id past the database's integers is an unknown id: 404), and build links with
`link_args`, which keeps the known filters only (never `fmt`, a path argument or `_external`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import abort, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import UnprocessableEntity

from backend.routing import ID_MAX
from backend.schemas.base import UNSTORABLE

VALUE_MAX = 2000  # a `next` path with its filters; every other value is far shorter
CONTROL = re.compile(UNSTORABLE)
DIGITS = re.compile(r"[0-9]+")
BEYOND = ID_MAX + 1  # what any longer run of digits stands for
FILTERS = ("unit", "days", "page", "q", "sort", "below", "state", "type", "status", "period",
           "actor", "action", "from", "to", "before", "sub")
INVALID = "查询条件或表单含有无效字符或过长，请检查后重试。"


def invalid(values: Iterable[tuple[str, str]]) -> bool:
    """Tell whether any name or value is too long or holds a control character."""
    return any(len(value) > VALUE_MAX or len(name) > 64 or CONTROL.search(name)
               or CONTROL.search(value) for name, value in values)


def check_arguments() -> None:
    """Refuse a request whose query or form holds control characters or overlong values."""
    if invalid(request.args.items(multi=True)) or invalid(request.form.items(multi=True)):
        error = UnprocessableEntity()
        error.data = {"message": INVALID}
        raise error


def parse_int(raw: str | None) -> int | None:
    """Return the number a string of ASCII digits spells, or None for anything else."""
    if raw is None or not DIGITS.fullmatch(raw):
        return None
    return int(raw) if len(raw) <= len(str(ID_MAX)) else BEYOND


def id_arg(name: str, source: MultiDict | None = None) -> int | None:
    """Return an id argument: None when absent or not a number; 404 when no row can have it."""
    value = parse_int((request.args if source is None else source).get(name))
    if value is None:
        return None
    if not 1 <= value <= ID_MAX:
        abort(404)
    return value


def int_arg(name: str, default: int, low: int, high: int) -> int:
    """Return a number argument within [low, high] (the default when absent or not a number)."""
    value = parse_int(request.args.get(name))
    return default if value is None else max(low, min(value, high))


def text_arg(name: str, limit: int, default: str = "") -> str:
    """Return a text argument, stripped and cut to `limit` characters."""
    return request.args.get(name, default).strip()[:limit]


def link_args(**changes: object) -> dict[str, object]:
    """Return the known filters of this request with some changed (None or "" drops one)."""
    kept = {k: v for k, v in request.args.items() if k in FILTERS}
    merged = {**kept, **changes}
    return {k: v for k, v in merged.items() if v not in (None, "")}
