"""Build directory rows, events, invitations and deliveries directly with the models."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from backend.models import Cadre, Delivery, Invitation, ServiceEvent, SurveyTemplate, Unit
from backend.services.invitations.deliveries import Senders
from backend.services.invitations.tokens import new_token
from backend.services.templates.catalogue import register_all

PHONE = "13800138000"
OPENID = "o_test_user_0001"
TEMPLATE_ID = "tpl-rating-invitation"
SUBSCRIBE_KEYS = ("thing1", "name2", "thing3", "time4")
OCCURRED = datetime(2026, 11, 21, 1, 30, tzinfo=UTC)  # 09:30 in Asia/Shanghai
_ids = itertools.count(1)


def service_template(session, app) -> SurveyTemplate:
    """Register the templates and return the current service_event version."""
    register_all(session, app.extensions["catalogue"])
    return session.scalars(select(SurveyTemplate).filter_by(kind="template", key="service_event")
                           .order_by(SurveyTemplate.version.desc())).first()


def make_cadre(session, code: str = "C001", name: str = "张三",
               unit_name: str = "城关镇人民政府") -> Cadre:
    """Create a unit and an official working in it."""
    unit = Unit(code=f"U-{code}", name=unit_name, category="township")
    cadre = Cadre(code=code, name=name, unit=unit, position="副镇长")
    session.add_all([unit, cadre])
    session.flush()
    return cadre


def make_delivery(session, app, cadre: Cadre, *, channel: str = "sms",
                  contact: str | None = PHONE, fallback_phone: str | None = None,
                  occurred_at: datetime = OCCURRED, deadline_hours: int = 24,
                  **fields) -> Delivery:
    """Create an event, its invitation and one pending delivery, as the ingestion does."""
    from backend import wiring

    vault, n = wiring.vault(app), next(_ids)
    invitation = Invitation(token=new_token(), kind="event", cadre_id=cadre.id,
                            template_id=service_template(session, app).id,
                            event_type="approval", created_at=occurred_at,
                            expires_at=occurred_at + timedelta(days=7))
    session.add(invitation)
    session.flush()
    event = ServiceEvent(source="test", external_id=f"E-{n}", cadre_id=cadre.id,
                         event_type="approval", occurred_at=occurred_at, channels=channel,
                         content_hash="0" * 64, invitation_id=invitation.id)
    session.add(event)
    session.flush()
    delivery = Delivery(invitation_id=invitation.id, event_id=event.id, channel=channel,
                        status="pending", attempts=0, next_attempt_at=occurred_at,
                        contact_enc=vault.encrypt(contact) if contact else None,
                        fallback_phone_enc=vault.encrypt(fallback_phone) if fallback_phone
                        else None, due_by=occurred_at + timedelta(hours=deadline_hours),
                        **fields)
    session.add(delivery)
    session.commit()
    return delivery


def without(senders: Senders, **changes) -> Senders:
    """Return the senders with some parts replaced (None = not configured)."""
    return replace(senders, **changes)


def close_clients(app) -> None:
    """Close the HTTP clients the app's wiring created."""
    for item in app.extensions.get("wiring", {}).values():
        if hasattr(item, "close"):
            item.close()
