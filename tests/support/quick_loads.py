"""A quick load of a request body beside its schema: it declines, or loads what the schema does."""

from __future__ import annotations

from collections.abc import Callable

from marshmallow import Schema, ValidationError


def schema_load(schema: Schema, body):
    """Return what the schema loads from a body, None when it refuses it."""
    try:
        return schema.load(body)
    except ValidationError:
        return None


def check_quick_load(quick: Callable, schema: Schema, body) -> None:
    """Fail unless the quick load declines the body (None) or gives the schema's load."""
    loaded = quick(body)
    if loaded is not None:
        assert loaded == schema_load(schema, body), body
