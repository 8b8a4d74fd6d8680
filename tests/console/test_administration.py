"""Running the directory, users and API clients from the console; each role's landing page.

Every form is tried as an attacker would: no CSRF token, a role that may not, bad input (a
Chinese 4xx, nothing changed), and what the audit trail says afterwards.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from backend.errors import Unauthorized
from backend.extensions import db
from backend.models import ApiClient, AuditEntry, Cadre, ConsoleUser, Unit
from backend.services.accounts.api_clients import authenticate
from tests.console.world import PASSWORD, USERS, csrf_of, form_token, https_client, sign_in


def token(client, path: str = "/console/directory") -> str:
    """Return a CSRF token of the client's session."""
    return form_token(client, path)


def actions() -> list[str]:
    """Return the audited actions, oldest first."""
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def count(model) -> int:
    """Count the rows of a model."""
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def cadre(code: str) -> Cadre | None:
    """Return a cadre read afresh."""
    db.session.rollback()
    return db.session.scalar(select(Cadre).where(Cadre.code == code))


# The directory


def test_the_directory_shows_the_unit_tree_with_categories(signed_in, world):
    text = signed_in("org_admin").get("/console/directory").get_data(as_text=True)
    assert "单位树" in text and "城关镇人民政府" in text and "乡镇（街道）" in text
    assert 'class="tree-depth-1"' in text  # 城关镇 sits under the county


def test_an_official_is_created_with_a_position_level_and_audited(signed_in, world):
    client = signed_in("org_admin")
    response = client.post("/console/directory/officials", data={
        "csrf_token": token(client), "code": "C900", "name": "王新", "unit_code": "XZ100",
        "position": "副镇长", "level": "副职"})
    assert response.status_code == 303
    found = cadre("C900")
    assert (found.name, found.level, found.active) == ("王新", "deputy", True)
    assert actions()[-1] == "directory.cadre.create"
    text = client.get("/console/directory?q=C900").get_data(as_text=True)
    assert "副职" in text and "副镇长" in text


@pytest.mark.parametrize("form, message", [
    ({"code": "C 9", "name": "王新", "unit_code": "XZ100", "position": "镇长"}, "编码只能包含"),
    ({"code": "C901", "name": "王新", "unit_code": "NOPE", "position": "镇长"}, "单位不存在"),
    ({"code": "C901", "name": "王新", "unit_code": "XZ100", "position": "镇长",
      "level": "处级"}, "未知职级"),
    ({"code": "C901", "name": "", "unit_code": "XZ100", "position": "镇长"}, "姓名不能为空"),
])
def test_a_bad_official_is_refused_in_chinese_and_nothing_changes(signed_in, world, form,
                                                                  message):
    client = signed_in("org_admin")
    before, audited = count(Cadre), len(actions())
    response = client.post("/console/directory/officials",
                           data={"csrf_token": token(client), **form})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(Cadre) == before and len(actions()) == audited


def test_a_unit_loop_is_refused_and_nothing_changes(signed_in, world):
    client = signed_in("org_admin")
    response = client.post("/console/directory/units", data={
        "csrf_token": token(client), "code": "XZ000", "name": "某县", "category": "other",
        "parent_code": "XZ100"})
    assert response.status_code == 422 and "循环" in response.get_data(as_text=True)
    db.session.rollback()
    county = db.session.scalar(select(Unit).where(Unit.code == "XZ000"))
    assert county.parent_id is None


def test_a_unit_is_created_under_its_parent(signed_in, world):
    client = signed_in("org_admin")
    response = client.post("/console/directory/units", data={
        "csrf_token": token(client), "code": "XZ109", "name": "城关镇西街社区",
        "category": "村（社区）", "parent_code": "XZ100"})
    assert response.status_code == 303
    db.session.rollback()
    unit = db.session.scalar(select(Unit).where(Unit.code == "XZ109"))
    assert (unit.category, unit.parent.code) == ("village", "XZ100")
    assert actions()[-1] == "directory.unit.create"


