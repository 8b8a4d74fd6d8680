"""Hostile values for paths, queries, forms and JSON bodies, and a recorder of server errors.

The values are the ones an attacker tries first: NUL and other control characters, numbers
past every integer column, negative and non-numeric ids, very long text, unusual Unicode
(bidirectional overrides, lone surrogates, full-width digits, emoji), injection-looking text,
and JSON nested, huge or of the wrong type.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

DEEP = 40  # past the parser's 32 levels
TEXT_VALUES = [
    "a\x00b", "\x00", "\x07\x1b[31m", "line\r\nbreak", "9" * 30, "-1", "-99999999999999999999",
    "0", "abc", "x" * 3000, "\u202eevil\u202c", "\ud800", "\u200b", "１２３", "😀" * 3,
    "' OR '1'='1", "<script>alert(1)</script>", "../../etc/passwd", "1e999", "NaN", " ",
]
QUERY_VALUES = ["a\x00b", "9" * 30, "-1", "abc", "x" * 3000, "\u202eevil", "\ud800", "１２３", "0",
                "' OR '1'='1"]
JSON_VALUES: list[Any] = [
    None, True, 0, -1, -10**15, 10**30, 1.5, float("inf"), "", "a\x00b", "\ud800",
    "\u202e", "x" * 100_000, [], {}, ["a"] * 2000, {"$gt": ""}, [[[[[]]]]],
    json.loads("[" * DEEP + "]" * DEEP),
]
RAW_BODIES: list[tuple[str, bytes]] = [
    ("100,000 opening brackets", b"[" * 100_000),
    ("100,000 opening braces", b'{"a":' * 50_000),
    (f"arrays {DEEP} deep", b"[" * DEEP + b"]" * DEEP),
    (f"objects {DEEP} deep", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
    ("a 5,000-digit integer", b'{"score": ' + b"9" * 5000 + b"}"),
    ("infinity", b'{"score": 1e999}'),
    ("NaN", b'{"score": NaN}'),
    ("invalid UTF-8", b'{"a": "\xff\xfe"}'),
    ("an escaped lone surrogate", b'{"name": "\\ud800"}'),
    ("an escaped NUL", b'{"name": "a\\u0000b"}'),
    ("100,000 keys", b"{" + b",".join(b'"k%d":1' % n for n in range(100_000)) + b"}"),
    ("a 1.5 MB string", b'{"name": "' + b"x" * 1_500_000 + b'"}'),
    ("null", b"null"), ("a list", b"[]"), ("a string", b'"text"'), ("a number", b"123"),
    ("empty", b""), ("not JSON", b"{'a': 1}"),
]


def quoted(value: str) -> str:
    """Percent-encode a value for a path segment or query (lone surrogates as raw bytes)."""
    return quote(value, safe="", errors="surrogatepass")


def field_paths(body: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Yield the path of every value in a JSON body (first item of each list)."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield (*prefix, key)
            yield from field_paths(value, (*prefix, key))
    elif isinstance(body, list) and body:
        yield (*prefix, 0)
        yield from field_paths(body[0], (*prefix, 0))


def replaced(body: Any, path: tuple, value: Any) -> Any:
    """Return a copy of the body with the value at `path` replaced."""
    result = copy.deepcopy(body)
    target = result
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return result


def removed(body: Any, path: tuple) -> Any:
    """Return a copy of the body without the key at `path` (lists keep their item)."""
    result = copy.deepcopy(body)
    target = result
    for step in path[:-1]:
        target = target[step]
    if isinstance(target, dict):
        del target[path[-1]]
    return result


def body_mutations(body: dict) -> Iterator[tuple[str, bytes]]:
    """Yield (label, encoded body) for every field given every hostile value, then raw bodies."""
    for path in list(field_paths(body)):
        where = ".".join(map(str, path))
        for value in JSON_VALUES:
            yield f"{where}={str(value)[:20]!r}", encode(replaced(body, path, value))
        yield f"{where} missing", encode(removed(body, path))
    yield "an unknown field", encode({**body, "__proto__": {"admin": True}})
    yield from RAW_BODIES


def encode(body: Any) -> bytes:
    """Encode a body as JSON the way a careless client would (Infinity, surrogates kept)."""
    return json.dumps(body, ensure_ascii=True).encode()


@dataclass
class Errors:
    """The requests answered with a server error, and how many requests were made."""

    found: list[str] = field(default_factory=list)
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)

    def check(self, response, label: str, allow_503: bool = False) -> None:
        """Record the request if its answer is a 5xx (503 when the test allows it)."""
        self.sent += 1
        status = response.status_code
        self.statuses[status] += 1
        response.close()
        if status >= 500 and not (allow_503 and status == 503):
            self.found.append(f"{status} {label}: {response.get_data(as_text=True)[:160]!r}")

    def assert_none(self, minimum: int) -> None:
        """Fail with every server error found; make sure the walk really walked."""
        print(f"{self.sent} requests: {dict(sorted(self.statuses.items()))}")
        assert self.sent >= minimum, f"only {self.sent} requests sent"
        assert not self.found, f"{len(self.found)} server errors:\n" + "\n".join(self.found[:40])
