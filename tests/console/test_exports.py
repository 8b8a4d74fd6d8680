"""Exports: XLSX and CSV of what each page shows, formula-like text kept as text, audited."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from backend.console.exports import XLSX_TYPE, csv_value, is_formula_like, neutral_text
from backend.extensions import db
from backend.models import AuditEntry
from tests.console.world import USERS


@pytest.mark.parametrize("text", ["=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\r=1"])
def test_formula_like_text_is_quoted_in_csv(text):
    assert is_formula_like(text)
    assert neutral_text(text) == "'" + text


def test_numbers_and_plain_text_are_left_alone():
    assert csv_value(-5, "int") == -5
    assert csv_value("城关镇", "text") == "城关镇"
    assert csv_value(0.3333, "pct") == "33.3%"


def feedback_url(world, fmt: str) -> str:
    return f"/console/officials/{world.cadres['C001']}/feedback/export.{fmt}"


def test_xlsx_keeps_formula_like_comments_as_text(signed_in, world):
    response = signed_in("org_admin").get(feedback_url(world, "xlsx"))
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    body = response.get_data()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in archive.read(name) for name in sheets)
    book = load_workbook(io.BytesIO(body))
    comments = book.worksheets[0]
    cells = {c.value: c for row in comments.iter_rows(min_row=2) for c in row}
    for text in ('=HYPERLINK("http://evil")', "+1 很满意"):
        assert cells[text].data_type == "s"
    assert [c.value for c in comments[1]][:3] == ["日期", "评价组", "分数"]
    assert book.worksheets[1]["E2"].value == "138****8000"  # phones stay masked


def test_csv_has_bom_chinese_headers_and_quoted_formulas(signed_in, world):
    response = signed_in("org_admin").get(feedback_url(world, "csv"))
    body = response.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["日期", "评价组", "分数"]
    comments = [row[4] for row in rows[1:]]
    assert "'=HYPERLINK(\"http://evil\")" in comments and "'+1 很满意" in comments


def test_every_page_exports_in_both_formats(app, signed_in, world):
    clients = {role: signed_in(role) for role in ("org_admin", "auditor")}
    args = {"unit_id": world.units["XZ100"], "cadre_id": world.cadres["C001"],
            "campaign_id": world.campaign_id}
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.endswith("_export")
             and r.endpoint.startswith("console.")]
    assert len(rules) >= 15
    for rule in rules:
        client = clients["auditor" if rule.endpoint in ("console.audit_trail_export",
                                                        "console.ledger_export")
                         else "org_admin"]
        for fmt in ("xlsx", "csv"):
            url = rule.rule.replace("<any(xlsx, csv):fmt>", fmt)
            for name, value in args.items():
                url = url.replace(f"<int:{name}>", str(value))
            response = client.get(url, follow_redirects=True)  # /console/push/... moved
            assert response.status_code == 200, url
            if fmt == "xlsx":
                assert load_workbook(io.BytesIO(response.get_data())).worksheets
            else:
                assert response.get_data().startswith("\ufeff".encode())


def test_exports_hold_every_row_not_one_page(signed_in, world):
    body = signed_in("org_admin").get("/console/officials/export.csv").get_data()
    assert len(list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))) == 41


def test_each_export_is_audited(signed_in, world):
    signed_in("viewer").get("/console/units/export.xlsx?days=7")
    entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert (entry.actor, entry.action) == (USERS["viewer"], "export.units")
    assert entry.details["query"] == {"days": "7"} and entry.address


def download_names(response) -> tuple[str, str]:
    """Return (ASCII fallback, UTF-8 name) of an attachment's Content-Disposition."""
    header = response.headers["Content-Disposition"]
    fallback = re.fullmatch(r'attachment; filename="([^"]+)"; filename\*=UTF-8\'\'(\S+)', header)
    assert fallback, header
    return fallback.group(1), unquote(fallback.group(2))


def test_csv_carries_one_charset_and_names_the_file_in_chinese_and_english(signed_in, world):
    response = signed_in("org_admin").get("/console/officials/export.csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    fallback, name = download_names(response)
    assert re.fullmatch(r"officials-\d{4}-\d{2}-\d{2}\.csv", fallback)
    assert name == "按干部-" + fallback.removeprefix("officials-")


def test_xlsx_has_no_charset_and_a_fallback_naming_the_official(signed_in, world):
    response = signed_in("org_admin").get(feedback_url(world, "xlsx"))
    assert response.headers["Content-Type"] == XLSX_TYPE
    fallback, name = download_names(response)
    assert re.fullmatch(r"feedback-C001-\d{4}-\d{2}-\d{2}\.xlsx", fallback)
    assert name.endswith("评价意见与回访-" + fallback.removeprefix("feedback-C001-"))


def test_every_export_has_an_english_ascii_fallback_name(app, signed_in, world):
    client = signed_in("org_admin")
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint.endswith("_export")
             and r.endpoint.startswith("console.") and "audit" not in r.endpoint
             and "ledger" not in r.endpoint]
    args = {"unit_id": world.units["XZ100"], "cadre_id": world.cadres["C001"],
            "campaign_id": world.campaign_id}
    for rule in rules:
        url = rule.replace("<any(xlsx, csv):fmt>", "csv")
        for key, value in args.items():
            url = url.replace(f"<int:{key}>", str(value))
        fallback, name = download_names(client.get(url, follow_redirects=True))
        assert re.fullmatch(r"[a-z][a-z-]*(-[A-Za-z0-9._-]+)?-\d{4}-\d{2}-\d{2}\.csv", fallback)
        assert not fallback.startswith("-") and name.endswith(fallback[-14:])