def test_an_official_is_transferred_then_deactivated(signed_in, world):
    client = signed_in("org_admin")
    csrf = token(client)
    cadre_id = world.cadres["C001"]
    response = client.post(f"/console/directory/officials/{cadre_id}/transfer",
                           data={"csrf_token": csrf, "unit_code": "XZ101"})
    assert response.status_code == 303
    assert cadre("C001").unit.code == "XZ101"
    response = client.post(f"/console/directory/officials/{cadre_id}/deactivate",
                           data={"csrf_token": csrf})
    assert response.status_code == 303 and cadre("C001").active is False
    assert actions()[-2:] == ["directory.cadre.transfer", "directory.cadre.deactivate"]
    same = client.post(f"/console/directory/officials/{cadre_id}/transfer",
                       data={"csrf_token": csrf, "unit_code": "XZ101"})
    assert same.status_code == 422 and "相同" in same.get_data(as_text=True)


def test_directory_forms_need_a_csrf_token_and_the_org_role(signed_in, world):
    org = signed_in("org_admin")
    response = org.post("/console/directory/officials", data={
        "code": "C902", "name": "王新", "unit_code": "XZ100", "position": "镇长"})
    assert response.status_code == 400 and cadre("C902") is None
    town = signed_in("unit_admin")
    assert town.get("/console/directory").status_code == 403
    response = town.post(f"/console/directory/officials/{world.cadres['C001']}/deactivate",
                         data={"csrf_token": token(town, "/console/alerts")})
    assert response.status_code == 403 and cadre("C001").active is True


# Roster upload

ROSTER = ("干部编码,姓名,单位编码,职务,职级\n"
          "C801,赵一,XZ100,镇长,正职\n"
          "C802,钱二,XZ999,副镇长,副职\n"
          "C803,孙三,XZ101,乡长,正职\n")


def upload(client, mode: str, data: bytes = ROSTER.encode(), name: str = "roster.csv"):
    """Upload a roster file in a mode."""
    return client.post("/console/directory/import", content_type="multipart/form-data",
                       data={"csrf_token": token(client, "/console/directory/import"),
                             "mode": mode, "file": (io.BytesIO(data), name)})


def test_a_roster_preview_names_the_bad_row_and_writes_nothing(signed_in, world):
    client = signed_in("org_admin")
    before = count(Cadre)
    response = upload(client, "preview")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "未写入" in text
    assert "单位编码：单位不存在：XZ999" in text and "row-bad" in text
    assert count(Cadre) == before and cadre("C801") is None


def test_all_or_nothing_imports_nothing_when_one_row_is_bad(signed_in, world):
    client = signed_in("org_admin")
    before = count(Cadre)
    text = upload(client, "all").get_data(as_text=True)
    assert "未写入任何数据" in text and count(Cadre) == before


def test_importing_the_valid_rows_skips_the_bad_one_and_is_audited(signed_in, world):
    client = signed_in("org_admin")
    text = upload(client, "valid").get_data(as_text=True)
    assert "有错误的行已跳过" in text
    assert cadre("C801").level == "principal" and cadre("C803").unit.code == "XZ101"
    assert cadre("C802") is None
    db.session.rollback()
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "directory.import"
    assert (entry.details["created"], entry.details["skipped"]) == (2, 1)


def test_an_xlsx_roster_with_chinese_sheet_names_is_imported(signed_in, world):
    book = Workbook()
    units = book.active
    units.title = "单位"
    units.append(["单位编码", "单位名称", "单位类别", "上级单位编码"])
    units.append(["XZ150", "新城街道", "乡镇", "XZ000"])
    people = book.create_sheet("干部")
    people.append(["干部编码", "姓名", "单位编码", "职务", "职级"])
    people.append(["C850", "李新", "XZ150", "街道主任", "正职"])
    data = io.BytesIO()
    book.save(data)
    text = upload(signed_in("org_admin"), "all", data.getvalue(), "名册.xlsx").get_data(
        as_text=True)
    assert "全部行已导入" in text and cadre("C850").unit.code == "XZ150"


@pytest.mark.parametrize("data, name, message", [
    (b"just text", "roster.txt", "只支持 .csv 和 .xlsx"),
    (b"not a zip", "roster.xlsx", "不是有效的 XLSX"),
    ("姓名\n张三\n".encode(), "roster.csv", "缺少列"),
])
def test_a_bad_roster_file_is_refused_in_chinese(signed_in, world, data, name, message):
    client = signed_in("org_admin")
    before = count(Cadre)
    response = upload(client, "valid", data, name)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(Cadre) == before


