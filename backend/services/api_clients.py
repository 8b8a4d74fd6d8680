"""Machine API clients: keys are shown once and stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import InvalidInput, Unauthorized
from backend.models import ApiClient
from backend.models.clients import SCOPES
from backend.models.types import utcnow

KEY_PREFIX = "ssp"
LAST_USED_RESOLUTION = timedelta(hours=1)


def hash_secret(secret: str) -> str:
    """Return the stored form of a key secret (keys carry 256 random bits, so no slow hash)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> list[str]:
    """Split and check a comma-separated scope list."""
    scopes = sorted({s.strip() for s in text.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(
            f"未知或缺少权限范围：{', '.join(unknown) or '(空)'}；可选：{', '.join(SCOPES)}",
            {"scopes": "unknown scope"},
        )
    return scopes


def create_client(session: Session, name: str, scopes: list[str]) -> tuple[ApiClient, str]:
    """Create a client and return it with its key, which is never stored in clear."""
    if session.scalar(select(ApiClient).where(ApiClient.name == name)):
        raise InvalidInput(f"客户端名称已存在：{name}", {"name": "already exists"})
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    client = ApiClient(name=name, key_id=key_id, key_hash=hash_secret(secret),
                       scopes=",".join(scopes))
    session.add(client)
    session.commit()
    return client, f"{KEY_PREFIX}_{key_id}_{secret}"


def authenticate(session: Session, key: str) -> ApiClient:
    """Return the active client owning `key`, or raise Unauthorized."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        raise Unauthorized("访问密钥格式无效")
    client = session.scalar(select(ApiClient).where(ApiClient.key_id == key_id))
    if client is None or not hmac.compare_digest(client.key_hash, hash_secret(secret)):
        raise Unauthorized("访问密钥无效")
    if not client.active:
        raise Unauthorized("访问密钥已停用")
    now = utcnow()
    if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
        client.last_used_at = now
        session.commit()
    return client
