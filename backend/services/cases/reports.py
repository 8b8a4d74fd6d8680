"""Reports of retaliation or pressure (打击报复锁): from the rater, to the discipline side only.

A rater reports from the receipt page: what happened, and a phone if they want a call. The
report becomes a case the discipline role alone sees (never the official's unit, never the API
for business systems). It names the official of the receipt's released rating, if any, and
nothing of the rater but the phone they chose to give, encrypted.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import InvalidInput
from backend.models import Cadre, Rating
from backend.models.cases import OPEN, REPORT, REPORT_KINDS, Case
from backend.services.cases.notices import notify
from backend.services.cases.opening import CaseRules, add_case
from backend.services.privacy import Vault, normalise_phone

MAX_REPORT = 1000


def file_report(session: Session, rating_ids: Sequence[int], kind: str, text: str,
                phone: str | None, vault: Vault, rules: CaseRules, tz: tzinfo,
                now: datetime) -> Case:
    """Open a discipline case from a rater's report; the caller commits."""
    if kind not in REPORT_KINDS:
        raise InvalidInput("举报类型无效", {"kind": [f"须为：{'、'.join(REPORT_KINDS)}"]})
    text = (text or "").strip()
    if not text:
        raise InvalidInput("请说明遇到的情况", {"text": ["请说明遇到的情况"]})
    if len(text) > MAX_REPORT:
        raise InvalidInput("情况说明过长", {"text": [f"最多 {MAX_REPORT} 个字符"]})
    contact = None
    if phone and phone.strip():
        contact = normalise_phone(phone)
        if contact is None:
            raise InvalidInput("手机号码无效", {"phone": ["请填写 11 位手机号码，或留空"]})
    cadre_id = session.scalar(select(Rating.cadre_id).where(Rating.id.in_(tuple(rating_ids)))
                              .order_by(Rating.id).limit(1)) if rating_ids else None
    unit_id = session.scalar(select(Cadre.unit_id).where(Cadre.id == cadre_id)) \
        if cadre_id else None
    case = Case(key=f"report:{secrets.token_hex(12)}", source=REPORT, cadre_id=cadre_id,
                unit_id=unit_id, period=f"{now.astimezone(tz):%Y-%m}",
                assignee_role="discipline", status=OPEN, due_at=rules.due(now, tz),
                created_at=now, updated_at=now, report_kind=kind, report_text=text,
                contact_enc=vault.encrypt(contact) if contact else None)
    add_case(session, case, now, actor="评价人")
    notify(session, [case], "opened", now, tz)
    return case
