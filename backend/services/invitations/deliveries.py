"""The delivery outbox: relay due messages by SMS or WeChat, retry, fall back, watch, purge.

Due rows are claimed in small groups under FOR UPDATE SKIP LOCKED and leased (next_attempt_at
moved past the time a group takes), so two workers never send the same row and no database
transaction stays open during a network call; each row's outcome is committed on its own.
A crash delays the leased rows, never loses them; the SMS gateway drops a resent ref.

No row holds a working link: the stored text carries a placeholder that the link replaces at
send time. Whether a link was used is not asked of event messages (a skipped or cancelled
message would mark the link used); a campaign reminder, which names no ballot in clear, is
cancelled when its ballot was answered meanwhile.

The same outbox carries case notices to console users (services/cases/notices.py): a row with
`notice_id` holds its finished text (no link) and the user's own encrypted contact, and goes
by SMS or by the case-notice subscribe template, with the same retries and SMS fallback.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session, object_session

from backend.integrations.errors import IntegrationError, WeChatNoCredit
from backend.integrations.wechat import format_date_time
from backend.models import CaseNotice, Delivery, Invitation, ServiceEvent
from backend.models.cases import NOTICE_KINDS
from backend.models.outbox import CANCELLED, FAILED, PENDING, RECORDED, SENT
from backend.services.invitations.tokens import TokenCodec
from backend.services.privacy.personal_data import Vault
from backend.services.sealing import uses
from backend.services.sealing.seal import Sealer, SealError
from backend.storage.transactions import begin_write

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)
BACKOFF_THEN = 7200
GIVE_UP_AFTER = timedelta(hours=48)
CLAIM_SIZE = 20
LEASE = timedelta(minutes=10)  # > CLAIM_SIZE sends at the clients' 10 s timeout
SMS_SEGMENT, SMS_LONG_SEGMENT = 70, 67
MAX_ERROR = 500
MP_STATES = {"release": "formal", "trial": "trial", "develop": "developer"}
SMS_EVENT_TEXT = ("【{signature}】感谢您办理{service}，请对{unit}{name}的服务进行评价"
                  "（{days}天内有效，仅可评价一次）：{link}")
SMS_BALLOT_TEXT = "【{signature}】诚邀您参加{service}（{days}天内有效，仅可提交一次）：{link}"
LINK = "{评价链接}"  # stored in place of the link, which is rendered at send time
TERMINAL = {"sent": SENT, "recorded": RECORDED, "failed": FAILED, "fallback": FAILED,
            "cancelled": CANCELLED}


class SmsSender(Protocol):
    def send(self, phone: str, content: str, ref: str) -> str: ...


class SubscribeSender(Protocol):
    def send_subscribe(self, touser: str, template_id: str, data: Mapping[str, str],
                       page: str | None = None, state: str = "formal") -> int: ...


@dataclass(frozen=True)
class MessageSettings:
    """What messages say and where they point."""

    public_base_url: str
    sms_signature: str = "随时评"
    mp_page: str = "pages/rate/index"
    mp_state: str = "formal"
    subscribe_template_id: str | None = None
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    case_template_id: str | None = None  # the subscribe template of case notices

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MessageSettings:
        """Read the settings from an application configuration mapping."""
        return cls(config["PUBLIC_BASE_URL"].rstrip("/"), config.get("SMS_SIGNATURE", "随时评"),
                   config.get("WECHAT_MP_PAGE", "pages/rate/index"),
                   MP_STATES.get(config.get("WECHAT_ENV_VERSION", "release"), "formal"),
                   config.get("WECHAT_SUBSCRIBE_TEMPLATE_ID"),
                   ZoneInfo(config.get("TIMEZONE", "Asia/Shanghai")),
                   config.get("WECHAT_CASE_TEMPLATE_ID"))


@dataclass(frozen=True)
class Senders:
    """The relay's side effects: senders (None = not configured), codec, vault, settings."""

    codec: TokenCodec
    vault: Vault
    settings: MessageSettings
    sms: SmsSender | None = None
    wechat: SubscribeSender | None = None
    sealer: Sealer | None = None  # opens campaign reminders' ballots


@dataclass(frozen=True)
class Outgoing:
    """A message ready to go out, detached from the database."""

    delivery_id: int
    channel: str
    contact: str
    text: str = ""
    data: Mapping[str, str] = field(default_factory=dict)
    page: str = ""
    has_fallback: bool = False
    template_id: str | None = None  # None: the rating invitations' template


