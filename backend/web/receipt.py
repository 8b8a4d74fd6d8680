"""The public receipt check page: a rater reads in plain words whether the rating is recorded.

The JSON answer (GET /api/v1/receipts/<receipt>) stays the proof anyone can fold; this page
reads it out: pending, or included with each entry's checkpoint day, position and root. Like
the API it never shows the score or the official rated, and it never echoes what was typed
for a receipt that does not exist.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.extensions import db, limiter
from backend.models.cases import REPORT_KINDS
from backend.public_limits import public_limit
from backend.services.ratings.receipts import check_receipt, rate_handling, report_pressure
from backend.web.rating import render_closed
from backend.wiring import now
from workers.schedule import PERIODIC_JOBS

bp = Blueprint("receipt", __name__)

GROUP = 8
CHECKPOINT_JOB = "ledger-checkpoint"
TITLES = {"accepted": "已受理，等待分批入账", "pending": "已收到，尚未记入账本",
          "included": "已记入账本", "unknown": "凭证不存在"}


def grouped(text: str, size: int = GROUP) -> list[str]:
    """Split a hex string into groups of `size` characters for reading aloud or comparing."""
    return [text[start:start + size] for start in range(0, len(text), size)]


def checkpoint_time() -> str:
    """Return the local time of day the ledger closes a checkpoint (HH:MM), from the schedule."""
    at = next(job.at for job in PERIODIC_JOBS if job.name == CHECKPOINT_JOB)
    return f"{at.hour:02d}:{at.minute:02d}"


def day_label(day: str) -> str:
    """Return an ISO day as Chinese readers write it: 2026年11月18日."""
    parsed = date.fromisoformat(day)
    return f"{parsed.year}年{parsed.month}月{parsed.day}日"


def checkpoint_views(entries: list[dict]) -> list[dict]:
    """Group a receipt's entries by checkpoint: day, root in groups, each entry's position."""
    views: dict[str, dict] = {}
    for entry in entries:
        checkpoint = entry["checkpoint"]
        view = views.setdefault(checkpoint["day"], {
            "day": day_label(checkpoint["day"]), "root": grouped(checkpoint["root"]),
            "size": checkpoint["size"], "positions": []})
        view["positions"].append(entry["index"] + 1)
    return list(views.values())


def render_page(status: str, receipt: str | None = None, answer: dict | None = None,
                code: int = 200, problem: str | None = None, report_problem: str | None = None,
                reported: bool = False) -> tuple[str, int]:
    """Render the receipt page in one of its states: pending, included or unknown."""
    checkpoints = checkpoint_views(answer.get("entries", [])) if answer else []
    api_url = url_for("ledger.ReceiptResource", receipt=receipt) if receipt else None
    return render_template("rating/receipt.html", status=status, title=TITLES[status],
                           receipt=grouped(receipt or ""), checkpoints=checkpoints,
                           entry_count=len(answer.get("entries", [])) if answer else 0,
                           api_url=api_url, closes_at=checkpoint_time(),
                           case=(answer or {}).get("case"), receipt_text=receipt,
                           problem=problem, report_problem=report_problem, reported=reported,
                           report_kinds=REPORT_KINDS), code


@bp.get("/receipt/<receipt>")
@limiter.limit(public_limit)
def show(receipt: str) -> ResponseReturnValue:
    """Show whether the ratings under a receipt are in the ledger (404 page when unknown)."""
    answer = check_receipt(db.session, receipt)
    return render_page(answer["status"], receipt.strip().lower(), answer)


@bp.post("/receipt/<receipt>/verdict")
@limiter.limit(public_limit)
def verdict(receipt: str) -> ResponseReturnValue:
    """Take the rater's word on a closed case's handling, once; show the page again."""
    try:
        rate_handling(db.session, receipt, request.form.get("verdict", ""), now())
    except (errors.Conflict, errors.InvalidInput) as exc:
        db.session.rollback()
        answer = check_receipt(db.session, receipt)
        status = 409 if isinstance(exc, errors.Conflict) else 422
        return render_page(answer["status"], receipt.strip().lower(), answer, status,
                           exc.message)
    return redirect(url_for("receipt.show", receipt=receipt.strip().lower()), 303)


@bp.post("/receipt/<receipt>/report")
@limiter.limit(public_limit)
def report(receipt: str) -> ResponseReturnValue:
    """Take a report of retaliation or pressure to the discipline side; thank the rater."""
    form = request.form
    try:
        report_pressure(db.session, receipt, form.get("kind", ""), form.get("text", ""),
                        form.get("phone"), wiring.vault(), wiring.case_rules(),
                        wiring.timezone(), now())
    except errors.InvalidInput as exc:
        db.session.rollback()
        answer = check_receipt(db.session, receipt)
        return render_page(answer["status"], receipt.strip().lower(), answer, 422,
                           report_problem=exc.message)
    answer = check_receipt(db.session, receipt)
    return render_page(answer["status"], receipt.strip().lower(), answer, reported=True)


@bp.after_request
def no_store(response: Response) -> Response:
    """Keep receipt answers out of every cache: the status changes and the URL is personal."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(errors.NotFound)
def unknown_receipt(_exc: errors.NotFound) -> ResponseReturnValue:
    """Answer an unknown or malformed receipt with the 404 page."""
    return render_page("unknown", code=404)


@bp.errorhandler(429)
def too_many(_exc: Exception) -> ResponseReturnValue:
    """Answer a rate-limited address with the rating pages' busy page (Retry-After is added)."""
    return render_closed("busy")
