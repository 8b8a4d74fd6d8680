"""评价账本 for auditors: the daily checkpoints of the rating ledger, and verifying it."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.services.accounts import audit
from backend.services.ledger.chain import list_checkpoints
from backend.services.ledger.verify import verify

from ..access import AUDITORS
from ..auth import current_user, login_required
from ..pages import Column, Page, Table, register_page

COLUMNS = [Column("day", "日期", "date"), Column("count", "条目数", "int"),
           Column("first_seq", "起始序号", "int"), Column("last_seq", "结束序号", "int"),
           Column("root", "默克尔根"), Column("chain_hash", "链哈希"),
           Column("created_at", "生成时间", "datetime")]


def build() -> Page:
    """Build the ledger page: the newest checkpoints."""
    rows = [{"day": c.day, "count": c.count, "first_seq": c.first_seq, "last_seq": c.last_seq,
             "root": c.root, "chain_hash": c.chain_hash, "created_at": c.created_at}
            for c in list_checkpoints(wiring.session(), limit=90)]
    return Page("评价账本", "ledger", subtitle="每日检查点（默克尔根）与哈希链",
                tables=[Table("checkpoints", "最近 90 个检查点", COLUMNS, rows, sortable=False)],
                notes=["检查点在每日结束后生成，并随推送发送给考核核心系统，作为外部存证。"],
                extra={"ledger_verify": True})


@bp.route("/ledger/verify")
@login_required(AUDITORS)
def ledger_verify() -> ResponseReturnValue:
    """Recompute the whole ledger and show the outcome; audited."""
    result = verify(wiring.session(), wiring.now())
    audit.record_now(wiring.session(), current_user().username, "ledger.verify", "ledger",
                     wiring.now(), {"ok": result.ok, "seq": result.seq}, request.remote_addr,
                     end_reads=True)
    return render_template("console/ledger_verify.html", result=result)


register_page("/ledger", "ledger", build, AUDITORS)