def test_an_upload_without_a_file_or_with_an_unknown_mode_is_refused(signed_in, world):
    client = signed_in("org_admin")
    csrf = token(client, "/console/directory/import")
    response = client.post("/console/directory/import", data={"csrf_token": csrf})
    assert response.status_code == 422 and "请选择" in response.get_data(as_text=True)
    before = count(Cadre)
    assert upload(client, "everything").status_code == 422 and count(Cadre) == before


# Console users


def create_user(client, **form):
    """Post the new-user form."""
    return client.post("/console/users", data={"csrf_token": token(client, "/console/users"),
                                               **form})


def test_a_new_user_sees_the_password_once_and_can_sign_in(app, signed_in, world):
    client = signed_in("org_admin")
    response = create_user(client, username="xiaowang", role="unit_admin", unit="XZ101")
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    secret = response.get_data(as_text=True).split("data-secret>")[1].split("<")[0]
    assert secret not in client.get("/console/users").get_data(as_text=True)
    newcomer = https_client(app)
    assert sign_in(newcomer, "xiaowang", secret).status_code == 302
    assert "青山乡" in newcomer.get("/console/").get_data(as_text=True)
    assert actions()[-2] == "user.create"


@pytest.mark.parametrize("form, message", [
    ({"username": "x", "role": "viewer"}, "用户名无效"),
    ({"username": "newbie", "role": "root"}, "未知角色"),
    ({"username": "newbie", "role": "unit_admin"}, "必须指定所属单位"),
    ({"username": "newbie", "role": "auditor", "unit": "XZ100"}, "不按单位限定"),
    ({"username": "newbie", "role": "viewer", "unit": "NOPE"}, "单位不存在"),
    ({"username": "newbie", "role": "viewer", "password": "short"}, "密码至少"),
    ({"username": "org", "role": "viewer"}, "用户名已存在"),
])
def test_a_bad_new_user_is_refused_in_chinese_and_nothing_changes(signed_in, world, form,
                                                                  message):
    client = signed_in("org_admin")
    before = count(ConsoleUser)
    response = create_user(client, **form)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(ConsoleUser) == before


def user_id(name: str) -> int:
    """Return a console user's id."""
    return db.session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == name))


def test_a_reset_password_ends_the_users_sessions(app, signed_in, world):
    client = signed_in("org_admin")
    watcher = signed_in("viewer")
    response = client.post(f"/console/users/{user_id('watcher')}/password",
                           data={"csrf_token": token(client, "/console/users")})
    secret = response.get_data(as_text=True).split("data-secret>")[1].split("<")[0]
    assert watcher.get("/console/").status_code == 302  # signed out
    assert sign_in(https_client(app), "watcher", PASSWORD).status_code == 401
    assert sign_in(https_client(app), "watcher", secret).status_code == 302


def test_disabling_and_changing_a_role_end_sessions_but_not_ones_own(signed_in, world):
    client = signed_in("org_admin")
    csrf = token(client, "/console/users")
    watcher = signed_in("viewer")
    client.post(f"/console/users/{user_id('town')}/role",
                data={"csrf_token": csrf, "role": "viewer", "unit": "XZ100"})
    client.post(f"/console/users/{user_id('watcher')}/disable", data={"csrf_token": csrf})
    assert watcher.get("/console/").status_code == 302
    db.session.rollback()
    assert db.session.get(ConsoleUser, user_id("town")).role == "viewer"
    assert db.session.get(ConsoleUser, user_id("watcher")).active is False
    own = client.post(f"/console/users/{user_id('org')}/disable", data={"csrf_token": csrf})
    assert own.status_code == 422 and "不能停用自己" in own.get_data(as_text=True)
    assert client.get("/console/users").status_code == 200  # still signed in


def test_only_the_org_admin_manages_users_and_clients(signed_in, world):
    for role in ("unit_admin", "viewer", "auditor"):
        client = signed_in(role)
        for path in ("/console/users", "/console/clients"):
            assert client.get(path).status_code == 403, (role, path)


