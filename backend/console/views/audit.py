"""查询留痕: auditors browse, export and verify the hash-chained audit trail."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.services.accounts import audit
from backend.services.reports import audit_entries as queries

from ..access import AUDITORS
from ..auth import current_user, login_required
from ..filters import id_arg, link_args, text_arg
from ..labels import audit_action_name
from ..pages import Column, Page, Table, exporting, register_page
from .common import tz

PAGE = 50
EXPORT_LIMIT = 100_000
COLUMNS = [Column("id", "序号", "int"), Column("at", "时间", "datetime"),
           Column("actor", "操作人"), Column("action_name", "操作"), Column("target", "对象"),
           Column("address", "来源地址"), Column("details_text", "详情"),
           Column("hash_short", "哈希")]


def day_arg(name: str) -> date | None:
    """Return a YYYY-MM-DD query argument as a date."""
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def local_start(day: date | None) -> datetime | None:
    """Return the start of a local day."""
    return datetime.combine(day, time(0), tz()) if day else None


def labelled(rows: list[dict]) -> list[dict]:
    """Add names, local times and short texts to entries."""
    for row in rows:
        row["action_name"] = audit_action_name(row["action"])
        row["at"] = row["at"].astimezone(tz())
        row["details_text"] = json.dumps(row.pop("details") or {}, ensure_ascii=False)[:500]
        row["hash_short"] = row["hash"][:12]
    return rows


def build() -> Page:
    """Build the audit trail page (exports hold up to 100,000 matching entries)."""
    until = day_arg("to")
    rows = queries.entries(wiring.session(), text_arg("actor", 64), text_arg("action", 60),
                           local_start(day_arg("from")),
                           local_start(until + timedelta(days=1)) if until else None,
                           id_arg("before"), EXPORT_LIMIT if exporting() else PAGE)
    older = url_for("console.audit_trail", **link_args(before=rows[-1]["id"])
                    ) if len(rows) == PAGE and not exporting() else None
    return Page("查询留痕", "audit", subtitle="谁在何时从何处查看或导出了什么",
                tables=[Table("audit", "留痕记录", COLUMNS, labelled(rows), sortable=False)],
                target="audit_log", extra={"audit_filter": True, "older_url": older},
                notes=["每条记录的哈希覆盖其内容与上一条记录的哈希：任何修改或删除都会使校验失败。"])


@bp.route("/audit/verify")
@login_required(AUDITORS)
def audit_verify() -> ResponseReturnValue:
    """Verify the whole chain and show the first entry that does not match."""
    broken = audit.verify(wiring.session())
    audit.record_now(wiring.session(), current_user().username, "audit.verify", "audit_log",
                     wiring.now(), {"intact": broken is None, "first_broken": broken},
                     request.remote_addr, end_reads=True)
    return render_template("console/audit_verify.html", broken=broken)


register_page("/audit", "audit_trail", build, AUDITORS, sensitive="audit")
