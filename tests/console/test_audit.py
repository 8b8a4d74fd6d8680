"""查询留痕: every view or export of rating-level or personal data leaves a chained trace."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from backend.extensions import db
from backend.models import AuditEntry
from backend.services.accounts import audit
from tests.console.world import PHONE, USERS, csrf_of


def last_entry() -> AuditEntry:
    return db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))


def test_viewing_comments_is_recorded_with_who_what_when_where(signed_in, world):
    client = signed_in("org_admin")
    response = client.get(f"/console/officials/{world.cadres['C001']}/feedback")
    assert response.status_code == 200
    entry = last_entry()
    assert (entry.actor, entry.action, entry.target) == (USERS["org_admin"], "view.comments",
                                                         "cadre:C001")
    assert entry.at is not None and entry.address == "127.0.0.1"


def test_comment_api_and_export_are_recorded_too(signed_in, world):
    client = signed_in("org_admin")
    client.get(f"/console/api/officials/{world.cadres['C001']}/feedback")
    assert last_entry().action == "view.comments"
    client.get(f"/console/officials/{world.cadres['C001']}/feedback/export.csv")
    assert last_entry().action == "export.comments"


def test_non_responders_are_personal_data_and_recorded(signed_in, world):
    client = signed_in("org_admin")
    html = client.get(f"/console/campaigns/{world.campaign_id}/non-responders").get_data(
        as_text=True)
    assert "评价人0" in html and "评价人1" not in html  # the one who answered is not listed
    assert (last_entry().action, last_entry().target) == ("view.non_responders",
                                                          "campaign:2026-Q4-T")


def test_phones_are_masked_everywhere(signed_in, world):
    client = signed_in("org_admin")
    for url in (f"/console/officials/{world.cadres['C001']}/feedback",
                f"/console/campaigns/{world.campaign_id}/non-responders"):
        html = client.get(url).get_data(as_text=True)
        assert "138****8000" in html and PHONE not in html


def unmask(client, world, reason: str):
    token = csrf_of(client.get(f"/console/officials/{world.cadres['C001']}/feedback")
                    .get_data(as_text=True))
    return client.post("/console/unmask", data={"csrf_token": token, "kind": "followup",
                                                "id": world.followup_id, "reason": reason})


def test_unmasking_needs_a_reason_and_is_recorded(signed_in, world):
    client = signed_in("org_admin")
    refused = unmask(client, world, "  ")
    assert refused.status_code == 422 and PHONE not in refused.get_data(as_text=True)
    assert last_entry().action == "view.comments"
    shown = unmask(client, world, "低分回访，核实办事情况")
    assert shown.status_code == 200 and PHONE in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    entry = last_entry()
    assert (entry.action, entry.target) == ("unmask.phone", f"followup:{world.followup_id}")
    assert entry.details == {"reason": "低分回访，核实办事情况"}


def test_only_org_admins_may_unmask_or_read_comments(signed_in, world):
    for role in ("unit_admin", "viewer", "auditor"):
        client = signed_in(role)
        assert client.get(f"/console/officials/{world.cadres['C001']}/feedback").status_code \
            == 403
        token = csrf_of(client.get("/console/audit" if role == "auditor" else "/console/")
                        .get_data(as_text=True))
        response = client.post("/console/unmask", data={
            "csrf_token": token, "kind": "followup", "id": world.followup_id, "reason": "x"})
        assert response.status_code == 403


def test_auditor_browses_filters_and_exports_the_trail(signed_in, world):
    signed_in("org_admin").get(f"/console/officials/{world.cadres['C001']}/feedback")
    auditor = signed_in("auditor")
    page = auditor.get("/console/api/audit?action=view.").get_json()
    rows = page["tables"][0]["rows"]
    assert any(r["actor"] == USERS["org_admin"] and r["action"] == "view.comments"
               for r in rows)
    assert all(r["action"].startswith("view.") for r in rows)
    export = auditor.get("/console/audit/export.csv?actor=" + USERS["org_admin"])
    assert "查看评价意见" in export.get_data(as_text=True)
    assert last_entry().action == "export.audit"


def test_the_trail_is_hash_chained_and_edits_show(signed_in, world):
    signed_in("org_admin").get(f"/console/officials/{world.cadres['C001']}/feedback")
    auditor = signed_in("auditor")
    assert "完整" in auditor.get("/console/audit/verify").get_data(as_text=True)
    first = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "view.comments"))
    db.session.execute(update(AuditEntry).where(AuditEntry.id == first.id)
                       .values(target="cadre:C999"))
    db.session.commit()
    html = auditor.get("/console/audit/verify").get_data(as_text=True)
    assert "已被篡改" in html and f"序号 {first.id}" in html


def test_sign_in_and_lockout_are_recorded(app, world):
    from tests.console.world import https_client, sign_in

    client = https_client(app)
    sign_in(client, USERS["viewer"])
    assert (last_entry().actor, last_entry().action) == (USERS["viewer"], "login")
    for _ in range(5):
        sign_in(https_client(app), USERS["org_admin"], "wrong-password-x")
    assert (last_entry().actor, last_entry().action) == (USERS["org_admin"], "login.locked")


def test_ledger_page_lists_checkpoints_for_auditors(signed_in, world):
    auditor = signed_in("auditor")
    assert auditor.get("/console/ledger").status_code == 200
    html = auditor.get("/console/ledger/verify").get_data(as_text=True)
    assert "账本" in html
    assert last_entry().action == "ledger.verify"


def test_an_entry_stamped_in_local_time_still_verifies(app, world):
    afternoon = datetime(2026, 11, 18, 16, 0, 30, 123, tzinfo=ZoneInfo("Asia/Shanghai"))
    audit.record(db.session, "chengguan", "case.accept", "case:1", afternoon)
    db.session.commit()
    db.session.expire_all()
    assert audit.verify(db.session) is None
