"""The directory API: units and cadres behind bearer keys with scopes."""

import pytest
from sqlalchemy import func, select

from backend.models import Cadre, Unit

UNIT = {"name": "城关镇人民政府", "category": "township"}


@pytest.fixture
def auth(make_key):
    return make_key("directory:write")


def test_new_unit_is_created_then_updated(client, auth):
    first = client.put("/api/v1/units/U100", json=UNIT, headers=auth)
    assert first.status_code == 201
    assert first.json == {"code": "U100", "parent_code": None, **UNIT}
    second = client.put("/api/v1/units/U100", json={**UNIT, "name": "城关街道"}, headers=auth)
    assert second.status_code == 200
    assert second.json["name"] == "城关街道"


def test_cadre_round_trips_with_chinese_names(client, auth, session):
    client.put("/api/v1/units/U1", json=UNIT, headers=auth)
    body = {"name": "王建国", "unit_code": "U1", "position": "党委书记"}
    created = client.put("/api/v1/cadres/C001", json=body, headers=auth)
    assert created.status_code == 201
    assert created.json == {"code": "C001", "active": True, "level": None, **body}
    updated = client.put("/api/v1/cadres/C001", json={**body, "active": False}, headers=auth)
    assert updated.status_code == 200 and updated.json["active"] is False
    stored = session.scalar(select(Cadre).where(Cadre.code == "C001"))
    assert (stored.name, stored.unit.code, stored.active) == ("王建国", "U1", False)


def test_category_and_level_are_taken_by_code_or_chinese_name(client, auth, session):
    unit = client.put("/api/v1/units/U7", json={"name": "县发改局", "category": "经济发展类"},
                      headers=auth)
    assert unit.status_code == 201 and unit.json["category"] == "dept_economy"
    body = {"name": "赵敏", "unit_code": "U7", "position": "局长", "level": "正职"}
    cadre = client.put("/api/v1/cadres/C7", json=body, headers=auth)
    assert cadre.status_code == 201 and cadre.json["level"] == "principal"
    kept = client.put("/api/v1/cadres/C7", json={**body, "level": None}, headers=auth)
    assert kept.json["level"] == "principal"  # left out or null: unchanged
    cleared = client.put("/api/v1/cadres/C7", json={**body, "level": ""}, headers=auth)
    assert cleared.json["level"] is None
    assert session.scalar(select(Unit.category).where(Unit.code == "U7")) == "dept_economy"


@pytest.mark.parametrize(("field", "body"), [
    ("category", {"name": "县某局", "category": "经济"}),
    ("category", {"name": "县某局", "category": "x" * 33}),
    ("category", {"name": "县某局", "category": "<script>"}),
])
def test_unknown_category_is_422_naming_the_choices_and_writes_nothing(client, auth, session,
                                                                       field, body):
    response = client.put("/api/v1/units/U8", json=body, headers=auth)
    assert response.status_code == 422
    assert field in response.json["errors"]
    assert session.scalar(select(func.count()).select_from(Unit)) == 0


def test_unknown_level_is_422_in_chinese(client, auth, session):
    client.put("/api/v1/units/U1", json=UNIT, headers=auth)
    body = {"name": "王建国", "unit_code": "U1", "position": "党委书记", "level": "处长"}
    response = client.put("/api/v1/cadres/C001", json=body, headers=auth)
    assert response.status_code == 422 and "未知职级" in response.json["errors"]["level"]
    assert session.scalar(select(func.count()).select_from(Cadre)) == 0


def test_unit_parent_must_exist_and_cannot_form_a_loop(client, auth):
    missing = client.put("/api/v1/units/U2", json={**UNIT, "parent_code": "NOPE"}, headers=auth)
    assert missing.status_code == 422 and "parent_code" in missing.json["errors"]
    client.put("/api/v1/units/A", json=UNIT, headers=auth)
    client.put("/api/v1/units/B", json={**UNIT, "parent_code": "A"}, headers=auth)
    loop = client.put("/api/v1/units/A", json={**UNIT, "parent_code": "B"}, headers=auth)
    assert loop.status_code == 422 and "parent_code" in loop.json["errors"]
    itself = client.put("/api/v1/units/A", json={**UNIT, "parent_code": "A"}, headers=auth)
    assert itself.status_code == 422


def test_cadre_in_unknown_unit_is_refused_and_nothing_is_written(client, auth, session):
    body = {"name": "李秀英", "unit_code": "GHOST", "position": "科长"}
    response = client.put("/api/v1/cadres/C9", json=body, headers=auth)
    assert response.status_code == 422
    assert response.json["code"] == 422
    assert "unit_code" in response.json["errors"]
    assert session.scalar(select(func.count()).select_from(Cadre)) == 0


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "category": "castle"}, "category"),
    ({"name": "", "category": "township"}, "name"),
    ({"name": 5, "category": "township"}, "name"),
    ({"category": "township"}, "name"),
    ({**UNIT, "colour": "red"}, "colour"),
])
def test_bad_unit_fields_are_named(client, auth, body, field):
    response = client.put("/api/v1/units/U1", json=body, headers=auth)
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_bad_code_in_path_is_refused(client, auth):
    response = client.put("/api/v1/units/bad%20code", json=UNIT, headers=auth)
    assert response.status_code == 422 and "code" in response.json["errors"]


def test_malformed_json_gets_400_with_the_contract_shape(client, auth):
    response = client.put("/api/v1/units/U1", data="{oops",
                          headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json["code"] == 400 and "JSON" in response.json["message"]


def test_non_object_body_is_refused(client, auth):
    response = client.put("/api/v1/units/U1", json=[1, 2], headers=auth)
    assert response.status_code == 422


def test_missing_key_is_401(client):
    response = client.put("/api/v1/units/U1", json=UNIT)
    assert response.status_code == 401 and response.json["code"] == 401


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ssp_abc_def", "Basic abc",
                                    "Bearer "])
def test_wrong_key_is_401(client, auth, header):
    response = client.put("/api/v1/units/U1", json=UNIT, headers={"Authorization": header})
    assert response.status_code == 401


def test_tampered_key_is_401(client, auth):
    tampered = auth["Authorization"][:-2] + ("AA" if not auth["Authorization"].endswith("AA")
                                             else "BB")
    response = client.put("/api/v1/units/U1", json=UNIT, headers={"Authorization": tampered})
    assert response.status_code == 401


def test_key_without_the_scope_is_403(client, make_key, session):
    response = client.put("/api/v1/units/U1", json=UNIT, headers=make_key("events:write"))
    assert response.status_code == 403
    assert "directory:write" in response.json["message"]
    assert session.scalar(select(func.count()).select_from(Unit)) == 0


def test_body_over_the_limit_is_413(app, client, auth):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.put("/api/v1/units/U1", data=b"x" * (limit + 1),
                          headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json["code"] == 413
