"""Notices to assignees: a case opened, returned or overdue reaches the people who handle it.

Each notice is a console row (the unread count and list on the cases inbox) and, when the user
left a WeChat openid or a mobile, a delivery row in the same outbox as rating invitations:
relayed, retried with backoff and fallen back from WeChat to SMS by the same worker. One
notice per user and step, however many cases a release batch opened. The text names the
unit, the number of cases and the deadline: nothing of a rater.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.errors import InvalidInput
from backend.models import ConsoleUser, Delivery, Unit
from backend.models.cases import Case, CaseNotice
from backend.models.outbox import PENDING
from backend.services.privacy.personal_data import Vault, normalise_phone

DELIVER_WITHIN = timedelta(hours=1)
MAX_OPENID = 64
NOTICE_PAGE = 20


@dataclass(frozen=True)
class CaseRef:
    """What a notice needs of a case: its id, unit, assignee role and deadline."""

    id: int
    unit_id: int | None
    assignee_role: str
    due_at: datetime


def case_refs(session: Session, case_ids: Collection[int]) -> list[CaseRef]:
    """Return the notice view of cases inserted without ORM objects (a release batch's)."""
    if not case_ids:
        return []
    rows = session.execute(select(Case.id, Case.unit_id, Case.assignee_role, Case.due_at)
                           .where(Case.id.in_(tuple(case_ids))).order_by(Case.id))
    return [CaseRef(*row) for row in rows]


def notify(session: Session, found: Sequence[Case | CaseRef], kind: str, now: datetime,
           tz: tzinfo) -> int:
    """Notify every user who handles the cases (and org admins of escalations); return count."""
    if not found:
        return 0
    session.flush()  # new cases get their ids
    refs = [c if isinstance(c, CaseRef) else CaseRef(c.id, c.unit_id, c.assignee_role, c.due_at)
            for c in found]
    users = list(session.scalars(select(ConsoleUser).where(ConsoleUser.active.is_(True))
                                 .order_by(ConsoleUser.id)))
    units = {row.id: row for row in session.execute(select(Unit.id, Unit.parent_id, Unit.name))}
    wanted: dict[int, list[CaseRef]] = defaultdict(list)
    for case in refs:
        chain = unit_chain(units, case.unit_id)
        for user in users:
            if handles(user, case, kind, chain):
                wanted[user.id].append(case)
    by_id = {u.id: u for u in users}
    names = {unit_id: row.name for unit_id, row in units.items()}
    for user_id, cases in wanted.items():
        add_notice(session, by_id[user_id], cases, kind, now, notice_text(cases, kind, names, tz))
    return len(wanted)


def handles(user: ConsoleUser, case: CaseRef, kind: str, chain: frozenset[int]) -> bool:
    """Return whether a user hears of a case step: its assignees, and org admins when overdue."""
    if user.role == case.assignee_role:
        return user.unit_id is None or user.unit_id in chain
    return kind == "escalated" and user.role == "org_admin" and case.assignee_role != "discipline"


def unit_chain(units: dict, unit_id: int | None) -> frozenset[int]:
    """Return the unit and every unit above it (whose admins handle its cases)."""
    chain, current = set(), unit_id
    while current is not None and current not in chain and current in units:
        chain.add(current)
        current = units[current].parent_id
    return frozenset(chain)


def notice_text(cases: Sequence[CaseRef], kind: str, names: dict[int, str], tz: tzinfo) -> str:
    """Return the notice in Chinese: which step, how many cases, where, by when."""
    units = sorted({names[c.unit_id] for c in cases if c.unit_id in names})
    where = "、".join(units[:2]) + (f"等 {len(units)} 个单位" if len(units) > 2 else "")
    due = min(c.due_at for c in cases).astimezone(tz)
    head = (f"整改单 {cases[0].id}" if len(cases) == 1 else f"{len(cases)} 件整改单")
    tail = {"opened": f"待受理，请于 {due:%m月%d日} 前办结",
            "returned": "被组织部退回，请补充整改后重新提交",
            "escalated": f"已逾期（期限 {due:%m月%d日}），已提请组织部督办",
            "reopened": f"回头看未见改善，已重新打开，请于 {due:%m月%d日} 前办结"}[kind]
    return f"{head}（{where or '未指定单位'}）{tail}。请登录随时评管理控制台办理。"


def add_notice(session: Session, user: ConsoleUser, cases: Sequence[CaseRef], kind: str,
               now: datetime, text: str) -> CaseNotice:
    """Add one user's notice and, when they left a contact, its outbox row (WeChat first)."""
    notice = CaseNotice(user_id=user.id, case_id=cases[0].id if len(cases) == 1 else None,
                        kind=kind, count=len(cases), text=text, created_at=now)
    session.add(notice)
    session.flush()
    channel, contact = (("wechat", user.openid_enc) if user.openid_enc
                        else ("sms", user.phone_enc))
    if contact:
        session.add(Delivery(notice_id=notice.id, channel=channel, status=PENDING, attempts=0,
                             contact_enc=contact, message=notice.text,
                             fallback_phone_enc=user.phone_enc if channel == "wechat" else None,
                             next_attempt_at=now, due_by=now + DELIVER_WITHIN, created_at=now))
    return notice


def unread_count(session: Session, user_id: int) -> int:
    """Return how many of a user's notices are unread."""
    return session.scalar(select(func.count()).select_from(CaseNotice).where(
        CaseNotice.user_id == user_id, CaseNotice.read_at.is_(None))) or 0


def recent_notices(session: Session, user_id: int, limit: int = NOTICE_PAGE) -> list[CaseNotice]:
    """Return a user's latest notices, newest first."""
    return list(session.scalars(select(CaseNotice).where(CaseNotice.user_id == user_id)
                                .order_by(CaseNotice.id.desc()).limit(limit)))


def mark_read(session: Session, user_id: int, now: datetime) -> int:
    """Mark all of a user's notices read; return how many were unread (the caller commits)."""
    result = session.execute(update(CaseNotice).where(
        CaseNotice.user_id == user_id, CaseNotice.read_at.is_(None)).values(read_at=now))
    return result.rowcount or 0


def set_contact(user: ConsoleUser, vault: Vault, phone: str | None,
                openid: str | None) -> None:
    """Set (or, with an empty value, clear) where a user's case notices go; encrypted."""
    if phone is not None:
        normal = normalise_phone(phone) if phone.strip() else ""
        if normal is None:
            raise InvalidInput("手机号格式不正确", {"phone": ["须为 11 位大陆手机号"]})
        user.phone_enc = vault.encrypt(normal) if normal else None
    if openid is not None:
        openid = openid.strip()
        if len(openid) > MAX_OPENID or any(c.isspace() for c in openid):
            raise InvalidInput("openid 格式不正确",
                               {"openid": [f"最多 {MAX_OPENID} 个字符，不含空白"]})
        user.openid_enc = vault.encrypt(openid) if openid else None
