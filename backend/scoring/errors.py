"""Errors raised by the scoring package."""

from __future__ import annotations


class SchemeError(ValueError):
    """A scoring scheme is malformed; names the source file and the offending key path."""

    def __init__(self, source: str, path: str, reason: str) -> None:
        super().__init__(f"{source}: {path}: {reason}")
        self.source = source
        self.path = path
        self.reason = reason
