"""Import unit and cadre rosters from CSV or XLSX with a report per row.

A file with errors changes nothing unless `skip_invalid`; `dry_run` only reports. Each row's
outcome (created, updated or its errors) is in the report, for the console's preview.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import ImportFileError, InvalidInput
from backend.models import Unit
from backend.scoring.vocabulary import Vocabulary, level_code
from backend.services.directory.units import (
    CadreInput,
    UnitInput,
    upsert_cadre,
    upsert_unit,
)

COLUMNS = {
    "units": {
        "code": ("code", "编码", "单位编码", "单位代码"),
        "name": ("name", "名称", "单位名称"),
        "category": ("category", "类别", "单位类别"),
        "parent_code": ("parent_code", "上级编码", "上级单位编码", "上级单位"),
    },
    "cadres": {
        "code": ("code", "编码", "干部编码", "工号"),
        "name": ("name", "姓名"),
        "unit_code": ("unit_code", "单位编码", "所在单位编码", "所在单位"),
        "position": ("position", "职务"),
        "active": ("active", "在职", "状态"),
        "level": ("level", "职级", "职务层级", "岗位层级"),
    },
}
REQUIRED = {"units": ("code", "name", "category"), "cadres": ("code", "name", "unit_code",
                                                             "position")}
TRUE_WORDS = {"", "1", "true", "yes", "y", "是", "在职", "在岗", "有效"}
FALSE_WORDS = {"0", "false", "no", "n", "否", "离任", "离职", "停用", "无效"}
SHEET_KINDS = {"units": "units", "单位": "units", "cadres": "cadres", "干部": "cadres"}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str
    sheet: str = ""


@dataclass(frozen=True)
class RowOutcome:
    """What importing one row did or would do: created, updated or invalid."""
    sheet: str
    row: int
    kind: str
    code: str
    name: str
    outcome: str
    errors: tuple[str, ...] = ()


@dataclass
class Sheet:
    kind: str
    name: str
    rows: list[tuple[int, dict[str, str]]]


@dataclass
class ImportReport:
    total: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    applied: bool = False
    rows: list[RowOutcome] = field(default_factory=list)


def read_csv(data: bytes) -> list[list[str]]:
    """Decode a CSV file (UTF-8 with or without BOM, else GB18030 as older Excel writes)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("文件编码无法识别：请保存为 UTF-8 的 CSV")
    return [row for row in csv.reader(io.StringIO(text))]


def read_xlsx(data: bytes) -> Iterator[tuple[str, list[list[str]]]]:
    """Yield (sheet name, rows as strings) for each worksheet of an XLSX file."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ImportFileError(f"不是有效的 XLSX 文件：{exc}") from exc
    for sheet in book.worksheets:
        yield sheet.title, [["" if c is None else str(c).strip() for c in row]
                            for row in sheet.iter_rows(values_only=True)]


def header_map(header: list[str], kind: str) -> dict[str, int]:
    """Map field names to column indexes using the accepted header aliases."""
    cleaned = [h.strip().lower() for h in header]
    found = {}
    for name, aliases in COLUMNS[kind].items():
        for alias in aliases:
            if alias.lower() in cleaned:
                found[name] = cleaned.index(alias.lower())
                break
    return found


def detect_kind(header: list[str], hint: str | None) -> str:
    """Tell whether a header row belongs to a unit or a cadre roster."""
    if hint:
        return hint
    cadre_cols = header_map(header, "cadres")
    return "cadres" if "position" in cadre_cols else "units"


def to_sheet(rows: list[list[str]], kind_hint: str | None, source: str) -> Sheet | None:
    """Turn raw rows into a Sheet of dicts keyed by field name (None when empty)."""
    if not rows or not any(c.strip() for c in rows[0]):
        return None
    kind = detect_kind(rows[0], kind_hint)
    columns = header_map(rows[0], kind)
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if missing:
        raise ImportFileError(f"{source}：缺少列 {', '.join(missing)}（可用表头："
                              + "；".join("/".join(COLUMNS[kind][c]) for c in missing) + "）")
    body = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(str(c).strip() for c in row):
            continue
        body.append((number, {name: (row[i].strip() if i < len(row) else "")
                              for name, i in columns.items()}))
    return Sheet(kind=kind, name=source, rows=body)


def read_roster(path: Path, kind: str | None = None) -> list[Sheet]:
    """Read a CSV or XLSX roster into sheets, units before cadres."""
    return read_roster_data(path.name, path.read_bytes(), kind)


def read_roster_data(filename: str, data: bytes, kind: str | None = None) -> list[Sheet]:
    """Read an uploaded CSV or XLSX roster (named by its file name) into sheets."""
    suffix = Path(filename or "").suffix.lower()
    if suffix == ".xlsx":
        sheets = [to_sheet(rows, kind or SHEET_KINDS.get(name.strip().lower()), name)
                  for name, rows in read_xlsx(data)]
    elif suffix == ".csv":
        sheets = [to_sheet(read_csv(data), kind, Path(filename).name)]
    else:
        raise ImportFileError("只支持 .csv 和 .xlsx 文件")
    found = [s for s in sheets if s is not None]
    if not found:
        raise ImportFileError("文件中没有数据")
    return sorted(found, key=lambda s: s.kind != "units")


def parse_active(value: str) -> bool | None:
    """Read an active flag; None when it is not recognisable."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    return False if word in FALSE_WORDS else None


