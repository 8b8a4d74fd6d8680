"""Every request field of the OpenAPI document: bad input gets a 4xx in Chinese, limits are real.

The test reads /api/openapi.json and, for every operation, sends each field of the JSON body
and each query and path parameter a wrong type, a missing required value, null, a string one
character past its maxLength, numbers past their bounds, values outside its enum, pattern or
format. Every answer must be a 4xx naming the field, with Chinese messages (top level and per
field, recursively) and no sentence of marshmallow's or webargs' English messages. The value at
each limit must pass the field's validation. A new endpoint or field is covered by itself.

To tell "passes validation" apart from what the service then does with the value, accepted
values are sent with one unknown property added to the body: validation then always fails, and
the answer must name that property alone.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import marshmallow
import pytest
from marshmallow import validate
from webargs import core as webargs_core
from webargs import fields as webargs_fields

from backend.models.clients import SCOPES
from tests.fakes import FakeWeChat

CJK = re.compile(r"[\u4e00-\u9fff]")
PROBE = "__probe__"
MISSING = object()
ACCEPT, REJECT = "accept", "reject"
WRONG_TYPE = {"string": 12345, "integer": "abc", "number": "abc", "boolean": "maybe",
              "array": "not-a-list", "object": "not-an-object"}
WRONG_TYPE_IN_QUERY = {"integer": "abc", "number": "abc", "boolean": "maybe"}
FORMAT_CASES = {"date-time": [("not a time", "not-a-time"),
                              ("time without offset", "2026-11-21T09:30:00")],
                "date": [("not a date", "2026-13-45")]}
PATTERN_BREAKERS = ["a b!", "!", "\u0001", "-"]
FILLERS = "a1汉"


def library_sentences() -> list[str]:
    """Return the literal parts of every English message marshmallow and webargs can send."""
    texts = set(marshmallow.Schema._default_error_messages.values())
    texts |= {"Invalid JSON body.", webargs_core.Parser.DEFAULT_VALIDATION_MESSAGE}
    for module in (marshmallow.fields, webargs_fields):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, marshmallow.fields.Field):
                for cls in obj.__mro__:
                    texts |= set(getattr(cls, "default_error_messages", {}).values())
    for obj in vars(validate).values():
        if isinstance(obj, type) and issubclass(obj, validate.Validator):
            for name in ("default_message", "message_min", "message_max", "message_all",
                         "message_equal", "message_gte", "message_gt", "message_lte",
                         "message_lt"):
                if isinstance(text := getattr(obj, name, None), str):
                    texts.add(text)
    chunks = {max(re.split(r"\{+[^}]*\}+", text), key=len).strip(" .:") for text in texts}
    return sorted(chunk for chunk in chunks if len(chunk) >= 6)


ENGLISH = library_sentences()


def not_chinese(value: Any, where: str) -> list[str]:
    """Return the places of an error body whose text is not Chinese or repeats the library."""
    if isinstance(value, str):
        english = [chunk for chunk in ENGLISH if chunk in value]
        return [f"{where}: {value!r}"] if english or not CJK.search(value) else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in not_chinese(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in not_chinese(v, f"{where}[{i}]")]
    return []


def messages_of(body: Any) -> dict:
    """Return the message-bearing parts of an answer (batch results included)."""
    if not isinstance(body, dict):
        return {}
    found = {k: body[k] for k in ("message", "errors") if k in body}
    for result in body.get("results") or []:
        if isinstance(result, dict) and result.get("status", 200) >= 400:
            found[f"results[{result.get('index')}]"] = messages_of(result)
    return found


def error_at(errors: Any, path: tuple) -> Any:
    """Return the error reported at a field path, or None."""
    for key in path:  # list indexes arrive as strings in JSON
        if not isinstance(errors, dict):
            return None
        errors = errors.get(str(key))
    return errors


class Document:
    """The served OpenAPI document, with $ref and single allOf resolved."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec

    def resolve(self, schema: dict) -> dict:
        """Return a schema with its references followed."""
        while True:
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[-1]
                schema = {**self.spec["components"]["schemas"][name],
                          **{k: v for k, v in schema.items() if k != "$ref"}}
            elif len(schema.get("allOf", [])) == 1:
                schema = {**self.resolve(schema["allOf"][0]),
                          **{k: v for k, v in schema.items() if k != "allOf"}}
            else:
                return schema

    def valid(self, schema: dict) -> Any:
        """Return a value the schema accepts: its example, else one built from it."""
        s = self.resolve(schema)
        if "example" in s:
            return copy.deepcopy(s["example"])
        if "enum" in s:
            return s["enum"][0]
        kind = s.get("type")
        if kind == "object":
            return {name: self.valid(prop) for name, prop in s.get("properties", {}).items()
                    if not self.resolve(prop).get("readOnly")}
        if kind == "array":
            return [self.valid(s["items"]) for _ in range(max(1, s.get("minItems", 1)))]
        if kind in ("integer", "number"):
            return s.get("minimum", 0)
        if kind == "boolean":
            return True
        if kind == "string":
            return {"date-time": "2026-11-21T09:30:00+08:00", "date": "2026-11-21"}.get(
                s.get("format"), text_of_length(s, max(1, s.get("minLength", 1))))
        return {}


