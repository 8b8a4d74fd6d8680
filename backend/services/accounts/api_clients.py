"""Machine API clients: keys are shown once and stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import Forbidden, InvalidInput, Unauthorized
from backend.models import ApiClient
from backend.models.clients import SCOPES
from backend.models.types import utcnow
from backend.services.directory.units import CODE_PATTERN

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


def parse_sources(name: str, sources: list[str] | tuple[str, ...] | None) -> list[str]:
    """Check the sources a client may post events for (default: its name)."""
    chosen = sorted({s.strip() for s in sources or () if s.strip()}) or [name]
    bad = [s for s in chosen if not CODE_PATTERN.match(s)]
    if bad:
        hint = "" if sources else "；名称不能用作来源时请用 --source 指定"
        raise InvalidInput(f"来源标识无效：{'、'.join(bad)}（只能包含字母、数字、点、横线和"
                           f"下划线，且不超过 64 个字符）{hint}")
    return chosen


def create_client(session: Session, name: str, scopes: list[str],
                  sources: list[str] | tuple[str, ...] | None = None,
                  commit: bool = True) -> tuple[ApiClient, str]:
    """Create a client and return it with its key, which is never stored in clear."""
    if session.scalar(select(ApiClient).where(ApiClient.name == name)):
        raise InvalidInput(f"客户端名称已存在：{name}", {"name": "already exists"})
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    client = ApiClient(name=name, key_id=key_id, key_hash=hash_secret(secret),
                       scopes=",".join(scopes), sources=",".join(parse_sources(name, sources)))
    session.add(client)
    if commit:
        session.commit()
    else:
        session.flush()
    return client, f"{KEY_PREFIX}_{key_id}_{secret}"


def check_source(client: ApiClient, source: str) -> None:
    """Refuse (403) an event a client reports under a source that is not one of its own."""
    if source not in client.source_set:
        message = (f"该密钥不能以来源 {source} 报送事件；"
                   f"可用的来源：{'、'.join(sorted(client.source_set))}")
        raise Forbidden(message, {"source": message})


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