# API clients


def create_client(client, **form):
    """Post the new-client form."""
    return client.post("/console/clients",
                       data={"csrf_token": token(client, "/console/clients"), **form})


def test_a_new_client_key_is_shown_once_and_works_until_revoked(signed_in, world):
    client = signed_in("org_admin")
    response = create_client(client, name="approval-system", scopes=["events:write",
                                                                     "scores:read"],
                             sources="approval-system，hall-02")
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    key = response.get_data(as_text=True).split("data-secret")[1].split(">")[1].split("<")[0]
    assert key not in client.get("/console/clients").get_data(as_text=True)
    db.session.rollback()
    found = authenticate(db.session, key)
    assert found.source_set == {"approval-system", "hall-02"}
    assert found.scope_set == {"events:write", "scores:read"}
    client.post(f"/console/clients/{found.id}/revoke",
                data={"csrf_token": token(client, "/console/clients")})
    db.session.rollback()
    with pytest.raises(Unauthorized):
        authenticate(db.session, key)
    assert actions()[-2:] == ["client.create", "client.revoke"]


@pytest.mark.parametrize("form, message", [
    ({"name": "sys", "scopes": []}, "权限范围"),
    ({"name": "sys", "scopes": ["root:all"]}, "权限范围"),
    ({"name": "bad name", "scopes": ["events:write"]}, "名称无效"),
    ({"name": "sys", "scopes": ["events:write"], "sources": "ok, 不行"}, "来源标识无效"),
])
def test_a_bad_client_is_refused_in_chinese_and_nothing_changes(signed_in, world, form,
                                                                message):
    client = signed_in("org_admin")
    before = count(ApiClient)
    response = create_client(client, **form)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert count(ApiClient) == before


# Landing pages


def test_each_role_lands_on_a_page_of_its_own_with_navigation_and_sign_out(app, world):
    homes = {"org_admin": "/console/", "unit_admin": "/console/", "viewer": "/console/",
             "auditor": "/console/audit"}
    for role, home in homes.items():
        client = https_client(app)
        csrf = csrf_of(client.get("/console/login?next=/console/").get_data(as_text=True))
        response = client.post("/console/login?next=/console/", data={
            "username": USERS[role], "password": PASSWORD, "csrf_token": csrf})
        assert response.headers["Location"] == home, role
        page = client.get(home)
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "退出" in text and 'class="sidebar"' in text


def test_a_page_a_role_may_not_open_keeps_the_navigation_and_sign_out(signed_in, world):
    response = signed_in("auditor").get("/console/")
    text = response.get_data(as_text=True)
    assert response.status_code == 403 and "无权访问" in text
    assert "退出" in text and "查询留痕" in text and "返回首页" in text


def test_home_sends_each_role_to_its_page(signed_in, world):
    assert signed_in("auditor").get("/console/home").headers["Location"] == "/console/audit"
    assert signed_in("org_admin").get("/console/home").headers["Location"] == "/console/"


def test_a_unit_admin_sees_its_units_name_not_all_units(signed_in, world):
    client = signed_in("unit_admin")
    for path in ("/console/api/overview", "/console/api/alerts", "/console/api/officials"):
        subtitle = client.get(path).get_json()["subtitle"]
        assert subtitle.startswith("城关镇人民政府") and "全部单位" not in subtitle, path
    assert signed_in("org_admin").get("/console/api/overview").get_json()[
        "subtitle"] == "全部单位"


def test_unit_tables_can_include_subordinate_units(signed_in, world):
    client = signed_in("unit_admin")
    own = {r["code"]: r for r in client.get("/console/api/units").get_json()["tables"][0]["rows"]}
    page = client.get("/console/api/units?sub=1").get_json()
    rows = {r["code"]: r for r in page["tables"][0]["rows"]}
    below = [code for code in rows if code != "XZ100"]
    assert below and rows["XZ100"]["invited"] == own["XZ100"]["invited"] + sum(
        own[c]["invited"] for c in below)
    assert "含下级单位" in page["tables"][0]["note"] or "下级单位" in page["tables"][0]["note"]
    assert "不含下级单位" in client.get("/console/api/units").get_json()["tables"][0]["note"]
