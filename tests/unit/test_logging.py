"""Log lines: JSON format, the request id (validated, echoed, carried into jobs), masking."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask

from backend.observability import logs as app_logging
from backend.observability.masking import MASKING_FILTER
from workers.queues import EmbeddedJobQueue

TOKEN = "AbCdEf0123456789xyz"


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Capture the root logger's records as JSON lines, as production formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(app_logging.JsonFormatter())
    handler.addFilter(MASKING_FILTER)
    handler.addFilter(app_logging.CONTEXT_FILTER)
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture
def web() -> Flask:
    """A bare app with request ids and a view that logs."""
    app = Flask(__name__)
    app.config.update(LOG_FORMAT="json", LOG_LEVEL="INFO")
    app_logging.init_app(app)

    @app.get("/hello")
    def hello():
        logging.getLogger("tests.view").warning("serving /r/%s", TOKEN)
        return {"request_id": app_logging.current_request_id()}

    return app


def test_a_record_is_one_json_line_with_time_level_logger_and_message(lines):
    logging.getLogger("tests.json").warning("hello %s", "世界")
    (line,) = parsed(lines)
    assert line["level"] == "WARNING" and line["logger"] == "tests.json"
    assert line["message"] == "hello 世界"
    assert line["time"][10] == "T" and line["time"][-6] in "+-"
    assert "request_id" not in line and "job_id" not in line


def test_a_record_carries_the_bound_request_and_job_ids(lines):
    with app_logging.bound("req-1", "job-9"):
        logging.getLogger("tests.json").warning("inside")
    logging.getLogger("tests.json").warning("outside")
    inside, outside = parsed(lines)
    assert (inside["request_id"], inside["job_id"]) == ("req-1", "job-9")
    assert "request_id" not in outside


def test_exception_text_is_included_with_tokens_masked(lines):
    try:
        raise ValueError(f"bad link /r/{TOKEN}/qr.svg")
    except ValueError:
        logging.getLogger("tests.json").exception("failed on /api/v1/invitations/%s", TOKEN)
    (line,) = parsed(lines)
    assert line["message"] == "failed on /api/v1/invitations/***"
    assert "ValueError: bad link /r/***/qr.svg" in line["exception"]
    assert TOKEN not in json.dumps(line)


@pytest.mark.parametrize("raw", ["abc-123", "A.b_c-9", "x" * 64])
def test_a_well_formed_request_id_is_kept(raw):
    assert app_logging.accept_request_id(raw) == raw


@pytest.mark.parametrize("raw", [None, "", "x" * 65, "has space", "semi;colon", "换行\n",
                                 '{"json": 1}'])
def test_a_missing_or_malformed_request_id_is_replaced(raw):
    made = app_logging.accept_request_id(raw)
    assert made != raw and app_logging.VALID_ID.match(made)


def test_the_request_id_sent_is_echoed_and_carried_by_log_lines(web, lines):
    response = web.test_client().get("/hello", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    assert response.json["request_id"] == "trace-42"
    (line,) = [r for r in parsed(lines) if r["logger"] == "tests.view"]
    assert line["request_id"] == "trace-42"
    assert line["message"] == "serving /r/***"


def test_a_malformed_request_id_is_replaced_by_a_generated_one(web):
    client = web.test_client()
    first = client.get("/hello", headers={"X-Request-ID": "bad id " + "x" * 80})
    second = client.get("/hello")
    ids = {first.headers["X-Request-ID"], second.headers["X-Request-ID"]}
    assert len(ids) == 2 and all(app_logging.VALID_ID.match(i) for i in ids)
    assert first.json["request_id"] == first.headers["X-Request-ID"]


def test_errors_carry_the_request_id_too(web):
    response = web.test_client().get("/nowhere", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "lost-1"


def test_the_request_id_leaves_the_log_context_after_the_request(web):
    web.test_client().get("/hello", headers={"X-Request-ID": "gone-after"})
    assert app_logging.current_request_id() is None


def test_a_job_enqueued_in_a_request_logs_with_its_request_id(web, lines):
    jobs = EmbeddedJobQueue(web, threaded=False)

    @web.post("/work")
    def work():
        jobs.enqueue("logging:warning", "job ran", job_id="job-7")
        return {}

    web.test_client().post("/work", headers={"X-Request-ID": "flow-1"})
    assert jobs.run_due() == 1
    (line,) = [r for r in parsed(lines) if r["message"] == "job ran"]
    assert (line["request_id"], line["job_id"]) == ("flow-1", "job-7")


def test_console_handlers_get_the_format_and_keep_token_masking(web):
    handlers = app_logging.console_handlers(logging.getLogger())
    assert handlers
    for handler in handlers:
        assert isinstance(handler.formatter, app_logging.JsonFormatter)
        assert MASKING_FILTER in handler.filters
        assert app_logging.CONTEXT_FILTER in handler.filters


def test_text_lines_stay_readable_and_show_the_request_id():
    record = logging.LogRecord("tests.text", logging.INFO, __file__, 1, "hello", None, None)
    record.request_id, record.job_id = "req-5", None
    text = app_logging.TextFormatter().format(record)
    assert text.endswith("INFO tests.text [req-5]: hello")


@pytest.mark.parametrize(("config", "environ", "expected"), [
    ({"REDIS_URL": "redis://r:6379/0"}, {}, "json"),
    ({"REDIS_URL": None}, {}, "text"),
    ({"REDIS_URL": None}, {"LOG_FORMAT": "json"}, "json"),
    ({"REDIS_URL": "redis://r:6379/0", "LOG_FORMAT": "text"}, {}, "text"),
])
def test_json_is_the_default_in_production_and_text_in_the_demo(monkeypatch, config, environ,
                                                                expected):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    app = Flask(__name__)
    app.config.update(config)
    assert app_logging.log_format(app) == expected
