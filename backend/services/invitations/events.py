"""Service events become one-time invitations, in batches, each item judged on its own.

The whole batch costs a fixed number of queries: cadres, existing events and open
invitations are read with one query each, and new rows are written with multi-row INSERTs.
Idempotency is on (source, external_id): the same content answers 200 with the same body,
different content 409. A recipient holding an open invitation for the same official within
the template's throttle window gets that invitation back (`throttled: true`).
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from backend.models import SurveyTemplate
from backend.services.directory.teams import is_team, referenced_unit
from backend.services.invitations.tokens import TokenCodec
from backend.services.privacy.personal_data import Vault, normalise_phone
from backend.services.sealing.seal import Sealer
from backend.services.templates.catalogue import Catalogue, register

MAX_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class EventInput:
    source: str
    external_id: str
    cadre_code: str
    event_type: str
    occurred_at: datetime
    phone: str | None = None
    openid: str | None = None
    channels: tuple[str, ...] = ("qr",)


class EventCadre(NamedTuple):
    """What ingestion reads of an official: a directory target, its kind and whether active."""

    id: int
    code: str
    kind: str
    active: bool


class Result(enum.Enum):
    """What became of one event; the API maps each to its HTTP status."""

    CREATED = "created"  # a new invitation
    REPLAYED = "replayed"  # the same event again: the same invitation
    CONFLICT = "conflict"  # the same (source, external_id) with different content
    INVALID = "invalid"  # the event breaks a rule
    FORBIDDEN = "forbidden"  # the source is not the client's
    REPEAT = "repeat"  # a repeat inside one batch, resolved to its first occurrence


@dataclass(frozen=True)
class Outcome:
    """The result of one event: what became of it and either a body or errors."""

    result: Result
    body: dict | None = None
    errors: dict | None = None
    message: str | None = None


@dataclass
class IngestContext:
    """Everything ingestion needs besides the session: injected, never global."""

    codec: TokenCodec
    vault: Vault
    catalogue: Catalogue
    base_url: str
    tz: ZoneInfo
    now: datetime
    sealer: Sealer  # asks the use tags whether a throttling link was used
    templates: dict[str, SurveyTemplate] = field(default_factory=dict)


@dataclass
class Prepared:
    """One valid event with its derived values, on its way to the database."""

    index: int
    data: EventInput
    cadre: EventCadre
    template: SurveyTemplate
    content_hash: str
    phone_hash: str | None
    openid_hash: str | None
    invitation: dict | None = None
    throttled: bool = False


def link_body(ctx: IngestContext, event_id: int, throttled: bool, token: str,
              expires_at: datetime) -> dict:
    """Render the contract's event response body."""
    signed = ctx.codec.url_token(token)
    url = f"{ctx.base_url}/r/{signed}"
    return {"event_id": str(event_id), "throttled": throttled, "invitation": {
        "token": signed, "url": url, "mp_scene": ctx.codec.scene(token),
        "qr_svg": f"{url}/qr.svg", "qr_png": f"{url}/qr.png",
        "expires_at": expires_at.astimezone(ctx.tz).isoformat(timespec="seconds")}}


def event_template_keys(catalogue: Catalogue) -> dict[str, str]:
    """Map each declared event type to the key of the template that declares it."""
    found: dict[str, str] = {}
    for key, loaded in sorted(catalogue.templates.items()):
        if loaded.definition["kind"] == "event":
            for event_type in loaded.definition["event_types"]:
                found.setdefault(event_type, key)
    return found


def template_for(session: Session, ctx: IngestContext, event_type: str) -> SurveyTemplate | None:
    """Return the registered current template for an event type (None when unknown)."""
    key = event_template_keys(ctx.catalogue).get(event_type)
    if key is None:
        return None
    if key not in ctx.templates:
        ctx.templates[key] = register(session, ctx.catalogue.templates[key])
    return ctx.templates[key]


def content_hash(vault: Vault, data: EventInput, phone: str | None) -> str:
    """Return a keyed hash of an event's content, to tell a replay from a conflict."""
    canonical = json.dumps([data.source, data.external_id, data.cadre_code, data.event_type,
                            data.occurred_at.timestamp(), phone, data.openid,
                            sorted(set(data.channels))], ensure_ascii=False)
    return vault.lookup_hash("event", canonical)


def check_event(ctx: IngestContext, data: EventInput, cadre: EventCadre | None,
                template: SurveyTemplate | None) -> dict:
    """Return field errors of one event against the directory and its template."""
    errors: dict = {}
    if (cadre is not None and is_team(cadre)) or referenced_unit(data.cadre_code) is not None:
        errors["cadre_code"] = (f"{data.cadre_code} 是单位领导班子：领导班子只在民主测评中评价，"
                                "服务事件只能评价干部本人")
    elif cadre is None:
        errors["cadre_code"] = f"干部不存在：{data.cadre_code}"
    elif not cadre.active:
        errors["cadre_code"] = f"干部已停用：{data.cadre_code}"
    if template is None:
        known = "、".join(sorted(event_template_keys(ctx.catalogue)))
        errors["event_type"] = f"未知事件类型：{data.event_type}；可选：{known}"
    if data.occurred_at > ctx.now + MAX_CLOCK_SKEW:
        errors["occurred_at"] = "发生时间晚于当前时间"
    elif template is not None:
        days = template.definition["invitation"]["max_event_age_days"]
        if data.occurred_at < ctx.now - timedelta(days=days):
            errors["occurred_at"] = f"事件发生已超过 {days} 天，不再发起评价"
    errors.update(contact_errors(data))
    return errors


def contact_errors(data: EventInput) -> dict:
    """Return errors of the recipient and the channels that need it."""
    errors: dict = {}
    if data.phone is not None and normalise_phone(data.phone) is None:
        errors["recipient"] = {"phone": "手机号格式不正确（应为 11 位中国大陆手机号）"}
    if "sms" in data.channels and data.phone is None:
        errors["channels"] = "短信渠道需要 recipient.phone"
    elif "wechat" in data.channels and data.openid is None:
        errors["channels"] = "微信渠道需要 recipient.openid"
    return errors
