"""Configuration: defaults plus the environment variables of CONTRACT.md.

Nothing here runs at import time; `load_config` reads a given environment mapping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:5000"
DEFAULT_WECHAT_API_BASE = "https://api.weixin.qq.com"


def load_config(environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    """Build the application configuration from an environment mapping."""
    redis_url = environ.get("REDIS_URL") or None
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(environ, instance_path),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "SECRET_KEYS": secret_keys(environ, instance_path),
        "SECRET_KEYS_GENERATED": not environ.get("SECRET_KEYS", "").strip(),
        "RATING_SEAL_KEYS": secret_keys(environ, instance_path, "RATING_SEAL_KEYS",
                                        "rating_seal_keys"),
        "RATING_SEAL_KEYS_GENERATED": not environ.get("RATING_SEAL_KEYS", "").strip(),
        "RATING_BATCH_MIN": int(environ.get("RATING_BATCH_MIN", "20")),
        "PUBLIC_BASE_URL": environ.get("PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL).rstrip("/"),
        "ASSESSMENT_CORE_URL": environ.get("ASSESSMENT_CORE_URL") or None,
        "ASSESSMENT_CORE_SECRET": environ.get("ASSESSMENT_CORE_SECRET") or None,
        "WECHAT_API_BASE": environ.get("WECHAT_API_BASE", DEFAULT_WECHAT_API_BASE).rstrip("/"),
        "WECHAT_APPID": environ.get("WECHAT_APPID") or None,
        "WECHAT_SECRET": environ.get("WECHAT_SECRET") or None,
        "SMS_GATEWAY_URL": environ.get("SMS_GATEWAY_URL") or None,
        "SMS_SIGNATURE": environ.get("SMS_SIGNATURE", "随时评"),
        "WECHAT_MP_PAGE": environ.get("WECHAT_MP_PAGE", "pages/rate/index"),
        "WECHAT_ENV_VERSION": environ.get("WECHAT_ENV_VERSION", "release"),
        "WECHAT_SUBSCRIBE_TEMPLATE_ID": environ.get("WECHAT_SUBSCRIBE_TEMPLATE_ID") or None,
        "SCORES_NIGHTLY": [k.strip() for k in environ.get("SCORES_NIGHTLY", "month,quarter")
                           .split(",") if k.strip()],
        "PERSONAL_DATA_RETENTION_DAYS": int(environ.get("PERSONAL_DATA_RETENTION_DAYS", "30")),
        "TIMEZONE": environ.get("TIMEZONE", "Asia/Shanghai"),
        "RATELIMIT_PUBLIC": environ.get("RATELIMIT_PUBLIC", "60/minute"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "TRUSTED_PROXIES": int(environ.get("TRUSTED_PROXIES", "0")),
        "MAX_CONTENT_LENGTH": int(environ.get("MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        "SURVEY_TEMPLATES_DIR": environ.get("SURVEY_TEMPLATES_DIR", default_templates_dir()),
        "EMBEDDED_SCHEDULER": environ.get("EMBEDDED_SCHEDULER", "1") == "1",
        "LOG_LEVEL": environ.get("LOG_LEVEL", "INFO"),
        "LOG_FORMAT": environ.get("LOG_FORMAT", ""),
        # Where gunicorn's processes leave their metrics (deploy/gunicorn.conf.py sets it).
        "PROMETHEUS_MULTIPROC_DIR": environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
        # `flask demo serve` points links at the address it serves unless this was given.
        "PUBLIC_BASE_URL_GIVEN": bool(environ.get("PUBLIC_BASE_URL")),
        "ABUSE_SIGNAL_RETENTION_DAYS": int(environ.get("ABUSE_SIGNAL_RETENTION_DAYS", "90")),
        "FOLLOWUP_RETENTION_DAYS": int(environ.get("FOLLOWUP_RETENTION_DAYS", "180")),
        **optional_knobs(environ),
        "CASE_CALENDAR_FILE": environ.get("CASE_CALENDAR_FILE") or None,
        # Evidence files of cases: outside the web root, under random names.
        "CASE_EVIDENCE_DIR": environ.get("CASE_EVIDENCE_DIR")
        or str(Path(instance_path) / "case-evidence"),
        "CASE_EVIDENCE_MAX_BYTES": int(environ.get("CASE_EVIDENCE_MAX_BYTES",
                                                   str(10 * 1024 * 1024))),
        "CASE_EVIDENCE_TYPES": [t.strip().lower() for t in environ.get(
            "CASE_EVIDENCE_TYPES", "jpg,png,pdf").split(",") if t.strip()],
        # The WeChat subscribe template of case notices to assignees (unset: SMS only).
        "WECHAT_CASE_TEMPLATE_ID": environ.get("WECHAT_CASE_TEMPLATE_ID") or None,
        # Processes that walk a big ledger side by side in `ledger verify` (0: one per core).
        "LEDGER_VERIFY_WORKERS": int(environ.get("LEDGER_VERIFY_WORKERS", "0"))
        or os.cpu_count() or 1,
    }


# Tuning knobs read only when set; their readers hold the defaults (push relay, fraud rules).
OPTIONAL_KNOBS = ("PUSH_RETRY_SCHEDULE", "PUSH_LEASE_SECONDS", "PUSH_TIMEOUT",
                  "PUSH_CONCURRENCY", "PUSH_RELAY_LANES")


def optional_knobs(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the PUSH_* and FRAUD_* variables that are set (non-empty)."""
    return {name: value for name, value in environ.items()
            if (name in OPTIONAL_KNOBS or name.startswith("FRAUD_")) and value.strip()}


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the configuration from this process's environment (the app factory calls this)."""
    return load_config(os.environ, instance_path)


def database_url(environ: Mapping[str, str], instance_path: str) -> str:
    """Return the SQLAlchemy URL, normalising PostgreSQL URLs to the psycopg 3 driver."""
    url = environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "suishiping.db")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def secret_keys(environ: Mapping[str, str], instance_path: str, name: str = "SECRET_KEYS",
                filename: str = "secret_keys") -> list[str]:
    """Return a key list, newest first; when the variable is unset generate one into instance/."""
    raw = environ.get(name, "")
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if keys:
        return keys
    path = Path(instance_path) / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
    return [k.strip() for k in path.read_text(encoding="utf-8").split(",") if k.strip()]


def default_templates_dir() -> str:
    """Return the survey_templates folder next to the backend package."""
    return str(Path(__file__).resolve().parent.parent / "survey_templates")
