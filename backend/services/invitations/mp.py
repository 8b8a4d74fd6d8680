"""WeChat mini-program users: login sessions, subscribe-message credits, mini-program codes.

The openid and session_key WeChat hands back never leave the server: they are stored
encrypted, looked up by keyed hash, and the client only ever holds an opaque session id.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from backend.errors import InvalidInput, Unauthorized
from backend.integrations import WeChatClient, WeChatInvalidCode
from backend.models import MpSession, MpSubscription
from backend.models.types import utcnow
from backend.services.privacy.personal_data import Vault
from backend.storage import upsert_insert

SESSION_TTL = 7200
SESSION_ID_BYTES = 18  # 24 URL-safe characters, 144 random bits
CREDIT_CAP = 100
TEMPLATE_ID_MAX = 64
CODE_TTL = 86400
CODE_LOCK_TIMEOUT = 25.0  # two WeChat calls (token, code) at the client's 10 s timeout each


def create_session(session: Session, wechat: WeChatClient, vault: Vault, code: str,
                   now: datetime, ttl: int = SESSION_TTL) -> tuple[str, int]:
    """Exchange a wx.login code for a new session; return its id and lifetime in seconds."""
    try:
        login = wechat.code2session(code)
    except WeChatInvalidCode as exc:
        raise Unauthorized("微信登录凭证无效或已使用，请重新调用 wx.login 获取") from exc
    mp_session = MpSession(id=secrets.token_urlsafe(SESSION_ID_BYTES),
                           openid_hash=vault.lookup_hash("openid", login.openid),
                           openid_enc=vault.encrypt(login.openid),
                           session_key_enc=vault.encrypt(login.session_key),
                           created_at=now, expires_at=now + timedelta(seconds=ttl))
    session.add(mp_session)
    session.flush()
    return mp_session.id, ttl


def resolve_session(session: Session, session_id: str, now: datetime) -> MpSession | None:
    """Return the unexpired session with this id, or None."""
    mp_session = session.get(MpSession, session_id)
    if mp_session is None or mp_session.expires_at <= now:
        return None
    return mp_session


def accepted_counts(template_ids: Mapping[str, int] | Sequence[str]) -> dict[str, int]:
    """Count the credits granted per template id (a list grants one per occurrence)."""
    items = template_ids.items() if isinstance(template_ids, Mapping) else (
        (template_id, 1) for template_id in template_ids)
    counts: dict[str, int] = {}
    for template_id, n in items:
        if not template_id or len(template_id) > TEMPLATE_ID_MAX or int(n) < 0:
            raise InvalidInput("订阅消息模板编号无效", {"accepted": [str(template_id)]})
        counts[template_id] = counts.get(template_id, 0) + int(n)
    return counts


def record_subscriptions(session: Session, mp_session: MpSession,
                         template_ids: Mapping[str, int] | Sequence[str],
                         now: datetime | None = None) -> dict[str, int]:
    """Add subscription credits for the session's user; return the credits now held."""
    counts = accepted_counts(template_ids)
    moment = now or utcnow()
    for template_id, n in sorted(counts.items()):
        _add_credits(session, mp_session.openid_hash, template_id, n, moment)
    session.flush()
    rows = session.execute(select(MpSubscription.template_id, MpSubscription.credits).where(
        MpSubscription.openid_hash == mp_session.openid_hash,
        MpSubscription.template_id.in_(counts)))
    return {template_id: credits for template_id, credits in rows}


def _add_credits(session: Session, openid_hash: str, template_id: str, n: int,
                 now: datetime) -> None:
    # One atomic upsert: two taps granting credits at once cannot lose one or collide.
    insert = _dialect_insert(session)
    column = MpSubscription.__table__.c.credits
    added = case((column + n > CREDIT_CAP, CREDIT_CAP), else_=column + n)
    statement = insert(MpSubscription).values(
        openid_hash=openid_hash, template_id=template_id, credits=min(n, CREDIT_CAP),
        updated_at=now,
    ).on_conflict_do_update(index_elements=["openid_hash", "template_id"],
                            set_={"credits": added, "updated_at": now})
    session.execute(statement)


def _dialect_insert(session: Session) -> Any:
    return upsert_insert(session)


class ImageCache(Protocol):
    """Where mini-program code images are kept (the TokenCache interface: text values)."""

    def get(self, key: str) -> str | None:
        """Return the value stored under key, or None."""

    def set(self, key: str, value: str, ttl_seconds: float) -> None:
        """Store value under key for ttl_seconds."""

    def lock(self, name: str, timeout: float) -> contextlib.AbstractContextManager[None]:
        """Hold a lock named name for at most timeout seconds."""


def mini_program_code(wechat: WeChatClient, scene: str, page: str, env_version: str,
                      cache: ImageCache, ttl: float = CODE_TTL) -> bytes:
    """Return the mini-program code image for scene, asking WeChat once per cache lifetime."""
    key = f"mpcode:{env_version}:{page}:{scene}"
    image = _cached_image(cache, key)
    if image is not None:
        return image
    with cache.lock(key, timeout=CODE_LOCK_TIMEOUT):
        image = _cached_image(cache, key)  # another request may have fetched it meanwhile
        if image is None:
            image = wechat.get_unlimited(scene, page, env_version)
            cache.set(key, base64.b64encode(image).decode(), ttl)
    return image


def _cached_image(cache: ImageCache, key: str) -> bytes | None:
    value = cache.get(key)
    return base64.b64decode(value) if value else None
