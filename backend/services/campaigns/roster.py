"""Campaign rosters from CSV or XLSX: rater code, name, phone, group, targets; a report per row.

The file format and the report are the directory import's (same readers, RowError and
ImportReport). A file with errors changes nothing unless `skip_invalid`; `dry_run` only reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import ImportFileError, InvalidInput
from backend.models import Campaign, CampaignRater
from backend.scoring.vocabulary import Vocabulary
from backend.services.campaigns.lifecycle import (
    BallotLink,
    CampaignContext,
    create_campaign,
    find_campaign,
    require_open,
    write_ballots,
)
from backend.services.campaigns.rules import (
    AssignmentInput,
    CampaignInput,
    Planned,
    RaterInput,
    allowed_groups,
    ballot_template,
    check_assignments,
    load_cadres,
)
from backend.services.directory.roster_import import ImportReport, RowError, read_csv, read_xlsx
from backend.storage.transactions import begin_write

COLUMNS = {
    "code": ("rater_code", "code", "评价人编码", "测评人编码", "编码"),
    "name": ("name", "rater_name", "姓名", "评价人姓名", "评价人"),
    "phone": ("phone", "手机号", "手机号码", "手机", "电话"),
    "group": ("group", "群体", "类别", "评价人群体", "评价人类别"),
    "targets": ("targets", "评价对象", "被评价人", "测评对象", "被测评人"),
}
REQUIRED = ("code", "name", "group", "targets")
SEPARATORS = re.compile(r"[、,，;；\s]+")
Row = tuple[int, AssignmentInput]


@dataclass
class RosterResult:
    """The per-row report and the links of ballots written (none on dry runs or errors)."""

    report: ImportReport
    ballots: list[BallotLink] = field(default_factory=list)


def column_indexes(header: list[str], required: Sequence[str] = REQUIRED) -> dict[str, int]:
    """Map field names to column indexes using the accepted header aliases."""
    cleaned = [str(h).strip().lower() for h in header]
    found = {}
    for name, aliases in COLUMNS.items():
        index = next((cleaned.index(a.lower()) for a in aliases if a.lower() in cleaned), None)
        if index is not None:
            found[name] = index
    missing = [c for c in required if c not in found]
    if missing:
        hints = "；".join("/".join(COLUMNS[c]) for c in missing)
        raise ImportFileError(f"缺少列 {', '.join(missing)}（可用表头：{hints}）")
    return found


def cell(row: list[str], index: int | None) -> str:
    """Return a stripped cell ("" when the row is short or the column absent)."""
    return str(row[index]).strip() if index is not None and index < len(row) else ""


def to_assignment(row: list[str], columns: dict[str, int], vocabulary: Vocabulary,
                  default_targets: tuple[str, ...] = ()) -> AssignmentInput:
    """Turn one roster row into an assignment (groups by code, Chinese name or alias).

    A row without targets rates the default targets (the campaign form's officials).
    """
    phone = cell(row, columns.get("phone")).removesuffix(".0")  # Excel numbers
    group = cell(row, columns["group"])
    targets = tuple(t for t in SEPARATORS.split(cell(row, columns.get("targets"))) if t)
    targets = targets or default_targets
    return AssignmentInput(RaterInput(cell(row, columns["code"]), cell(row, columns["name"]),
                                      phone or None),
                           vocabulary.group_code(group) or group.lower(), targets)


def table_of(data: bytes, filename: str) -> list[list[str]]:
    """Read the roster table: a CSV file, or the first non-empty sheet of an XLSX file."""
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if suffix == "csv":
        return read_csv(data)
    if suffix == "xlsx":
        return next((rows for _, rows in read_xlsx(data)
                     if any(any(str(c).strip() for c in r) for r in rows)), [])
    raise ImportFileError("只支持 .csv 和 .xlsx 文件")


def read_roster(data: bytes, filename: str, vocabulary: Vocabulary,
                default_targets: tuple[str, ...] = ()) -> list[Row]:
    """Return (row number, assignment) for every non-blank row; refuse an empty roster.

    With default targets the targets column may be left out.
    """
    table = table_of(data, filename)
    if not table or not any(str(c).strip() for c in table[0]):
        raise ImportFileError("名单为空：文件中没有表头和数据")
    required = [c for c in REQUIRED if not (default_targets and c == "targets")]
    columns = column_indexes(table[0], required)
    rows = [(number, to_assignment(row, columns, vocabulary, default_targets))
            for number, row in enumerate(table[1:], start=2) if any(str(c).strip() for c in row)]
    if not rows:
        raise ImportFileError("名单为空：文件中只有表头，没有评价人")
    return rows


def check_rows(session: Session, groups: Mapping[str, str], rows: Sequence[Row],
               taken: frozenset[str] = frozenset()) -> tuple[list[Planned], list[RowError]]:
    """Validate roster rows; return the valid assignments and errors by row and column."""
    items = [a for _, a in rows]
    planned, issues = check_assignments(items, groups, load_cadres(session, items), taken,
                                        label=lambda i: f"第 {rows[i][0]} 行")
    errors = [RowError(rows[i.index][0], i.field, i.reason) for i in issues]
    return list(planned.values()), sorted(errors, key=lambda e: (e.row, e.column))


def import_roster(session: Session, ctx: CampaignContext, code: str, data: bytes,
                  filename: str, skip_invalid: bool = False,
                  dry_run: bool = False) -> RosterResult:
    """Add a roster file's raters to an open campaign, each with a new ballot."""
    begin_write(session)
    campaign = find_campaign(session, code)
    require_open(campaign, "导入名单")
    rows = read_roster(data, filename, ctx.catalogue.vocabulary)
    taken = frozenset(session.scalars(select(CampaignRater.code)
                                      .where(CampaignRater.campaign_id == campaign.id)))
    groups = allowed_groups(campaign.template.definition["groups"], ctx.catalogue.vocabulary)
    planned, errors = check_rows(session, groups, rows, taken)
    report = ImportReport(total=len(rows), errors=errors)
    if dry_run or (errors and not skip_invalid):
        session.rollback()
        return RosterResult(report)
    links = write_ballots(session, ctx, campaign, planned)
    session.commit()
    report.created, report.applied = len(planned), True
    return RosterResult(report, links)


def roster_errors(errors: Sequence[RowError]) -> dict:
    """Render row errors as {"rows": {"<row>": {"<column>": reason}}}."""
    rows: dict[str, dict] = {}
    for e in errors:
        rows.setdefault(str(e.row), {})[e.column] = e.reason
    return {"rows": rows}


def create_with_roster(session: Session, ctx: CampaignContext, data: CampaignInput,
                       file: bytes, filename: str,
                       default_targets: tuple[str, ...] = ()) -> tuple[Campaign, list[BallotLink]]:
    """Create a campaign whose raters come from a roster file; any bad row changes nothing.

    Row errors are raised as InvalidInput naming the row and column (第 N 行), the way the
    roster import reports them; the campaign's own fields are checked by create_campaign.
    """
    rows = read_roster(file, filename, ctx.catalogue.vocabulary, default_targets)
    template = ballot_template(session, ctx.catalogue, data.template)
    if template is not None:
        groups = allowed_groups(template.definition["groups"], ctx.catalogue.vocabulary)
        _, errors = check_rows(session, groups, rows)
        if errors:
            raise InvalidInput("测评名单有误，未创建测评", errors=roster_errors(errors))
    return create_campaign(session, ctx, replace(data, assignments=[a for _, a in rows]))