@dataclass(frozen=True)
class Outcome:
    """What happened to one row: sent, recorded, retry, failed, fallback or cancelled."""

    kind: str
    error: str | None = None
    provider_ref: str | None = None
    retry_after: float | None = None
    attempted: bool = False


@dataclass
class RelayReport:
    """How many rows a relay claimed, by outcome; `more` when it stopped at its bound."""

    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    more: bool = False


def relay_due(session: Session, senders: Senders, now: datetime,
              batch_size: int = 200) -> RelayReport:
    """Send up to batch_size due deliveries, oldest first; commit each row's outcome."""
    report = RelayReport()
    while report.claimed < batch_size:
        want = min(CLAIM_SIZE, batch_size - report.claimed)
        claimed = claim(session, senders, now, want)
        report.claimed += len(claimed)
        fallbacks = 0
        for delivery_id, prepared in claimed:
            outcome = prepared if isinstance(prepared, Outcome) else deliver(prepared, senders)
            fallbacks += record(session, delivery_id, outcome, now)
            report.outcomes[outcome.kind] += 1
        if len(claimed) < want and not fallbacks:
            return report  # nothing else is due (fallback SMS rows are due at once)
    report.more = True
    return report


def claim(session: Session, senders: Senders, now: datetime,
          limit: int) -> list[tuple[int, Outgoing | Outcome]]:
    """Lease up to `limit` due rows to this worker and prepare their messages."""
    begin_write(session)
    ids = session.scalars(
        select(Delivery.id).where(Delivery.status == PENDING, Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
        .with_for_update(skip_locked=True)).all()
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids))
                        .values(next_attempt_at=now + LEASE))
    rows = session.scalars(select(Delivery).where(Delivery.id.in_(ids))
                           .order_by(Delivery.id)).all() if ids else []
    claimed = [(row.id, prepare_safely(row, senders, now)) for row in rows]
    session.commit()
    return claimed


def prepare_safely(row: Delivery, senders: Senders, now: datetime) -> Outgoing | Outcome:
    """Prepare a row; a row that cannot be composed fails instead of blocking the outbox."""
    try:
        return prepare(row, senders, now)
    except Exception:
        log.exception("delivery %s: could not compose the message", row.id)
        return Outcome("failed", "无法生成消息（内部错误），请联系系统管理员")


def prepare(row: Delivery, senders: Senders, now: datetime) -> Outgoing | Outcome:
    """Compose a row's message, or decide its outcome when it cannot or need not go out."""
    if row.notice_id is not None:
        return prepare_notice(row, senders)
    invitation = row.invitation or reminded_ballot(row, senders)
    if invitation is None:
        return Outcome("failed", "提醒对应的测评票无法解开（RATING_SEAL_KEYS 已轮换）")
    if ended := ended_state(invitation, now):
        return Outcome("cancelled", f"邀请{ended}，不再发送")
    if row.invitation is None and uses.is_used(object_session(row), senders.sealer,
                                               invitation.token):
        return Outcome("cancelled", "测评票已提交，不再提醒")
    if row.contact_enc is None:
        return Outcome("failed", "联系方式已按保存期限清除")
    contact = senders.vault.decrypt(row.contact_enc)
    if contact is None:
        return Outcome("failed", "联系方式无法解密（加密密钥已轮换），请业务系统重新报送事件")
    if row.channel == "sms":
        return prepare_sms(row, invitation, contact, senders, now)
    if row.channel == "wechat":
        return prepare_wechat(row, invitation, contact, senders)
    return Outcome("failed", f"未知的发送渠道：{row.channel}")


def prepare_notice(row: Delivery, senders: Senders) -> Outgoing | Outcome:
    """Compose a case notice to a console user: its text by SMS, or a subscribe message."""
    contact = senders.vault.decrypt(row.contact_enc) if row.contact_enc else None
    if contact is None:
        return Outcome("failed", "联系方式已清除或无法解密，请在控制台用户中重新登记")
    settings, has_fallback = senders.settings, row.fallback_phone_enc is not None
    if row.channel == "sms":
        if senders.sms is None:
            return Outcome("recorded")
        return Outgoing(row.id, "sms", contact, text=f"【{settings.sms_signature}】{row.message}")
    if senders.wechat is None or not settings.case_template_id:
        return no_credit("未配置整改通知的微信订阅消息模板", has_fallback)
    return Outgoing(row.id, "wechat", contact, has_fallback=has_fallback,
                    data=notice_data(row.notice, settings.timezone),
                    template_id=settings.case_template_id)


