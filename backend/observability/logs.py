"""Log lines: JSON in production, text in the demo; a request id carried into jobs.

Every request gets an id (the caller's `X-Request-ID` when well formed, else a new one),
echoed in the response header and kept in a context variable; the enqueue wrapper hands it to
the jobs the request causes, so web and worker lines of one flow share a `request_id`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from flask import Flask, Response, g, request

from backend.observability.masking import MASKING_FILTER, mask_secrets

HEADER = "X-Request-ID"
VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ssp_request_id", default=None)
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "ssp_job_id", default=None)


def current_request_id() -> str | None:
    """Return the request id of the running request or job, if any."""
    return request_id_var.get()


def accept_request_id(raw: str | None) -> str:
    """Return the caller's request id when well formed, else a new one."""
    if raw and VALID_ID.match(raw):
        return raw
    return uuid.uuid4().hex


@contextmanager
def bound(request_id: str | None, job_id: str | None = None) -> Iterator[None]:
    """Carry a request id (and job id) in the log context for the duration of a block."""
    tokens = (request_id_var.set(request_id), job_id_var.set(job_id))
    try:
        yield
    finally:
        job_id_var.reset(tokens[1])
        request_id_var.reset(tokens[0])


class ContextFilter(logging.Filter):
    """Add `request_id` and `job_id` from the log context to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the ids unless the record already carries them; always keep the record."""
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get()
        if getattr(record, "job_id", None) is None:
            record.job_id = job_id_var.get()
        return True


CONTEXT_FILTER = ContextFilter()


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, ids, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line with rating tokens masked."""
        line = {"time": datetime.fromtimestamp(record.created).astimezone().isoformat(
                    timespec="milliseconds"),
                "level": record.levelname, "logger": record.name,
                "message": mask_secrets(record.getMessage())}
        for key in ("request_id", "job_id"):
            if value := getattr(record, key, None):
                line[key] = value
        if record.exc_info:
            line["exception"] = mask_secrets(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = mask_secrets(record.exc_text)
        if record.stack_info:
            line["stack"] = mask_secrets(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines for the demo, with the request id in brackets when there is one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one line of text (exception text below it)."""
        ids = [v for v in (getattr(record, "request_id", None), getattr(record, "job_id", None))
               if v]
        record.context = f" [{' '.join(ids)}]" if ids else ""
        return super().format(record)


class StderrHandler(logging.StreamHandler):
    """Write to the current sys.stderr (test runners and servers swap it after setup)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self):  # type: ignore[override]
        """Return the stream of the moment."""
        return sys.stderr


def log_format(app: Flask) -> str:
    """Return "json" or "text": LOG_FORMAT, else json in production (REDIS_URL set)."""
    # The environment too: logging is set up for apps built without load_config (tests, tools).
    chosen = app.config.get("LOG_FORMAT") or os.environ.get("LOG_FORMAT", "")
    if chosen.strip().lower() in ("json", "text"):
        return chosen.strip().lower()
    return "json" if app.config.get("REDIS_URL") else "text"


def console_handlers(root: logging.Logger) -> list[logging.Handler]:
    """Return the root's plain console handlers (basicConfig's and ours), adding ours if none."""
    found = [h for h in root.handlers if type(h) in (logging.StreamHandler, StderrHandler)]
    if not found:
        handler = StderrHandler()
        root.addHandler(handler)
        found = [handler]
    return found


def configure_logging(fmt: str) -> None:
    """Format the root's console handlers as `fmt`, with ids added and tokens masked."""
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    for handler in console_handlers(logging.getLogger()):
        handler.setFormatter(formatter)
        for log_filter in (MASKING_FILTER, CONTEXT_FILTER):
            if log_filter not in handler.filters:
                handler.addFilter(log_filter)


def start_request() -> None:
    """Adopt or create the request id and put it in the log context."""
    g.request_id = accept_request_id(request.headers.get(HEADER))
    g.request_id_token = request_id_var.set(g.request_id)


def echo_request_id(response: Response) -> Response:
    """Return the request id in the response header."""
    if request_id := g.get("request_id"):
        response.headers[HEADER] = request_id
    return response


def end_request(_exc: BaseException | None = None) -> None:
    """Take the request id out of the log context (threads serve many requests)."""
    token = g.pop("request_id_token", None)
    if token is not None:
        try:
            request_id_var.reset(token)
        except (ValueError, RuntimeError):  # set in another context: just clear it
            request_id_var.set(None)


def init_app(app: Flask) -> None:
    """Configure the log level and format, and give every request an id."""
    logging.basicConfig(level=app.config.get("LOG_LEVEL", "INFO"))
    # SQL and its parameters (tokens, tags, sealed ratings) never reach a log line, whatever
    # LOG_LEVEL says: SQLAlchemy logs statements once its logger allows INFO.
    logging.getLogger("sqlalchemy").setLevel(logging.WARNING)
    app.config["LOG_FORMAT"] = log_format(app)
    configure_logging(app.config["LOG_FORMAT"])
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)
    app.after_request(echo_request_id)
    app.teardown_request(end_request)
