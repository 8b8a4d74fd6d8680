"""The lean path of the busiest public request: POST /api/v1/invitations/{token}/rating.

A WSGI layer in front of Flask answers the common case of a submission itself: a JSON body
that RatingSubmissionSchema accepts, through a link whose signature verifies, within its rate
limits, open, and accepted by its template. It does what the Flask request would do for it,
with the same code: the same limits counted in the same storage (backend.public_limits), the
same schema, the same service call (`submit_verified`), the same 201 body and headers (the
security headers, `X-Request-ID`), the same log context and metrics; only Flask's request
context, its hooks and its routing are left out, which cost more than the submission's SQL.

Everything else goes on to the Flask view, which answers it as it always has: every error
(a malformed or refused body, a forged, used, expired or revoked link, a spent limit, the
database or Redis out of reach), a request with credentials (a mini-program session), a body
of another type or size, and the embedded mode until its background jobs have started.
Nothing is lost by passing a request on: the body read is handed on with it, and so is the
count already taken, so that the view counts no submission twice (`public_limits.COUNTED`).
The view stays the operation's description in the OpenAPI document.
"""

from __future__ import annotations

import io
import re
import time

from flask import Flask
from marshmallow import ValidationError
from webargs import core

from backend.api.invitations import RATING_BODY, signals_of, to_submission
from backend.api.parsing import nesting_exceeds
from backend.extensions import address_of, db, limiter
from backend.observability import logs
from backend.public_limits import (
    COUNTED,
    count_in_storage,
    link_and_address_key,
    public_limit,
)
from backend.schemas.ratings import plain_rating
from backend.services.ratings import submission as ratings
from backend.web.security import token_answer_headers
from backend.wiring import submit_context, token_codec
from workers.cron import embedded_background

PATH = re.compile(r"/api/v1/invitations/([A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{1,64})/rating")
RULE = "/api/v1/invitations/<string:token>/rating"  # the view's rule, as metrics label it
MAX_BODY = 16 * 1024  # larger bodies (a ballot of many officials) go on to the view
CREATED = "201 CREATED"
RECEIPT_MARK = "RECEIPT-MARK"


class LeanSubmission:
    """WSGI middleware: answer a plain successful submission; hand anything else to `then`."""

    def __init__(self, app: Flask, then):
        self.app = app
        self.then = then
        self.headers = token_answer_headers(app.config["PUBLIC_BASE_URL"])
        self.series = None  # made on the first submission: a series may create its files
        self.answer = None  # the 201 body around its receipt, as the app's jsonify encodes it

    def count(self, kind: str, seconds: float) -> None:
        """Count an accepted rating in the series the view's requests count in."""
        if self.series is None:
            metrics = self.app.extensions["metrics"]
            self.series = (metrics.latency.labels("POST", RULE),
                           metrics.requests.labels("POST", RULE, "201"),
                           {kind: metrics.ratings.labels(kind) for kind in ("event", "ballot")})
        latency, created, accepted = self.series
        accepted[kind].inc()
        latency.observe(seconds)
        created.inc()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return self.then(environ, start_response)
        match = PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None or not self.takes(environ):
            return self.then(environ, start_response)
        started = time.perf_counter()
        body = read_body(environ)
        request_id = logs.accept_request_id(environ.get("HTTP_X_REQUEST_ID"))
        environ["HTTP_X_REQUEST_ID"] = request_id  # the view adopts it, should it answer
        with logs.bound(request_id), self.app.app_context():
            answer = self.submit(environ, match.group(1), body)
            if answer is not None:
                self.count(answer[1], time.perf_counter() - started)
        if answer is None:  # the view answers in contexts of its own, as any request
            return self.then(environ, start_response)
        payload = answer[0]
        start_response(CREATED, [("Content-Type", "application/json"),
                                 ("Content-Length", str(len(payload))), *self.headers,
                                 ("X-Request-ID", request_id)])
        return [payload]

    def takes(self, environ) -> bool:
        """Tell whether this request is one the lean path may answer (else the view does)."""
        if "HTTP_AUTHORIZATION" in environ:  # a mini-program session: the view resolves it
            return False
        kind = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        if kind != "application/json" or not length.isdigit() or not 0 < int(length) <= MAX_BODY:
            return False
        return not (embedded_background(self.app) and "cron_stop" not in self.app.extensions)

    def submit(self, environ, presented: str, body: bytes) -> tuple[bytes, str] | None:
        """Count, read and submit; return the 201 body and the rating's kind, or None.

        None hands the request on to the view; a count taken is left in the environ for it.
        """
        raw = token_codec().verify(presented)
        if raw is None:  # forged: the view counts it against the address and answers 404
            return None
        data = loaded(body)
        if data is None:
            return None
        if limiter.enabled:
            counted = count_in_storage(link_and_address_key(raw, address_of(environ)), raw,
                                       self.app.config.get("RATELIMIT_KEY_PREFIX"),
                                       public_limit())
            if counted is None:  # Flask-Limiter must count it on its own path
                return None
            environ[COUNTED] = counted
            if counted.spent is not None:
                return None
        ctx = submit_context()
        try:
            receipt = ratings.submit_verified(db.session, ctx, raw, to_submission(data),
                                              signals_of(environ, data.get("stamp")))
        except Exception:  # the view answers it: the same error, body and headers
            return None
        kind = "ballot" if data.get("ratings") else "event"
        return self.body(receipt), kind

    def body(self, receipt: str) -> bytes:
        """Return the 201 body `jsonify(receipt=...)` gives, its bytes around the receipt
        learnt from the app's JSON provider once (a receipt is hex: nothing to escape)."""
        if self.answer is None:
            self.answer = self.app.json.response(receipt=RECEIPT_MARK).get_data().split(
                RECEIPT_MARK.encode())
        before, after = self.answer
        return before + receipt.encode() + after


def read_body(environ) -> bytes:
    """Read the body, and leave it readable again for the view."""
    body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def loaded(body: bytes) -> dict | None:
    """Return the body as RatingSubmissionSchema loads it; None if the view must answer."""
    if nesting_exceeds(body):
        return None
    try:
        data = core.parse_json(body)
        return plain_rating(data) or RATING_BODY.load(data)
    except (ValueError, ValidationError):  # invalid JSON or a refused field
        return None


def install(app: Flask) -> None:
    """Put the lean path in front of the app's WSGI callable (inside any proxy fix)."""
    app.wsgi_app = LeanSubmission(app, app.wsgi_app)