def checked_apart(schema: dict) -> bool:
    """Tell whether a field is validated by the view item by item (the events of a batch).

    Such a field is untyped and documented by reference only; one bad item never fails the
    others, so its errors come back in the item's result, after the body's own validation.
    """
    return "allOf" in schema and "type" not in schema


def text_of_length(s: dict, length: int) -> str | None:
    """Return a string of `length` characters that the field's pattern accepts, if one is known."""
    example = s.get("example")
    candidates = ([example] if isinstance(example, str) and len(example) == length else [])
    candidates += [c * length for c in FILLERS]
    pattern = s.get("pattern")
    return next((c for c in candidates if pattern is None or re.search(pattern, c)), None)


@dataclass
class Case:
    """One request: a value put at a field's path, and whether validation must accept it."""

    where: str  # "body", "query" or "path"
    path: tuple
    label: str
    value: Any
    expect: str
    apart_at: int | None = None  # index in path of the item validated apart, if any


@dataclass
class Operation:
    method: str
    path: str
    spec: dict
    parameters: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations(doc: Document) -> Iterator[Operation]:
    """Yield every operation of the document with its parameters."""
    for path, item in doc.spec["paths"].items():
        for method, spec in item.items():
            if method == "parameters":
                continue
            yield Operation(method, path, spec, item.get("parameters", []) +
                            spec.get("parameters", []))


def string_cases(doc: Document, s: dict, failures: list, where: str) -> list[tuple]:
    """Return (label, value, expectation) for a string's length, pattern and format."""
    cases = []
    if (top := s.get("maxLength")) is not None:
        cases.append((f"over {top} characters", text_of_length(s, top + 1) or "a" * (top + 1),
                      REJECT))
        cases.append(limit_case(f"exactly {top} characters", text_of_length(s, top), failures,
                                where))
    if (low := s.get("minLength", 0)) >= 1:
        cases.append((f"under {low} characters", text_of_length(s, low - 1) or "", REJECT))
        cases.append(limit_case(f"exactly {low} characters", text_of_length(s, low), failures,
                                where))
    if pattern := s.get("pattern"):
        breaker = next((b for b in PATTERN_BREAKERS if not re.search(pattern, b)), None)
        if breaker is not None:
            cases.append(("not matching the pattern", breaker, REJECT))
    cases += [(label, value, REJECT) for label, value in FORMAT_CASES.get(s.get("format"), [])]
    return [c for c in cases if c is not None]


def limit_case(label: str, value: Any, failures: list, where: str) -> tuple | None:
    """Return the accepting case at a limit, or note that no value fits the field."""
    if value is None:
        failures.append(f"{where}: no value for '{label}' fits the pattern; give an example")
        return None
    return (label, value, ACCEPT)


