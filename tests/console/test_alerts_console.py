"""The alerts inbox: Chinese details, cadre code and unit, bulk acknowledge and resolve."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from backend.extensions import db
from backend.models import Alert, AuditEntry
from backend.services.alerts.records import raise_alert
from tests.console.world import USERS, form_token


def fresh(alert_id: int) -> Alert:
    """Return an alert read afresh."""
    db.session.rollback()
    return db.session.get(Alert, alert_id)


def low_sample(world) -> int:
    """Raise a low-sample alert as publication writes one; return its id."""
    alert = raise_alert(db.session, "low_sample", world.cadres["C001"], "2026-12", {
        "cadre_code": "C001", "flag": "low_sample", "period": "2026-12",
        "score_period": "2026-Q4", "digest": "sha256:abc"}, datetime.now(UTC))
    db.session.commit()
    return alert.id


def bulk(client, ids, action, note=""):
    """Post the inbox's bulk form."""
    return client.post("/console/alerts/bulk", data={
        "csrf_token": form_token(client), "ids": [str(i) for i in ids], "action": action,
        "note": note, "next": "/console/alerts"})


def test_alert_details_are_in_chinese_with_cadre_code_and_unit(signed_in, world):
    low_sample(world)
    client = signed_in("org_admin")
    text = client.get("/console/alerts").get_data(as_text=True)
    assert "2026年12月" in text and "2026年第四季度" in text and "有效评价不足" in text
    table = text.split("<table")[1]
    for raw in ("low_sample", ">2026-12<", "：2026-12", "score_period", "sha256", "标记："):
        assert raw not in table, raw
    row = next(r for r in client.get("/console/api/alerts").get_json()["tables"][0]["rows"]
               if r["type"] == "low_sample")
    assert (row["cadre_code"], row["unit"]) == ("C001", "城关镇人民政府")
    assert row["period_name"] == "2026年12月"


def test_alerts_are_acknowledged_in_bulk_and_audited(signed_in, world):
    client = signed_in("org_admin")
    ids = [world.alerts["C001"], world.alerts["C002"], world.alerts["system"]]
    response = bulk(client, ids, "acknowledge")
    assert response.status_code == 303
    assert {fresh(i).state for i in ids} == {"acknowledged"}
    assert {fresh(i).acknowledged_by for i in ids} == {USERS["org_admin"]}
    entries = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "alert.acknowledge")).all()
    assert sorted(e.target for e in entries) == sorted(f"alert:{i}" for i in ids)


def test_resolving_in_bulk_needs_a_note_and_keeps_it(signed_in, world):
    client = signed_in("org_admin")
    ids = [world.alerts["C001"], world.alerts["C002"]]
    refused = bulk(client, ids, "resolve", note="  ")
    assert refused.status_code == 422 and "处理说明" in refused.get_data(as_text=True)
    assert {fresh(i).state for i in ids} == {"open"}
    assert bulk(client, ids, "resolve", note="已补发短信").status_code == 303
    assert {(fresh(i).state, fresh(i).note) for i in ids} == {("resolved", "已补发短信")}
    text = client.get("/console/alerts?state=resolved").get_data(as_text=True)
    assert "已补发短信" in text


def test_a_batch_naming_another_units_alert_changes_nothing(signed_in, world):
    client = signed_in("unit_admin")
    response = bulk(client, [world.alerts["C001"], world.alerts["C002"]], "acknowledge")
    assert response.status_code == 404
    assert fresh(world.alerts["C001"]).state == "open"
    assert fresh(world.alerts["C002"]).state == "open"


def test_a_bad_batch_is_refused_in_chinese(signed_in, world):
    client = signed_in("org_admin")
    token = form_token(client)
    for data, message in (({"ids": ["x1"], "action": "acknowledge"}, "告警编号无效"),
                          ({"action": "acknowledge"}, "请先勾选"),
                          ({"ids": [str(world.alerts["C001"])], "action": "delete"}, "未知操作")):
        response = client.post("/console/alerts/bulk", data={"csrf_token": token, **data})
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert fresh(world.alerts["C001"]).state == "open"
    assert client.post("/console/alerts/bulk", data={
        "ids": [str(world.alerts["C001"])], "action": "acknowledge"}).status_code == 400
    viewer = signed_in("viewer")
    assert viewer.post("/console/alerts/bulk", data={
        "csrf_token": form_token(viewer), "ids": [str(world.alerts["C001"])],
        "action": "acknowledge"}).status_code == 403
    assert fresh(world.alerts["C001"]).state == "open"


def test_an_alert_resolved_on_its_own_shows_so(signed_in, world):
    alert = fresh(low_sample(world))
    alert.state, alert.resolved_by, alert.note = "resolved", "系统", "自动解除：告警条件已消除"
    alert.resolved_at = datetime.now(UTC)
    db.session.commit()
    text = signed_in("org_admin").get("/console/alerts?state=resolved").get_data(as_text=True)
    assert "自动解除" in text
