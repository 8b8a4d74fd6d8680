"""Operations endpoints: liveness, readiness, and the offline API docs assets."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, send_from_directory
from sqlalchemy import text
from swagger_ui_bundle import swagger_ui_path

from backend.extensions import db, redis_connection

log = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)
DOCS_ASSETS = "/api/docs/assets/"


@bp.get("/healthz")
def healthz():
    """Answer while the process is alive."""
    return jsonify({"status": "ok"})


def check_database() -> str | None:
    """Return why the database is unreachable, or None."""
    try:
        db.session.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return "unreachable"
    finally:
        db.session.rollback()


def check_redis() -> str | None:
    """Return why Redis is unreachable (None when reachable or not configured)."""
    connection = redis_connection(current_app)
    if connection is None:
        return None
    try:
        connection.ping()
        return None
    except Exception as exc:
        log.warning("readiness: redis unreachable: %s", exc)
        return "unreachable"


@bp.get("/readyz")
def readyz():
    """Answer 200 when the database and Redis are reachable, else 503."""
    database, redis = check_database(), check_redis()
    body = {"database": database or "ok",
            "redis": redis or ("ok" if current_app.config["REDIS_URL"] else "embedded")}
    ready = database is None and redis is None
    return jsonify({"status": "ok" if ready else "unavailable", **body}), 200 if ready else 503


@bp.get(DOCS_ASSETS + "<path:filename>")
def docs_asset(filename: str):
    """Serve the Swagger UI files from the installed package (no CDN)."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