def number_cases(s: dict, failures: list, where: str) -> list[tuple]:
    """Return the cases at and past a number's bounds (every number must declare both)."""
    if "minimum" not in s or "maximum" not in s:
        failures.append(f"{where}: a number without minimum and maximum in the document")
        return [("far too large", 2**70, REJECT)]
    low, high = s["minimum"], s["maximum"]
    return [(f"below {low}", low - 1, REJECT), (f"at {low}", low, ACCEPT),
            (f"at {high}", high, ACCEPT), (f"above {high}", high + 1, REJECT)]


def array_cases(doc: Document, s: dict) -> list[tuple]:
    """Return the cases at and past an array's item counts."""
    item = doc.valid(s["items"])
    cases = []
    if (top := s.get("maxItems")) is not None:
        cases += [(f"{top + 1} items", [item] * (top + 1), REJECT),
                  (f"{top} items", [item] * top, ACCEPT)]
    if (low := s.get("minItems", 0)) >= 1:
        cases += [(f"{low - 1} items", [item] * (low - 1), REJECT),
                  (f"{low} items", [item] * low, ACCEPT)]
    return cases


def value_cases(doc: Document, schema: dict, required: bool, in_query: bool,
                failures: list, where: str) -> list[tuple]:
    """Return (label, value, expectation) for one field."""
    s = doc.resolve(schema)
    kind = s.get("type")
    wrong = (WRONG_TYPE_IN_QUERY if in_query else WRONG_TYPE).get(kind)
    cases = [("wrong type", wrong, REJECT)] if wrong is not None else []
    if kind == "integer":
        cases.append(("a fraction", "1.5" if in_query else 1.5, REJECT))
    if required:
        cases.append(("missing", MISSING, REJECT))
    if not in_query:
        cases.append(("null", None, ACCEPT if s.get("nullable") else REJECT))
    if "enum" in s:
        cases += [("outside the enum", "not-a-choice", REJECT), ("in the enum", s["enum"][-1],
                                                                ACCEPT)]
    if kind == "string":
        cases += string_cases(doc, s, failures, where)
    if kind in ("integer", "number"):
        cases += number_cases(s, failures, where)
    if kind == "array":
        cases += array_cases(doc, s)
    return cases


def body_cases(doc: Document, schema: dict, required: bool, path: tuple, failures: list,
               apart_at: int | None = None) -> Iterator[Case]:
    """Yield the cases of a body field and, recursively, of the fields inside it."""
    if apart_at is None and checked_apart(schema):
        apart_at = len(path) - 1
    s = doc.resolve(schema)
    where = "body " + ".".join(map(str, path))
    if path:
        for label, value, expect in value_cases(doc, schema, required, False, failures, where):
            yield Case("body", path, label, value, expect, apart_at)
    if s.get("type") == "object":
        needed = set(s.get("required", []))
        for name, prop in s.get("properties", {}).items():
            if not doc.resolve(prop).get("readOnly"):
                yield from body_cases(doc, prop, name in needed, (*path, name), failures,
                                      apart_at)
    if s.get("type") == "array":
        yield from body_cases(doc, s["items"], False, (*path, 0), failures, apart_at)


def put(body: Any, path: tuple, value: Any) -> Any:
    """Return a copy of the body with the value at path (or the key removed for MISSING)."""
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


