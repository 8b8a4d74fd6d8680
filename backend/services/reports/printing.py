"""Print feedback reports: one official's PDF now, or a unit's as a batch job with progress.

A batch row records the request (unit, period, with or without subordinate units and
comments, who asked), the job updates `done` as it goes so the console can show progress,
and the finished PDF is stored on the row for download. Running the job twice for a
finished batch does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.errors import NotFound
from backend.models import Cadre, Unit
from backend.models.reports import DONE, FAILED, QUEUED, RUNNING, ReportBatch
from backend.services.reports.comments import visible_comments
from backend.services.reports.feedback_pdf import render_reports
from backend.services.reports.results import (
    ReportSettings,
    official_report,
    report_period,
    unit_subtree,
)
from backend.services.reports.units import unit_officials

PROGRESS_EVERY = 10
Bundle = tuple[dict[str, Any], list[dict[str, Any]] | None]


def feedback_bundle(session: Session, cadre: Cadre, label: str, settings: ReportSettings,
                    with_comments: bool) -> Bundle:
    """Return an official's report and (if asked) the comments that may be shown."""
    report = official_report(session, cadre, label, settings)
    if not with_comments:
        return report, None
    settings = settings.for_official(cadre)
    period_months = report_period(label, settings).months
    comments = visible_comments(session, settings.scheme, cadre.id, period_months,
                                valid_only=True)
    return report, [{**c, "group_name": settings.vocabulary.group_name(c["group"])}
                    for c in comments]


def official_pdf(session: Session, cadre: Cadre, label: str, settings: ReportSettings,
                 font: str, with_comments: bool) -> bytes:
    """Return one official's feedback report as a PDF."""
    bundle = feedback_bundle(session, cadre, label, settings, with_comments)
    return render_reports([bundle], font, f"成绩清单与问题清单 {cadre.code} {label}")


def start_batch(session: Session, unit: Unit, label: str, settings: ReportSettings,
                with_subordinates: bool, with_comments: bool, user: str,
                now: datetime) -> ReportBatch:
    """Record a unit's batch for a period (422 for a bad period); the caller enqueues it."""
    report_period(label, settings)
    count = len(unit_officials(session, unit_subtree(session, unit, with_subordinates)))
    batch = ReportBatch(unit_id=unit.id, period=label, with_subordinates=with_subordinates,
                        with_comments=with_comments, requested_by=user, status=QUEUED,
                        total=count, done=0, created_at=now)
    session.add(batch)
    session.flush()
    return batch


def bundles(session: Session, officials: list[Cadre], batch: ReportBatch,
            settings: ReportSettings) -> Iterator[Bundle]:
    """Yield each official's report and comments in code order."""
    for cadre in officials:
        yield feedback_bundle(session, cadre, batch.period, settings, batch.with_comments)


def run_batch(session: Session, batch_id: int, settings: ReportSettings, font: str,
              now: datetime) -> ReportBatch:
    """Build a batch's PDF, committing progress every few officials; store it; commit."""
    batch = session.get(ReportBatch, batch_id)
    if batch is None:
        raise NotFound("批量打印任务不存在")
    if batch.status == DONE:
        return batch
    unit = session.get(Unit, batch.unit_id)
    officials = unit_officials(session, unit_subtree(session, unit, batch.with_subordinates))
    batch.status, batch.total, batch.done = RUNNING, len(officials), 0
    session.commit()

    def progress(count: int) -> None:
        if count % PROGRESS_EVERY == 0 or count == len(officials):
            session.execute(update(ReportBatch).where(ReportBatch.id == batch_id)
                            .values(done=count))
            session.commit()

    try:
        pdf = render_reports(bundles(session, officials, batch, settings), font,
                             f"成绩清单与问题清单 {unit.code} {batch.period}", progress)
    except Exception as exc:
        session.rollback()
        batch = session.get(ReportBatch, batch_id)
        batch.status, batch.error, batch.finished_at = FAILED, str(exc)[:500], now
        session.commit()
        raise
    batch = session.get(ReportBatch, batch_id)
    batch.pdf, batch.status, batch.finished_at = pdf, DONE, now
    batch.done = batch.total
    session.commit()
    return batch


def batch_view(session: Session, batch_id: int, visible: set[int] | None) -> dict[str, Any]:
    """Return a batch's progress for a user who may see the given units (None: all)."""
    row = session.execute(
        select(ReportBatch.id, ReportBatch.unit_id, ReportBatch.period, ReportBatch.status,
               ReportBatch.total, ReportBatch.done, ReportBatch.error,
               ReportBatch.with_subordinates, ReportBatch.requested_by, Unit.name)
        .join(Unit, Unit.id == ReportBatch.unit_id).where(ReportBatch.id == batch_id)).first()
    if row is None or (visible is not None and row.unit_id not in visible):
        raise NotFound("批量打印任务不存在")
    return {"id": row.id, "unit_id": row.unit_id, "unit": row.name, "period": row.period,
            "status": row.status, "total": row.total, "done": row.done, "error": row.error,
            "with_subordinates": row.with_subordinates, "requested_by": row.requested_by}


def batch_pdf(session: Session, batch_id: int, visible: set[int] | None) -> tuple[bytes, str]:
    """Return a finished batch's PDF and a file name; 404 if unknown, unseen or unfinished."""
    view = batch_view(session, batch_id, visible)
    pdf = session.scalar(select(ReportBatch.pdf).where(ReportBatch.id == batch_id))
    if view["status"] != DONE or pdf is None:
        raise NotFound("PDF 尚未生成")
    return pdf, f"reports-{view['period']}-{batch_id}.pdf"
