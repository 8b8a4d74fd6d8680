"""Printing a campaign's slips as a job: a SlipPrint row carries its progress, then the PDF.

The console starts a print, a worker renders it page by page (committing the count so the
page's progress bar can poll it), and the organiser downloads the PDF. The PDF holds working
ballot links, so it is stored sealed (keys outside the database: a database reader learns no
working link), kept for PRINT_KEEP only, and every download is audited by the caller.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from backend.errors import Conflict, DomainError, Gone, NotFound, Unavailable
from backend.models import Campaign, SlipPrint
from backend.scoring.vocabulary import Vocabulary
from backend.services.campaigns.lifecycle import require_open
from backend.services.campaigns.slips import campaign_slips
from backend.services.invitations.tokens import TokenCodec
from backend.services.sealing.seal import Sealer, SealError
from backend.storage.transactions import begin_write

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
ACTIVE = (QUEUED, RUNNING)
PRINT_KEEP = timedelta(days=1)
STALE = timedelta(minutes=30)  # a print still "running" after this is taken as crashed
STATUS_NAMES = {QUEUED: "排队中", RUNNING: "生成中", DONE: "已完成", FAILED: "失败"}


@dataclass(frozen=True)
class PrintContext:
    """What rendering slips needs besides the session."""

    sealer: Sealer
    codec: TokenCodec
    base_url: str
    tz: tzinfo
    vocabulary: Vocabulary
    font_file: str | None = None


def start_print(session: Session, campaign: Campaign, requested_by: str,
                now: datetime) -> tuple[SlipPrint, bool]:
    """Queue a print of an open campaign's slips; return it and whether it is new; commit.

    A print already queued or running for the campaign is returned instead of a second one.
    Prints older than PRINT_KEEP are deleted, PDF and all.
    """
    begin_write(session)
    require_open(campaign, "打印测评票")
    session.execute(delete(SlipPrint).where(SlipPrint.created_at < now - PRINT_KEEP))
    running = session.scalar(select(SlipPrint).where(
        SlipPrint.campaign_id == campaign.id, SlipPrint.status.in_(ACTIVE),
        SlipPrint.created_at > now - STALE))
    if running is not None:
        session.commit()
        return running, False
    job = SlipPrint(campaign_id=campaign.id, requested_by=requested_by[:64], status=QUEUED,
                    done=0, total=0, created_at=now)
    session.add(job)
    session.commit()
    return job, True


def report_progress(session: Session, print_id: int, done: int, total: int) -> None:
    """Store how many slips are drawn; commit, so that polling readers see it."""
    session.execute(update(SlipPrint).where(SlipPrint.id == print_id)
                    .values(status=RUNNING, done=done, total=total))
    session.commit()


def run_print(session: Session, ctx: PrintContext, print_id: int, now: datetime) -> str:
    """Render a queued print's slips, keeping its progress; return its final status; commit.

    A print already finished is left alone (the job may run twice). A domain error (nothing
    left to print, no font) is stored as the print's failure for the page to show.
    """
    job = session.get(SlipPrint, print_id)
    if job is None or job.status in (DONE, FAILED):
        return job.status if job else FAILED
    campaign = session.get(Campaign, job.campaign_id)
    report_progress(session, print_id, 0, 0)
    try:
        pdf = campaign_slips(session, ctx.sealer, campaign, ctx.codec, ctx.base_url, ctx.tz,
                             ctx.vocabulary, ctx.font_file,
                             lambda done, total: report_progress(session, print_id, done, total))
    except DomainError as exc:
        session.rollback()
        values = {"status": FAILED, "error": exc.message[:500], "finished_at": now}
    else:
        values = {"status": DONE, "pdf": seal_pdf(ctx.sealer, pdf), "finished_at": now}
    session.execute(update(SlipPrint).where(SlipPrint.id == print_id).values(**values))
    session.commit()
    return values["status"]


def seal_pdf(sealer: Sealer, pdf: bytes) -> bytes:
    """Seal a PDF for storage (it carries working links)."""
    return sealer.seal({"pdf": base64.b64encode(pdf).decode()}).encode()


def open_pdf(sealer: Sealer, stored: bytes) -> bytes:
    """Open a stored PDF; Unavailable when no configured key opens it any more."""
    try:
        return base64.b64decode(sealer.open(stored.decode())["pdf"])
    except SealError as exc:
        raise Unavailable("测评票 PDF 无法解密（密钥已轮换），请重新打印") from exc


def find_print(session: Session, campaign: Campaign, print_id: int) -> SlipPrint:
    """Return a print of this campaign, or raise NotFound."""
    job = session.get(SlipPrint, print_id)
    if job is None or job.campaign_id != campaign.id:
        raise NotFound("打印任务不存在")
    return job


def print_status(job: SlipPrint) -> dict:
    """Return a print's progress as the page polls it (never the PDF itself)."""
    percent = 100 if job.status == DONE else (
        int(job.done * 100 / job.total) if job.total else 0)
    return {"id": job.id, "status": job.status, "status_name": STATUS_NAMES[job.status],
            "done": job.done, "total": job.total, "percent": percent, "error": job.error}


def print_pdf(session: Session, sealer: Sealer, campaign: Campaign, print_id: int,
              now: datetime) -> bytes:
    """Return a finished print's PDF; Conflict while it runs or failed, Gone once expired."""
    job = find_print(session, campaign, print_id)
    if job.status != DONE or job.pdf is None:
        raise Conflict(job.error or "测评票尚未生成完毕，请稍候")
    if job.created_at < now - PRINT_KEEP:
        raise Gone("测评票 PDF 已过期（保留一天），请重新打印")
    return open_pdf(sealer, job.pdf)


def latest_print(session: Session, campaign: Campaign, now: datetime) -> SlipPrint | None:
    """Return the campaign's newest print still kept, if any."""
    return session.scalar(select(SlipPrint).where(
        SlipPrint.campaign_id == campaign.id, SlipPrint.created_at >= now - PRINT_KEEP)
        .order_by(SlipPrint.id.desc()).limit(1))
