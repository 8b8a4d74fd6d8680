"""The application factory, the one place that wires every part together."""

from __future__ import annotations

import os
import weakref
from typing import Any

from flask import Flask, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from backend import cli, http_errors, lean_submission, models, public_limits, routing, storage
from backend.api import (
    campaigns,
    cases,
    directory,
    events,
    invitations,
    mp,
    ops,
    push,
    receipts,
    scores,
    templates,
)
from backend.api.openapi import OperationIds
from backend.api.ops import DOCS_ASSETS
from backend.config import from_environment
from backend.console import bp as console_bp
from backend.extensions import add_retry_after, api, db, migrate
from backend.observability import logs as app_logging
from backend.observability import metrics
from backend.services.templates.catalogue import load_catalogue
from backend.storage import sqlite
from backend.web import own_report, qr, rating, receipt, security
from workers import jobs
from workers.cron import embedded_background, start_background

__all__ = ["create_app", "models"]  # importing models registers every table

API_TITLE = "随时评 Suishiping API"
API_VERSION = "v1"


class App(Flask):
    """Flask, asking once per function whether it is a coroutine.

    Flask asks (`ensure_sync`) for every hook and view on every request, through
    `inspect.iscoroutinefunction`; the answer never changes, so it is remembered for each
    function (bound methods by their function), weakly so that nothing is kept alive.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sync_functions: weakref.WeakSet = weakref.WeakSet()

    def ensure_sync(self, func):
        """Return `func` itself when it is known to be synchronous, else ask Flask."""
        target = getattr(func, "__func__", func)
        try:
            if target in self.sync_functions:
                return func
        except TypeError:  # not weakly referenceable: ask every time
            return super().ensure_sync(func)
        made = super().ensure_sync(func)
        if made is func:
            self.sync_functions.add(target)
        return made


def openapi_settings() -> dict[str, Any]:
    """Return flask-smorest settings: spec at /api/openapi.json, docs at /api/docs."""
    return {
        "API_TITLE": API_TITLE,
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": DOCS_ASSETS,
        "API_SPEC_OPTIONS": {
            "info": {"description": "随时评：服务事项评价与民主测评数据采集平台的对外接口。"},
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "机器客户端密钥（flask api-client create 生成）"},
                "mpSession": {"type": "http", "scheme": "bearer",
                              "description": "小程序会话令牌（POST /api/v1/mp/session 获得）"}}},
        },
    }


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create the application: configuration, extensions, blueprints, errors, CLI."""
    app = App("backend", instance_relative_config=True,
                template_folder="web/templates", static_folder="web/static")
    os.makedirs(app.instance_path, exist_ok=True)
    routing.init_app(app)  # before any blueprint adds a rule
    app.config.update(from_environment(app.instance_path))
    app.config.update(openapi_settings())
    app.config.update(config or {})
    for name in ("SECRET_KEYS", "RATING_SEAL_KEYS"):
        if config and name in config:
            app.config[f"{name}_GENERATED"] = False
        if app.config["REDIS_URL"] and app.config[f"{name}_GENERATED"]:
            raise RuntimeError(f"REDIS_URL 已设置（生产模式）但缺少 {name}：各进程会生成"
                               f"不同的密钥。请设置 {name}（逗号分隔，最新的在前）")
    init_extensions(app)
    register_blueprints(app)
    lean_submission.install(app)  # in front of Flask, behind the proxy fix
    if app.config["TRUSTED_PROXIES"]:
        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    cli.init_app(app)
    start_embedded_scheduler(app)
    return app


jobs.use_factory(create_app)  # a worker process that resolves a job builds its app with it


def init_extensions(app: Flask) -> None:
    """Bind the unbound extensions and load the survey templates."""
    app_logging.init_app(app)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            storage.choose(engine)  # refuses a database neither implementation serves
            sqlite.configure(engine)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"),
                     render_as_batch=True)
    public_limits.init_app(app)  # Flask-Limiter, its hooks skipping self-counted endpoints
    app.after_request(add_retry_after)
    api.init_app(app, spec_kwargs={"extra_plugins": [OperationIds()]})
    http_errors.init_app(app)
    metrics.init_app(app)
    app.before_request(allow_uploads)  # before the CSRF check reads the form
    security.init_app(app)
    app.extensions["catalogue"] = load_catalogue(app.config["SURVEY_TEMPLATES_DIR"])


# Endpoints that take files: their own size limit (plus the form around the file).
UPLOAD_LIMITS = {"console.case_evidence_upload": "CASE_EVIDENCE_MAX_BYTES"}
FORM_MARGIN = 64 * 1024


def allow_uploads() -> None:
    """Let an upload endpoint read up to its own limit instead of MAX_CONTENT_LENGTH."""
    setting = UPLOAD_LIMITS.get(request.endpoint or "")
    if setting:
        request.max_content_length = current_app.config[setting] + FORM_MARGIN


def register_blueprints(app: Flask) -> None:
    """Register the API blueprints (documented) and the plain ones."""
    for module in (directory, events, invitations, mp, templates, scores, campaigns, cases, push,
                   receipts):
        api.register_blueprint(module.blp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(qr.bp)
    app.register_blueprint(rating.bp)
    app.register_blueprint(receipt.bp)
    app.register_blueprint(own_report.bp)
    app.register_blueprint(console_bp)


def start_embedded_scheduler(app: Flask) -> None:
    """In embedded mode, make sure periodic jobs run in this process once it serves.

    `flask demo serve` (what `make demo` runs) starts them with the server; under another
    server (`flask run`, gunicorn without Redis) they start with the first request.
    """
    if not embedded_background(app):
        return

    @app.before_request
    def ensure_cron() -> None:
        if "cron_stop" not in app.extensions:
            start_background(app)