def unit_order(session: Session, rows: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Order unit rows so parents in the file come before their children."""
    known = set(session.scalars(select(Unit.code)))
    pending, ordered = list(rows), []
    while pending:
        ready = [r for r in pending if not r[1].get("parent_code") or r[1]["parent_code"] in known]
        if not ready:
            return ordered + pending  # the rest have missing parents or form a loop
        for r in ready:
            known.add(r[1]["code"])
            ordered.append(r)
        pending = [r for r in pending if r not in ready]
    return ordered


def apply_row(session: Session, kind: str, values: dict, vocabulary: Vocabulary) -> bool:
    """Upsert one row; return whether it created a record."""
    if kind == "units":
        data = UnitInput(code=values["code"], name=values["name"], category=values["category"],
                         parent_code=values.get("parent_code") or None)
        return upsert_unit(session, data, vocabulary)[1]
    active = parse_active(values.get("active", ""))
    if active is None:
        raise InvalidInput(errors={"active": "无法识别：请填写 是/否"})
    data = CadreInput(code=values["code"], name=values["name"], unit_code=values["unit_code"],
                      position=values["position"], active=active,
                      level=level_code(values.get("level")) if "level" in values else None)
    return upsert_cadre(session, data)[1]


def import_sheet(session: Session, sheet: Sheet, report: ImportReport,
                 vocabulary: Vocabulary) -> None:
    """Apply each row in its own savepoint, recording errors per row and column."""
    rows = unit_order(session, sheet.rows) if sheet.kind == "units" else sheet.rows
    seen: dict[str, int] = {}
    for number, values in rows:
        report.total += 1
        code = values.get("code", "")
        if code in seen:
            failed(report, sheet, number, values, {"code": f"与第 {seen[code]} 行编码重复"})
            continue
        seen[code] = number
        try:
            with session.begin_nested():
                created = apply_row(session, sheet.kind, values, vocabulary)
        except InvalidInput as exc:
            failed(report, sheet, number, values, exc.errors)
            continue
        report.created += created
        report.updated += not created
        report.rows.append(RowOutcome(sheet.name, number, sheet.kind, code,
                                      values.get("name", ""), "created" if created else "updated"))


FIELD_NAMES = {"code": "编码", "name": "名称", "category": "单位类别",
               "parent_code": "上级单位编码", "unit_code": "单位编码", "position": "职务",
               "active": "在职", "level": "职级"}


def failed(report: ImportReport, sheet: Sheet, number: int, values: dict,
           errors: dict[str, str]) -> None:
    """Record a row's errors, per column and as one outcome of the preview."""
    report.errors.extend(RowError(number, col, reason, sheet.name)
                         for col, reason in errors.items())
    report.rows.append(RowOutcome(sheet.name, number, sheet.kind, values.get("code", ""),
                                  values.get("name", ""), "invalid",
                                  tuple(f"{FIELD_NAMES.get(c, c)}：{r}"
                                        for c, r in errors.items())))


def import_roster(session: Session, path: Path, vocabulary: Vocabulary, kind: str | None = None,
                  skip_invalid: bool = False, dry_run: bool = False) -> ImportReport:
    """Import a roster file; commit only when clean (or skipping invalid rows) and not dry."""
    return import_sheets(session, read_roster(path, kind), vocabulary, skip_invalid, dry_run)


def import_roster_data(session: Session, filename: str, data: bytes, vocabulary: Vocabulary,
                       skip_invalid: bool = False, dry_run: bool = False,
                       before_commit: Callable[[ImportReport], None] | None = None
                       ) -> ImportReport:
    """Import an uploaded roster, as `import_roster` does a file on disk."""
    return import_sheets(session, read_roster_data(filename, data), vocabulary, skip_invalid,
                         dry_run, before_commit)


def import_sheets(session: Session, sheets: list[Sheet], vocabulary: Vocabulary,
                  skip_invalid: bool, dry_run: bool,
                  before_commit: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Import read sheets; commit only when clean (or skipping invalid rows) and not dry."""
    report = ImportReport()
    for sheet in sheets:
        import_sheet(session, sheet, report, vocabulary)
    report.rows.sort(key=lambda r: (r.kind != "units", r.sheet, r.row))
    report.errors.sort(key=lambda e: (e.sheet, e.row, e.column))
    if dry_run or (report.errors and not skip_invalid):
        session.rollback()
        return report
    report.applied = True
    if before_commit is not None:
        before_commit(report)  # e.g. the audit entry, in the same transaction
    session.commit()
    return report
