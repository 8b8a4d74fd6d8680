"""Build the injected dependencies of services from an app's configuration, once per app.

Views, commands and jobs call these; services receive the results as parameters.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy.orm import Session

from backend.extensions import db, redis_connection
from backend.integrations import MemoryTokenCache, RedisTokenCache, SmsClient, WeChatClient
from backend.models.types import utcnow
from backend.scoring import scheme_from_dict
from backend.scoring.vocabulary import Vocabulary
from backend.services.cases import CaseRules, load_calendar
from backend.services.cases.evidence import EvidenceSettings
from backend.services.fraud import FraudSettings
from backend.services.fraud.stamps import StampCodec
from backend.services.invitations.tokens import TokenCodec
from backend.services.privacy.personal_data import Vault
from backend.services.ratings.release import ReleaseContext
from backend.services.ratings.submission import SubmitContext
from backend.services.reports.own_links import OwnLinkCodec
from backend.services.reports.results import ReportSettings
from backend.services.reports.settings import report_settings as build_report_settings
from backend.services.reports.thresholds import SampleThresholds
from backend.services.reports.thresholds import sample_thresholds as reports_thresholds
from backend.services.sealing.seal import Sealer

_lock = threading.RLock()  # builders call other builders (wechat -> token cache)


def _cached(app: Flask | None, name: str, build) -> Any:
    app = app or current_app._get_current_object()
    cache = app.extensions.setdefault("wiring", {})
    if name not in cache:
        with _lock:
            if name not in cache:
                cache[name] = build(app)
    return cache[name]


def timezone(app: Flask | None = None) -> ZoneInfo:
    """Return the deployment's time zone (TIMEZONE), built once per app."""
    return _cached(app, "timezone", lambda a: ZoneInfo(a.config["TIMEZONE"]))


def sample_thresholds(app: Flask | None = None) -> SampleThresholds:
    """Return the low-sample thresholds of the default scheme, read once per app."""
    return _cached(app, "thresholds",
                   lambda a: reports_thresholds(a.extensions["catalogue"]))


def vocabulary(app: Flask | None = None) -> Vocabulary:
    """Return the configured rater groups, unit categories and scheme rules."""
    app = app or current_app._get_current_object()
    return app.extensions["catalogue"].vocabulary


def token_codec(app: Flask | None = None) -> TokenCodec:
    """Return the signer/verifier of invitation tokens."""
    return _cached(app, "codec", lambda a: TokenCodec(a.config["SECRET_KEYS"]))


def stamp_codec(app: Flask | None = None) -> StampCodec:
    """Return the signer/verifier of opening stamps (SECRET_KEYS, purpose salt)."""
    return _cached(app, "stamps", lambda a: StampCodec(a.config["SECRET_KEYS"]))


def vault(app: Flask | None = None) -> Vault:
    """Return the personal-data vault."""
    return _cached(app, "vault", lambda a: Vault(a.config["SECRET_KEYS"]))


def sealer(app: Flask | None = None) -> Sealer:
    """Return the keeper of the rating keys (RATING_SEAL_KEYS)."""
    return _cached(app, "sealer", lambda a: Sealer(a.config["RATING_SEAL_KEYS"]))


def fraud_settings(app: Flask | None = None) -> FraudSettings:
    """Return the detectors' thresholds: the default scheme's `fraud:`, then FRAUD_*."""
    app = app or current_app._get_current_object()
    scheme = app.extensions["catalogue"].schemes.get("default")
    return FraudSettings.from_config(app.config, scheme=scheme.definition.get("fraud")
                                     if scheme else None)


def release_context(app: Flask | None = None, batch_min: int | None = None) -> ReleaseContext:
    """Return what the release of pending ratings needs (batch size from RATING_BATCH_MIN)."""
    app = app or current_app._get_current_object()
    minimum = app.config["RATING_BATCH_MIN"] if batch_min is None else batch_min
    return ReleaseContext(sealer(app), vault(app), timezone(app), now(),
                          minimum, run_min=fraud_settings(app).run_min,
                          case_rules=case_rules(app))


def case_rules(app: Flask | None = None) -> CaseRules:
    """Return when cases open and their deadlines: the default scheme and the holiday calendar."""
    def build(a: Flask) -> CaseRules:
        loaded = a.extensions["catalogue"].schemes["default"]
        scheme = scheme_from_dict({**loaded.definition, "version": 1}, loaded.source)
        return CaseRules(scheme.case_bad_max, scheme.case_due_workdays,
                         scheme.case_recheck_days, load_calendar(a.config["CASE_CALENDAR_FILE"]))

    return _cached(app, "case_rules", build)


def evidence_settings(app: Flask | None = None) -> EvidenceSettings:
    """Return where case evidence is kept and what is accepted (CASE_EVIDENCE_*)."""
    def build(a: Flask) -> EvidenceSettings:
        return EvidenceSettings(Path(a.config["CASE_EVIDENCE_DIR"]),
                                a.config["CASE_EVIDENCE_MAX_BYTES"],
                                tuple(a.config["CASE_EVIDENCE_TYPES"]))

    return _cached(app, "evidence_settings", build)


def token_cache(app: Flask | None = None):
    """Return the cache for upstream access tokens: Redis when configured, else memory."""
    def build(a: Flask):
        connection = redis_connection(a)
        return RedisTokenCache(connection) if connection is not None else MemoryTokenCache()

    return _cached(app, "token_cache", build)


def wechat_client(app: Flask | None = None):
    """Return the WeChat client (None when no app id and secret are configured)."""
    def build(a: Flask):
        if not (a.config["WECHAT_APPID"] and a.config["WECHAT_SECRET"]):
            return None
        return WeChatClient(a.config["WECHAT_API_BASE"], a.config["WECHAT_APPID"],
                            a.config["WECHAT_SECRET"], token_cache(a))

    return _cached(app, "wechat", build)


def sms_client(app: Flask | None = None):
    """Return the SMS client (None without SMS_GATEWAY_URL: messages are recorded instead)."""
    def build(a: Flask):
        url = a.config["SMS_GATEWAY_URL"]
        return SmsClient(url) if url else None

    return _cached(app, "sms", build)


def session() -> Session:
    """Return the unit of work of this request or job (the app's scoped session).

    Entry points hand it to services; the console and the API never reach for it elsewhere.
    """
    return db.session


def now() -> datetime:
    """Return the current time (aware UTC); the one clock services are given."""
    return utcnow()


def submit_context() -> SubmitContext:
    """Build the submission context: the app's keys and zone (looked up once), now, the engine."""
    codec, keys, tz, stamps = _cached(None, "submit", lambda a: (
        token_codec(a), sealer(a), timezone(a), stamp_codec(a)))
    return SubmitContext(codec=codec, sealer=keys, tz=tz, now=now(), stamps=stamps,
                         engine=db.engine)


def report_settings() -> ReportSettings:
    """Return the settings of results and reports now (the default scheme, as registered)."""
    return build_report_settings(db.session, current_app.extensions["catalogue"], timezone(),
                                 now())


def own_link_codec(app: Flask | None = None) -> OwnLinkCodec:
    """Return the signer/verifier of the officials' own report links."""
    return _cached(app, "own_links", lambda a: OwnLinkCodec(a.config["SECRET_KEYS"]))


def public_base_url() -> str:
    """Return PUBLIC_BASE_URL without a trailing slash."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")