class Walker:
    """Send every case of every operation and collect what went wrong."""

    def __init__(self, client, doc: Document, credentials: dict[str, dict]) -> None:
        self.client, self.doc, self.credentials = client, doc, credentials
        self.failures: list[str] = []
        self.sent = 0

    def headers(self, op: Operation) -> dict:
        """Return the credentials the operation's security asks for."""
        requirements = op.spec.get("security", [])
        names = [name for requirement in requirements for name in requirement]
        if {} in requirements or not names:
            return {}
        return self.credentials[names[0]]

    def send(self, op: Operation, path_values: dict, query: dict, body: Any, form: bool):
        """Send one request and return the response."""
        url = op.path.format(**{k: quote(str(v), safe="") for k, v in path_values.items()})
        if query:
            url += "?" + urlencode(query)
        self.sent += 1
        kwargs: dict = {"headers": self.headers(op)}
        if form:
            kwargs.update(data=body, content_type="multipart/form-data")
        elif body is not MISSING:
            kwargs["json"] = body
        return self.client.open(url, method=op.method.upper(), **kwargs)

    def check_language(self, op: Operation, label: str, response) -> None:
        """Note every message of a 4xx answer that is not Chinese."""
        if response.status_code >= 400 or (response.is_json and "results" in response.json):
            for bad in not_chinese(messages_of(response.json), ""):
                self.failures.append(f"{op.name} {label}: not Chinese {bad}")

    def walk(self, op: Operation) -> None:
        """Send every case of one operation."""
        params = {p["in"]: [] for p in op.parameters} | {"path": [], "query": []}
        for p in op.parameters:
            params[p["in"]].append(p)
        path_values = {p["name"]: self.doc.valid(p["schema"]) for p in params["path"]}
        query = {p["name"]: self.doc.valid(p["schema"]) for p in params["query"]
                 if p.get("required")}
        content = op.spec.get("requestBody", {}).get("content", {})
        form = "multipart/form-data" in content
        schema = (content.get("application/json") or content.get("multipart/form-data")
                  or {}).get("schema")
        body = self.base_body(schema, form) if schema else MISSING
        for p in params["path"]:
            self.walk_path_parameter(op, p, path_values, query, body, form)
        for p in params["query"]:
            self.walk_query_parameter(op, p, path_values, query, body, form)
        if schema and form:
            self.walk_form(op, schema, path_values, query)
        elif schema:
            self.walk_json_body(op, schema, path_values, query, body)

    def base_body(self, schema: dict, form: bool) -> Any:
        """Return a body every field of which is valid."""
        if not form:
            return self.doc.valid(schema)
        return {name: (io.BytesIO(b"code,name\n"), "roster.csv")
                for name in self.doc.resolve(schema).get("properties", {})}

    def fresh(self, body: Any, form: bool) -> Any:
        """Return a body to send (file parts cannot be read twice)."""
        if body is MISSING:
            return MISSING
        if form:
            return {k: (io.BytesIO(b"code,name\n"), name) for k, (_, name) in body.items()}
        return copy.deepcopy(body)

    def walk_path_parameter(self, op, p, path_values, query, body, form) -> None:
        """A path parameter out of its pattern or length is refused in Chinese, never a 5xx."""
        where = f"path {p['name']}"
        for label, value, expect in value_cases(self.doc, p["schema"], False, True,
                                                self.failures, where):
            if value is MISSING or value == "" or label == "wrong type":
                continue  # an empty segment is another URL; in a URL everything is a string
            response = self.send(op, {**path_values, p["name"]: value}, query,
                                 self.fresh(body, form), form)
            self.check_language(op, f"{where} {label}", response)
            if response.status_code >= 500 or (expect == REJECT and response.status_code < 400):
                self.failures.append(f"{op.name} {where} {label}: {response.status_code}")

    def walk_query_parameter(self, op, p, path_values, query, body, form) -> None:
        """A bad query parameter is a 422 naming it; a value at a limit is not refused."""
        where = f"query {p['name']}"
        for label, value, expect in value_cases(self.doc, p["schema"], p.get("required", False),
                                                True, self.failures, where):
            values = dict(query)
            if value is MISSING:
                values.pop(p["name"], None)
            else:
                values[p["name"]] = str(value).lower() if isinstance(value, bool) else value
            response = self.send(op, path_values, values, self.fresh(body, form), form)
            errors = response.json.get("errors") if response.is_json else None
            refused = 400 <= response.status_code < 500 and error_at(
                errors, (p["name"],)) is not None
            self.judge(op, f"{where} {label}", response, expect, refused)

    def walk_form(self, op, schema, path_values, query) -> None:
        """A missing file part is a 422 naming it."""
        for name in self.doc.resolve(schema).get("required", []):
            body = {k: v for k, v in self.base_body(schema, True).items() if k != name}
            response = self.send(op, path_values, query, body, True)
            refused = response.status_code == 422 and error_at(
                response.json.get("errors"), (name,)) is not None
            self.judge(op, f"form {name} missing", response, REJECT, refused)

    def walk_json_body(self, op, schema, path_values, query, body) -> None:
        """Every field case, plus a body of the wrong type, bad JSON and an unknown field."""
        for label, payload in (("a list for a body", []), ("a string for a body", "x"),
                               ("only an unknown field", {PROBE: 1})):
            response = self.send(op, path_values, query, payload, False)
            self.judge(op, label, response, REJECT, response.status_code == 422)
        bad_json = self.client.open(
            op.path.format(**path_values), method=op.method.upper(), data="{not json",
            content_type="application/json", headers=self.headers(op))
        self.judge(op, "bad JSON", bad_json, REJECT, bad_json.status_code == 400)
        self.expect_probe_only(op, "the example body", path_values, query, {**body, PROBE: 1})
        for case in body_cases(self.doc, schema, True, (), self.failures):
            self.walk_body_case(op, case, path_values, query, body)

    def walk_body_case(self, op, case: Case, path_values, query, body) -> None:
        """Send one body case and judge it."""
        label = f"body {'.'.join(map(str, case.path))} {case.label}"
        payload = put(body, case.path, case.value)
        if case.expect == ACCEPT:
            if case.apart_at is None:  # items checked apart reach the service: no probe
                self.expect_probe_only(op, label, path_values, query, {**payload, PROBE: 1})
            return
        response = self.send(op, path_values, query, payload, False)
        self.judge(op, label, response, REJECT, self.refused(response, case))

    def refused(self, response, case: Case) -> bool:
        """Tell whether the answer refuses the case's field (in the item's result for batches)."""
        body = response.json if response.is_json else {}
        if case.apart_at is not None and response.status_code == 200:
            index = case.path[case.apart_at]
            result = next(r for r in body["results"] if r["index"] == index)
            inner = case.path[case.apart_at + 1:]
            return result["status"] == 422 and (not inner or
                                                error_at(result.get("errors"), inner) is not None)
        return 400 <= response.status_code < 500 and (
            response.status_code == 413 or error_at(body.get("errors"), case.path) is not None)

    def expect_probe_only(self, op, label, path_values, query, payload) -> None:
        """A body with one unknown field must be refused for that field alone."""
        response = self.send(op, path_values, query, payload, False)
        self.check_language(op, label, response)
        errors = response.json.get("errors") if response.is_json else None
        if response.status_code != 422 or set(errors or {}) != {PROBE}:
            self.failures.append(f"{op.name} {label}: should pass validation, got "
                                 f"{response.status_code} {errors}")

    def judge(self, op, label, response, expect: str, refused: bool) -> None:
        """Record a failure unless the answer matches the expectation, in Chinese.

        `refused` tells whether the answer refuses the field: for a value at a limit it must
        not, for a bad value it must (with a 4xx naming the field, or per item in a batch).
        """
        self.check_language(op, label, response)
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{op.name} {label}: server error {status}")
        elif expect == REJECT and not refused:
            self.failures.append(f"{op.name} {label}: not refused for the field "
                                 f"({status} {response.get_data(as_text=True)[:300]})")
        elif expect == ACCEPT and refused:
            self.failures.append(f"{op.name} {label}: a value at the limit was refused "
                                 f"({response.get_data(as_text=True)[:300]})")


@pytest.fixture
def wechat():
    with FakeWeChat(appid="wx_messages", secret="messages-secret") as fake:
        yield fake


def test_every_request_field_answers_bad_input_in_chinese_at_its_real_limits(
        make_app, make_key, wechat):
    app = make_app(WECHAT_API_BASE=wechat.base_url, WECHAT_APPID=wechat.appid,
                   WECHAT_SECRET=wechat.secret)
    client = app.test_client()
    login = client.post("/api/v1/mp/session", json={"code": wechat.issue_login_code("o_walk")})
    credentials = {"bearerAuth": make_key(*SCOPES),
                   "mpSession": {"Authorization": f"Bearer {login.json['session_token']}"}}
    walker = Walker(client, Document(client.get("/api/openapi.json").json), credentials)
    walked = list(operations(walker.doc))
    for op in walked:
        walker.walk(op)
    assert len(walked) >= 20 and walker.sent > 400  # 25 operations, 504 requests today
    assert not walker.failures, "\n".join(walker.failures)
