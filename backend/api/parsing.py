"""How the API reads request bodies: one parser for every blueprint.

A JSON body is required where an operation declares one: none at all is 422, a body of another
content type is 415. Before the body is parsed its nesting is measured, so `[` x 100,000 is a
422 rather than a RecursionError, and a number no integer can hold is invalid JSON (400).

A hot view may read its body with `parse_json_body` instead of `@blp.arguments`: the same
parser and schema, the same errors, without the decorators' per-request layers; `documented`
then gives it the OpenAPI description the decorators would have.
"""

from __future__ import annotations

import json
import re

import flask_smorest
from flask import Request, request
from marshmallow import Schema, ValidationError
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import UnsupportedMediaType

from backend.errors import InvalidInput

MAX_DEPTH = 32
STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
INNERMOST = re.compile(rb"[\[{][^\[\]{}]*[\]}]")
OPENING = re.compile(rb"[\[{]")
TOO_DEEP = f"JSON 嵌套超过 {MAX_DEPTH} 层"
NO_BODY = "缺少 JSON 请求体"
NOT_JSON = "请求体须为 JSON（Content-Type: application/json）"


def nesting_exceeds(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Tell whether arrays and objects nest deeper than `limit`, without parsing the body.

    Strings are blanked, then the innermost brackets are peeled one level per pass (each pass a
    linear regex substitution); what cannot be peeled is unbalanced, and counts in full.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    text = STRINGS.sub(b'""', body)
    for level in range(limit + 1):
        text, peeled = INNERMOST.subn(b"0", text)
        if not peeled:
            return level + len(OPENING.findall(text)) > limit
    return True


def unsupported_media_type() -> UnsupportedMediaType:
    """Build the 415 of a body that is not JSON, with a Chinese message."""
    error = UnsupportedMediaType()
    error.data = {"message": NOT_JSON}
    return error


class JsonBodyParser(FlaskParser):
    """webargs' Flask parser, with a required body, a nesting limit and safe number parsing."""

    def _raw_load_json(self, req: Request):
        if not is_json_request(req):
            return core.missing
        body = req.get_data(cache=True)
        if nesting_exceeds(body):
            raise InvalidInput(TOO_DEEP)
        try:
            return core.parse_json(body)
        except json.JSONDecodeError:
            raise
        except ValueError as exc:  # an integer of more than 4,300 digits
            self._handle_invalid_json_error(json.JSONDecodeError(str(exc), "?", 0), req)

    def load_json(self, req: Request, schema: Schema):
        """Return the JSON body; refuse a missing body (422) or one of another type (415)."""
        data = super().load_json(req, schema)
        if data is core.missing:
            if req.get_data(cache=True) and not is_json_request(req):
                raise unsupported_media_type()
            raise InvalidInput(NO_BODY)
        return data


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint reading bodies with JsonBodyParser."""

    ARGUMENTS_PARSER = JsonBodyParser()


def parse_json_body(schema: Schema) -> dict:
    """Load the request's JSON body with `schema`, answering as `@blp.arguments(schema)` does.

    The same parser reads the body (415, 422 without one, 400 invalid JSON, the nesting
    limit) and a validation error is the same 422, its messages under the "json" location.
    """
    parser = Blueprint.ARGUMENTS_PARSER
    data = parser.load_json(request, schema)
    try:
        return schema.load(data)
    except ValidationError as error:
        error.messages = {"json": error.messages}  # namespaced by location, as webargs does
        parser.handle_error(error, request, schema, error_status_code=None, error_headers=None)
        raise  # not reached: the parser's error handler aborts


def documented(*decorators):
    """Give a view the OpenAPI description of flask-smorest's `decorators`, not their work.

    The decorators are applied, outermost first as when stacked, to the view; only what
    they record for the document is kept, on the view itself, which then reads its
    arguments and builds its response on its own.
    """
    def decorator(view):
        described = view
        for apply in reversed(decorators):
            described = apply(described)
        view._apidoc = described._apidoc
        return view

    return decorator
