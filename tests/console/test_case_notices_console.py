"""Case notices in the console: the unread count and list on the inbox, marking them read, and
the user's own SMS / WeChat contact for them (bad input: 422, nothing changed)."""

from __future__ import annotations

from sqlalchemy import func, select

from backend import wiring
from backend.extensions import db
from backend.models import AuditEntry, CaseNotice, ConsoleUser
from tests.console.test_cases_console import bad_case
from tests.console.world import form_token


def post(client, path: str, **form):
    """Post a form of the cases inbox, with the session's CSRF token."""
    return client.post(path, data={"csrf_token": form_token(client, "/console/cases"), **form})


def town_user() -> ConsoleUser:
    db.session.expire_all()
    return db.session.scalar(select(ConsoleUser).where(ConsoleUser.username == "town"))


def test_the_inbox_shows_unread_notices_and_marks_them_read(app, world, signed_in):
    case = bad_case()
    town, village = signed_in("unit_admin"), signed_in("village")
    inbox = town.get("/console/cases").get_data(as_text=True)
    # The world's own case and this one: two notices, one per release batch.
    assert "整改通知" in inbox and "2 条未读" in inbox
    assert f"整改单 {case.id}" in inbox and f'href="/console/cases/{case.id}"' in inbox
    assert "条未读" not in village.get("/console/cases").get_data(as_text=True)
    data = town.get("/console/api/cases").get_json()
    assert data["extra"]["notices"]["unread"] == 2
    assert post(town, "/console/cases/notices/read").status_code == 303
    assert "条未读" not in town.get("/console/cases").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CaseNotice)
                             .where(CaseNotice.read_at.is_(None))) == 0


def test_a_user_sets_where_notices_go_and_bad_input_changes_nothing(app, world, signed_in):
    town = signed_in("unit_admin")
    refused = post(town, "/console/cases/notices/contact", phone="1234", openid="")
    assert refused.status_code == 422 and "手机号格式不正确" in refused.get_data(as_text=True)
    assert town_user().phone_enc is None
    saved = post(town, "/console/cases/notices/contact", phone="139 0013 9001",
                 openid="o_town_0001")
    assert saved.status_code == 303
    user = town_user()
    assert wiring.vault().decrypt(user.phone_enc) == "13900139001"
    assert wiring.vault().decrypt(user.openid_enc) == "o_town_0001"
    inbox = town.get("/console/cases").get_data(as_text=True)
    assert "139****9001" in inbox and "13900139001" not in inbox and "已登记 openid" in inbox
    assert post(town, "/console/cases/notices/contact", phone="", openid="").status_code == 303
    assert town_user().phone_enc is not None  # blank fields change nothing
    assert post(town, "/console/cases/notices/contact", clear="1").status_code == 303
    user = town_user()
    assert user.phone_enc is None and user.openid_enc is None
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "account.notice_contact")) == 3
