"""Exports of what a page shows: XLSX (one sheet per table) and CSV (the main table).

Text that a spreadsheet would read as a formula (starting with =, +, -, @, tab or carriage
return) stays text: in XLSX the cell is typed as a string, in CSV it gets a leading quote.
CSV starts with a UTF-8 byte order mark so that Excel reads Chinese correctly. The download
is named in Chinese (RFC 6266 `filename*`, UTF-8 per RFC 5987) with an English ASCII fallback
for clients that read only `filename`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from backend import wiring

if TYPE_CHECKING:  # pages send exports: only their types are needed here
    from .pages import Page, Table

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]\*\?/\\:]")
NOT_FILENAME_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def is_formula_like(value: Any) -> bool:
    """Tell whether a text would be taken as a formula by a spreadsheet."""
    return isinstance(value, str) and value.startswith(FORMULA_START)


def neutral_text(value: Any) -> Any:
    """Return a CSV value with formula-like text quoted."""
    return "'" + value if is_formula_like(value) else value


def cell_value(value: Any, kind: str) -> Any:
    """Return the value to write: lists joined, dates as local strings, None blank."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return "、".join(str(v) for v in value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # spreadsheets know no zones: write local time
            value = value.astimezone(wiring.timezone())
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if kind == "text" and not isinstance(value, str):
        return str(value)
    return value


def csv_value(value: Any, kind: str) -> Any:
    """Return a CSV field: percentages as text, formula-like text neutralised."""
    value = cell_value(value, kind)
    if kind == "pct" and isinstance(value, float):
        return f"{value * 100:.1f}%"
    return neutral_text(value)


def csv_bytes(table: Table) -> bytes:
    """Render a table as CSV with a byte order mark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([neutral_text(c.label) for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_value(row.get(c.key), c.kind) for c in table.columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_cell(sheet, value: Any, kind: str, bold: bool = False) -> WriteOnlyCell:
    """Return a write-only cell; text is always typed as text, never as a formula."""
    value = cell_value(value, kind)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    elif kind == "pct":
        cell.number_format = "0.0%"
    if bold:
        cell.font = Font(bold=True)
    return cell


def sheet_title(title: str, used: set[str]) -> str:
    """Return a valid, unique sheet title."""
    base = SHEET_NAME_FORBIDDEN.sub(" ", title).strip()[:28] or "Sheet"
    name, n = base, 2
    while name in used:
        name, n = f"{base[:25]}({n})", n + 1
    used.add(name)
    return name


def xlsx_bytes(page: Page, tables: Iterable[Table]) -> bytes:
    """Render tables as an XLSX workbook, one sheet each."""
    book, used = Workbook(write_only=True), set()
    for table in tables:
        sheet = book.create_sheet(sheet_title(table.title, used))
        sheet.append([xlsx_cell(sheet, c.label, "text", bold=True) for c in table.columns])
        for row in table.rows:
            sheet.append([xlsx_cell(sheet, row.get(c.key), c.kind) for c in table.columns])
    if not used:
        sheet = book.create_sheet(sheet_title(page.title, used))
        sheet.append([xlsx_cell(sheet, "暂无数据", "text")])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def file_names(page: Page, fmt: str) -> tuple[str, str]:
    """Return the download names, Chinese and ASCII: page title (or slug, code) and date."""
    today = datetime.now(wiring.timezone()).date().isoformat()
    slug = page.name.replace("_", "-")
    kind, _, code = page.target.partition(":")
    if code and kind in ("cadre", "unit", "campaign"):
        slug = f"{slug}-{NOT_FILENAME_SAFE.sub('-', code).strip('-')}"
    return f"{page.title}-{today}.{fmt}", f"{slug}-{today}.{fmt}"


def content_disposition(name: str, fallback: str) -> str:
    """Return an attachment header naming the file in UTF-8, with an ASCII fallback."""
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def send_page(page: Page, fmt: str) -> Response:
    """Return the page's tables as a download in the given format."""
    if fmt == "csv":
        body = csv_bytes(page.tables[0]) if page.tables else "\ufeff".encode()
        mimetype = "text/csv"  # the response adds "; charset=utf-8" once
    else:
        body, mimetype = xlsx_bytes(page, page.tables), XLSX_TYPE
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(*file_names(page, fmt))
    response.headers["Cache-Control"] = "no-store"
    return response
