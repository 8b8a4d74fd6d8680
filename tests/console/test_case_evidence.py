"""Evidence files of a case through the console: the assignee uploads, whoever sees the case
downloads an attachment; too large, a refused type, a wrong role or state store nothing."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import AuditEntry, CaseEvidence
from tests.console.test_cases_console import bad_case, post
from tests.console.world import form_token, https_client, sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
SCRIPT = b"<script>alert(document.cookie)</script>"


@pytest.fixture
def evidence_dir(app, tmp_path):
    """Keep this test's evidence in a folder of its own (outside the checkout)."""
    folder = tmp_path / "evidence"
    wiring = app.extensions.setdefault("wiring", {})
    old = app.config["CASE_EVIDENCE_DIR"], app.config["CASE_EVIDENCE_MAX_BYTES"]
    app.config["CASE_EVIDENCE_DIR"] = str(folder)
    wiring.pop("evidence_settings", None)
    yield folder
    app.config["CASE_EVIDENCE_DIR"], app.config["CASE_EVIDENCE_MAX_BYTES"] = old
    wiring.pop("evidence_settings", None)


def upload(client, case_id: int, content: bytes, name: str):
    """Post one file to a case's evidence form, with the session's CSRF token."""
    token = form_token(client, f"/console/cases/{case_id}")
    return client.post(f"/console/cases/{case_id}/evidence", content_type="multipart/form-data",
                       data={"csrf_token": token, "file": (io.BytesIO(content), name)})


def stored(folder) -> list:
    return sorted(folder.iterdir()) if folder.exists() else []


def evidence_rows() -> int:
    return db.session.scalar(select(func.count()).select_from(CaseEvidence))


def accepted_case(signed_in):
    """Return a case 城关镇's admin accepted, and that admin's client."""
    case = bad_case()
    town = signed_in("unit_admin")
    assert post(town, f"/console/cases/{case.id}/accept").status_code == 303
    return case, town


def test_the_assignee_uploads_and_readers_download_an_audited_attachment(
        app, world, signed_in, evidence_dir):
    case, town = accepted_case(signed_in)
    page = town.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "整改材料" in page and 'enctype="multipart/form-data"' in page
    answer = upload(town, case.id, PNG, "../../引导员上岗.png")
    assert answer.status_code == 303
    (row,) = db.session.scalars(select(CaseEvidence)).all()
    assert (row.filename, row.kind, row.size) == ("引导员上岗.png", "png", len(PNG))
    # Stored outside the web root under a random name: neither the upload's name nor a path.
    (path,) = stored(evidence_dir)
    assert path.name == row.stored_name and len(path.name) == 32 and path.read_bytes() == PNG
    assert "引导员" not in path.name and not (app.root_path and str(path).startswith(
        app.root_path))
    shown = town.get(f"/console/cases/{case.id}").get_data(as_text=True)
    link = f"/console/cases/{case.id}/evidence/{row.id}"
    assert link in shown and "引导员上岗.png" in shown
    for role in ("unit_admin", "org_admin", "viewer"):
        got = signed_in(role).get(link)
        assert got.status_code == 200, role
        assert got.data == PNG and got.mimetype == "image/png"
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in got.headers["Cache-Control"]
    reads = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "case.evidence.read")).all()
    assert {r.actor for r in reads} == {"town", "org", "watcher"}
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "case.evidence.upload")) == 1


def test_roles_that_do_not_see_the_case_get_no_file(app, world, signed_in, evidence_dir):
    case, town = accepted_case(signed_in)
    assert upload(town, case.id, PDF, "整改报告.pdf").status_code == 303
    row = db.session.scalars(select(CaseEvidence)).one()
    link = f"/console/cases/{case.id}/evidence/{row.id}"
    village = https_client(app)
    assert sign_in(village, "village").status_code == 302
    assert village.get(link).status_code == 404
    assert signed_in("auditor").get(link).status_code == 403
    assert https_client(app).get(link).status_code in (302, 401)
    # Another case's id with this file's id: no file.
    other = bad_case()
    assert signed_in("org_admin").get(
        f"/console/cases/{other.id}/evidence/{row.id}").status_code == 404


@pytest.mark.parametrize(("content", "name", "status", "message"), [
    (SCRIPT, "photo.png", 422, "不支持的文件类型"),         # the name lies about the content
    (PNG, "photo.html", 422, "不支持的文件类型"),           # the content is fine, the name is not
    (PDF, "report.png", 422, "不支持的文件类型"),           # a PDF named as an image
    (b"GIF89a" + b"\x00" * 20, "x.gif", 422, "不支持的文件类型"),
    (b"", "empty.png", 422, "文件为空"),
])
def test_a_refused_file_says_why_and_stores_nothing(app, world, signed_in, evidence_dir,
                                                     content, name, status, message):
    case, town = accepted_case(signed_in)
    answer = upload(town, case.id, content, name)
    assert answer.status_code == status
    assert message in answer.get_data(as_text=True)
    assert evidence_rows() == 0 and stored(evidence_dir) == []


def test_a_file_over_the_limit_is_refused_with_413(app, world, signed_in, evidence_dir):
    app.config["CASE_EVIDENCE_MAX_BYTES"] = 1024
    app.extensions["wiring"].pop("evidence_settings", None)
    case, town = accepted_case(signed_in)
    just_over = upload(town, case.id, PNG + b"\x00" * 1024, "big.png")
    assert just_over.status_code == 413 and "文件过大" in just_over.get_data(as_text=True)
    # Far over (past the form's margin): refused before the form is read.
    far_over = upload(town, case.id, PNG + b"\x00" * (200 * 1024), "huge.png")
    assert far_over.status_code == 413 and "过大" in far_over.get_data(as_text=True)
    assert evidence_rows() == 0 and stored(evidence_dir) == []
    assert upload(town, case.id, PNG, "ok.png").status_code == 303


def test_only_the_assignee_uploads_and_only_while_in_progress(app, world, signed_in,
                                                              evidence_dir):
    case = bad_case()
    town, org, viewer = signed_in("unit_admin"), signed_in("org_admin"), signed_in("viewer")
    refused = upload(town, case.id, PNG, "early.png")  # 待受理: accept first
    assert refused.status_code == 409 and "受理后" in refused.get_data(as_text=True)
    post(town, f"/console/cases/{case.id}/accept")
    answer = upload(org, case.id, PNG, "org.png")
    assert answer.status_code == 403 and "只有承办单位" in answer.get_data(as_text=True)
    assert upload(viewer, case.id, PNG, "viewer.png").status_code == 403
    village = https_client(app)
    sign_in(village, "village")
    assert upload_raw(village, case.id).status_code == 404
    assert evidence_rows() == 0 and stored(evidence_dir) == []


def upload_raw(client, case_id: int):
    """Post a file with a token from a page the client may open (not the case's)."""
    token = form_token(client, "/console/cases")
    return client.post(f"/console/cases/{case_id}/evidence", content_type="multipart/form-data",
                       data={"csrf_token": token, "file": (io.BytesIO(PNG), "x.png")})


def test_an_upload_without_the_form_token_is_refused(app, world, signed_in, evidence_dir):
    case, town = accepted_case(signed_in)
    answer = town.post(f"/console/cases/{case.id}/evidence", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(PNG), "x.png")})
    assert answer.status_code == 400
    assert evidence_rows() == 0 and stored(evidence_dir) == []
