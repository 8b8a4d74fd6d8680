"""URL converters that bound every path value before a view or the database sees it.

An id is a positive integer that fits the database's integer columns; a text segment is at most
256 characters without control characters. Anything else matches no rule: 404, never a query
that overflows a column or carries a NUL to PostgreSQL.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, PathConverter, UnicodeConverter

from backend.schemas.base import CONTROL_CHARACTERS

ID_MAX = 2**31 - 1  # PostgreSQL integer; SQLite holds more
TEXT_MAX = 256


class IdConverter(IntegerConverter):
    """`<int:...>`: a positive integer no larger than the database's integer columns."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = None, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, ID_MAX if max is None else max, signed)
        if not signed:
            self.regex = r"\d{1,10}"  # a longer number cannot be in range: no int() of it


class TextConverter(UnicodeConverter):
    """`<name>`, `<string:name>`: one segment of plain text."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None,
                 length: int | None = None) -> None:
        high = TEXT_MAX if maxlength is None else maxlength
        super().__init__(map, minlength, high, length)
        low, high = (length, length) if length is not None else (minlength, high)
        self.regex = f"[^/{CONTROL_CHARACTERS}]{{{low},{high}}}"


class PlainPathConverter(PathConverter):
    """`<path:name>`: several segments of plain text."""

    regex = f"[^/{CONTROL_CHARACTERS}][^{CONTROL_CHARACTERS}]{{0,{4 * TEXT_MAX}}}?"


def init_app(app: Flask) -> None:
    """Install the converters; call before any rule is added."""
    app.url_map.converters.update(default=TextConverter, string=TextConverter,
                                  int=IdConverter, path=PlainPathConverter)