def notice_data(notice: CaseNotice, tz: tzinfo) -> dict[str, str]:
    """Return a case notice's subscribe fields: the step, the unit or count, the time, a hint."""
    subject = (notice.case.unit.name if notice.case is not None and notice.case.unit
               else f"共 {notice.count} 件整改单")
    return {"thing1": NOTICE_KINDS.get(notice.kind, "整改单通知"), "thing2": subject,
            "time3": format_date_time(notice.created_at.astimezone(tz)),
            "thing4": "请登录管理控制台办理"}


def reminded_ballot(row: Delivery, senders: Senders) -> Invitation | None:
    """Return the ballot a campaign reminder carries sealed, or None when no key opens it."""
    if row.sealed_ref is None or senders.sealer is None:
        return None
    try:
        invitation_id = senders.sealer.open(row.sealed_ref)["invitation_id"]
    except SealError:
        return None
    return object_session(row).get(Invitation, invitation_id)


def prepare_sms(row: Delivery, invitation: Invitation, phone: str, senders: Senders,
                now: datetime) -> Outgoing | Outcome:
    """Compose the text once (a resent ref must carry the same content); record without SMS.

    The stored text holds a placeholder for the link; the link itself exists only in the
    message handed to the gateway.
    """
    if row.message is None:
        row.message = compose_sms(invitation, row.event, senders, now)
    if senders.sms is None:
        return Outcome("recorded")
    link = rating_link(senders.settings.public_base_url, senders.codec, invitation.token)
    return Outgoing(row.id, "sms", phone, text=row.message.replace(LINK, link))


def prepare_wechat(row: Delivery, invitation: Invitation, openid: str,
                   senders: Senders) -> Outgoing | Outcome:
    """Build the subscribe message; without WeChat configured, fall back as for no credit."""
    settings, has_fallback = senders.settings, row.fallback_phone_enc is not None
    if senders.wechat is None or not settings.subscribe_template_id:
        return no_credit("未配置微信订阅消息", has_fallback)
    page = f"{settings.mp_page}?scene={senders.codec.scene(invitation.token)}"
    return Outgoing(row.id, "wechat", openid, page=page, has_fallback=has_fallback,
                    data=subscribe_data(invitation, row.event, settings.timezone))


def deliver(out: Outgoing, senders: Senders) -> Outcome:
    """Hand one message to its provider and classify what came back."""
    try:
        if out.channel == "sms":
            ref = senders.sms.send(out.contact, out.text, ref=f"delivery-{out.delivery_id}")
        else:
            settings = senders.settings
            ref = str(senders.wechat.send_subscribe(
                out.contact, out.template_id or settings.subscribe_template_id, out.data,
                page=out.page, state=settings.mp_state))
    except WeChatNoCredit:
        return no_credit("用户未订阅或订阅次数已用完（43101）", out.has_fallback)
    except IntegrationError as exc:
        channel = "短信网关" if out.channel == "sms" else "微信"
        return Outcome("retry" if exc.retryable else "failed", f"{channel}：{exc.message}",
                       retry_after=exc.retry_after, attempted=True)
    except Exception:  # a bug must not stall the other rows: retry this one later
        log.exception("delivery %s: unexpected error while sending", out.delivery_id)
        return Outcome("retry", "发送时发生内部错误，稍后重试", attempted=True)
    return Outcome("sent", provider_ref=ref, attempted=True)


def no_credit(reason: str, has_fallback: bool) -> Outcome:
    """Fall back to SMS when a phone is known, else fail visibly."""
    if has_fallback:
        return Outcome("fallback", reason)
    return Outcome("failed", f"{reason}，且无手机号可改发短信")


def record(session: Session, delivery_id: int, outcome: Outcome, now: datetime) -> int:
    """Write one row's outcome in its own transaction; return 1 if a fallback SMS was added."""
    begin_write(session)
    row = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
    added = 0
    if row is not None and row.status == PENDING:
        if outcome.kind == "fallback":
            added = add_fallback_sms(session, row, now)
            note = "已改发短信" if added else "该邀请已有短信，不再重复发送"
            outcome = Outcome("fallback", f"{outcome.error}，{note}")
        apply_outcome(row, outcome, now)
    session.commit()
    return added


def add_fallback_sms(session: Session, row: Delivery, now: datetime) -> int:
    """Queue an SMS to the fallback phone unless the invitation (or notice) has one already.

    Return 1 when one was queued.
    """
    same = (Delivery.notice_id == row.notice_id if row.notice_id is not None
            else Delivery.invitation_id == row.invitation_id)
    if session.scalar(select(exists().where(same, Delivery.channel == "sms"))):
        return 0
    session.add(Delivery(invitation_id=row.invitation_id, event_id=row.event_id, channel="sms",
                         notice_id=row.notice_id, message=row.message if row.notice_id else None,
                         status=PENDING, attempts=0, contact_enc=row.fallback_phone_enc,
                         next_attempt_at=now, due_by=row.due_by, created_at=now))
    return 1


def apply_outcome(row: Delivery, outcome: Outcome, now: datetime) -> None:
    """Set a row's status, error, timing and provider reference from an outcome."""
    row.attempts += 1 if outcome.attempted else 0
    if outcome.error:
        row.last_error = outcome.error[:MAX_ERROR]
    if outcome.kind == "retry":
        if now < row.due_by + GIVE_UP_AFTER:
            row.next_attempt_at = now + retry_delay(row.attempts, outcome.retry_after)
            return
        row.last_error = f"送达期限过后 48 小时仍未成功，停止重试：{outcome.error}"[:MAX_ERROR]
    row.status = TERMINAL.get(outcome.kind, FAILED)
    if row.status in (SENT, RECORDED):
        row.delivered_at, row.provider_ref = now, outcome.provider_ref


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Return the wait before the next try: 30 s, 2 min, 10 min, 30 min, 1 h, then 2 h."""
    step = BACKOFF_SECONDS[attempts - 1] if 0 < attempts <= len(BACKOFF_SECONDS) else BACKOFF_THEN
    return timedelta(seconds=max(step, retry_after or 0))


def ended_state(invitation: Invitation, now: datetime) -> str | None:
    """Return why an invitation can no longer be used (已撤销, 已过期), or None."""
    if invitation.revoked_at is not None:
        return "已撤销"
    return "已过期" if invitation.expires_at <= now else None


def rating_link(public_base_url: str, codec: TokenCodec, token: str) -> str:
    """Return the short link of an invitation: <base>/r/<signed token>."""
    return f"{public_base_url}/r/{codec.url_token(token)}"


def service_name(invitation: Invitation) -> str:
    """Return the Chinese name of the invitation's event type (or of its template)."""
    definition = invitation.template.definition
    event_type = (definition.get("event_types") or {}).get(invitation.event_type or "") or {}
    return event_type.get("name") or definition.get("name") or "服务事项"


def compose_sms(invitation: Invitation, event: ServiceEvent | None, senders: Senders,
                now: datetime) -> str:
    """Compose the invitation SMS in two segments at most, dropping the unit if need be.

    The text holds LINK where the link goes; its length is judged with the real link.
    """
    settings = senders.settings
    days = max(1, math.ceil((invitation.expires_at - now) / timedelta(days=1)))
    link = rating_link(settings.public_base_url, senders.codec, invitation.token)
    values = {"signature": settings.sms_signature, "service": service_name(invitation),
              "days": days, "link": LINK}
    cadre = invitation.cadre or (event.cadre if event else None)
    if cadre is None:
        return SMS_BALLOT_TEXT.format(**values)
    text = SMS_EVENT_TEXT.format(unit=cadre.unit.name, name=cadre.name, **values)
    if len(text.replace(LINK, link)) > 2 * SMS_LONG_SEGMENT:
        text = SMS_EVENT_TEXT.format(unit="", name=cadre.name, **values)
    return text


def sms_segments(text: str) -> int:
    """Return how many SMS segments a text takes (70 characters, or 67 per part when longer)."""
    return 1 if len(text) <= SMS_SEGMENT else math.ceil(len(text) / SMS_LONG_SEGMENT)


def subscribe_data(invitation: Invitation, event: ServiceEvent | None,
                   tz: tzinfo) -> dict[str, str]:
    """Return the subscribe message fields: service, official, unit, time of the service."""
    cadre = invitation.cadre or (event.cadre if event else None)
    moment = event.occurred_at if event else invitation.created_at
    data = {"thing1": service_name(invitation),
            "time4": format_date_time(moment.astimezone(tz))}
    if cadre is not None:
        data |= {"name2": cadre.name, "thing3": cadre.unit.name}
    return data
