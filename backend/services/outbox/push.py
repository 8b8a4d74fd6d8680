"""The push outbox: messages for the assessment core, relayed, retried, replayed, reconciled.

A score snapshot or an alert becomes a WebhookMessage in the transaction that wrote it; its
webhook id hashes type and content, so the same content is one message. The relay leases due
rows in groups (FOR UPDATE SKIP LOCKED), sends a group with no transaction open, and commits
its outcomes in one short transaction: a crash delays leased rows, never loses them (they go
again after the lease; the receiver drops the duplicate id). Failures retry on RETRY_SCHEDULE;
then a row is a dead letter, kept and replayable. After a 410 an open "push_endpoint_gone"
alert is the durable off switch; resolving it re-enables pushing.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from backend.integrations.assessment_core import GONE, SendResult
from backend.models import Alert, Cadre, ScoreSnapshot, SurveyTemplate, WebhookMessage
from backend.models.alerts import RESOLVED
from backend.services.alerts.records import month_period, raise_alert
from backend.storage.bulk import EncodedJSON, copy_rows
from backend.storage.transactions import begin_write

STATUSES = PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
ENDPOINT_GONE, DEAD_LETTERS = "push_endpoint_gone", "push_dead_letters"
# Seconds before each attempt: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h.
RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
CLAIM_SIZE = 50
MAX_RETRY_AFTER, MAX_ERROR = 86400, 500
DIGEST_METHOD = "sha256(按行排序后以换行连接的 cadre_code|scheme_id|scheme_version|digest)"
SM = WebhookMessage
Message = tuple[str, Mapping[str, Any]]  # (webhook id, payload)


class Sender(Protocol):
    def send_many(self, messages: Sequence[Message]) -> list[SendResult]: ...


@dataclass(frozen=True)
class PushSettings:
    """Retry schedule, lease, time zone and the sender's timeout, concurrency and lanes."""

    retry_schedule: tuple[int, ...] = RETRY_SCHEDULE
    lease: timedelta = timedelta(minutes=10)  # > a group's sends at the 15 s timeout
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    timeout: float = 15.0
    concurrency: int = 8
    lanes: int = 2

    def delay_after(self, attempts: int) -> int | None:
        """Return the seconds to wait after `attempts` failed tries, None when none is left."""
        return self.retry_schedule[attempts] if attempts < len(self.retry_schedule) else None


@dataclass
class RelayReport:
    """Rows claimed and their outcomes; `more` at the bound; why it stopped early."""

    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    more: bool = False
    disabled: bool = False
    failing: bool = False


def message_id(type: str, identity: str) -> str:
    """Return the stable webhook id of a message: msg_ + 32 hex of sha256(type:identity)."""
    return "msg_" + hashlib.sha256(f"{type}:{identity}".encode()).hexdigest()[:32]


def queue_message(session: Session, type: str, data: Mapping[str, Any], identity: str,
                  period: str | None, now: datetime) -> WebhookMessage:
    """Add a message in the caller's transaction, once per content; return its row."""
    queue_messages(session, [(type, data, identity, period)], now)
    return session.scalars(select(SM).filter_by(webhook_id=message_id(type, identity))).one()


def queue_messages(session: Session, messages: Sequence[tuple[str, Mapping[str, Any] | EncodedJSON,
                                                                str, str | None]],
                   now: datetime) -> int:
    """Add (type, data, identity, period) messages in the caller's transaction, in bulk.

    data is a mapping, or a JSON object already encoded (EncodedJSON) that is stored as is.
    """
    rows: dict[str, dict[str, Any]] = {}
    timestamp = now.isoformat()
    for type, data, identity, period in messages:
        webhook_id = message_id(type, identity)
        if webhook_id not in rows:
            rows[webhook_id] = {
                "webhook_id": webhook_id, "type": type, "period": period, "status": PENDING,
                "payload": payload(type, timestamp, data), "attempts": 0,
                "next_attempt_at": now, "created_at": now}
    if rows:
        insert_new(session, list(rows.values()))
    return len(rows)


def payload(type: str, timestamp: str, data: Mapping[str, Any] | EncodedJSON):
    """Return a message's payload; data already encoded as JSON is embedded, not re-encoded."""
    if isinstance(data, EncodedJSON):
        head = json.dumps({"type": type, "timestamp": timestamp}, ensure_ascii=False)
        return EncodedJSON(f'{head[:-1]}, "data": {data}}}')
    return {"type": type, "timestamp": timestamp, "data": dict(data)}


def insert_new(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows; a webhook id already queued (same content) is left as it is."""
    copy_rows(session, SM.__table__, rows, skip_conflicts_on="webhook_id")


def relay_due(session: Session, sender: Sender, now: datetime, batch_size: int = 500,
              settings: PushSettings | None = None) -> RelayReport:
    """Send up to batch_size due messages in groups; commit each group's outcomes."""
    settings, report = settings or PushSettings(), RelayReport()
    while report.claimed < batch_size:
        if endpoint_disabled(session):
            report.disabled = True
            return report
        want = min(CLAIM_SIZE, batch_size - report.claimed)
        claimed = claim(session, now, want, settings.lease)
        if not claimed:
            return report
        report.claimed += len(claimed)
        results = sender.send_many([(c.webhook_id, c.payload) for c in claimed])
        outcomes = record(session, [c.id for c in claimed], results, now, settings)
        report.outcomes.update(outcomes)
        report.disabled = bool(outcomes["gone"])
        # A group that failed throughout means the core seems down: pause, don't hammer it.
        report.failing = not outcomes["delivered"] and bool(outcomes["retry"] + outcomes["dead"])
        if len(claimed) < want or report.disabled or report.failing:
            return report
    report.more = True
    return report


def endpoint_disabled(session: Session) -> bool:
    """Tell whether pushing is off because the core answered 410 (alert not yet resolved)."""
    return bool(session.scalar(select(exists().where(Alert.type == ENDPOINT_GONE,
                                                     Alert.state != RESOLVED))))


def claim(session: Session, now: datetime, limit: int, lease: timedelta) -> list[Any]:
    """Lease up to `limit` due rows to this worker; return (id, webhook_id, payload) rows."""
    begin_write(session)
    due = (select(SM.id).where(SM.status == PENDING, SM.next_attempt_at <= now)
           .order_by(SM.next_attempt_at, SM.id).limit(limit).with_for_update(skip_locked=True))
    rows = session.execute(update(SM).where(SM.id.in_(due.scalar_subquery()))
                           .values(next_attempt_at=now + lease)
                           .returning(SM.id, SM.webhook_id, SM.payload)
                           .execution_options(synchronize_session=False)).all()
    session.commit()
    return sorted(rows, key=lambda r: r.id)


def record(session: Session, ids: Sequence[int], results: Sequence[SendResult], now: datetime,
           settings: PushSettings) -> Counter[str]:
    """Write a group's outcomes in one transaction; return them counted by kind."""
    begin_write(session)
    delivered: dict[int, list[int]] = defaultdict(list)
    failed, skipped = {}, []
    for row_id, result in zip(ids, results, strict=True):
        if result.ok:
            delivered[result.status].append(row_id)
        elif result.sent:
            failed[row_id] = result
        else:
            skipped.append(row_id)
    for status, row_ids in delivered.items():
        set_pending(session, row_ids, status=DELIVERED, attempts=SM.attempts + 1,
                    last_status=status, delivered_at=now, next_attempt_at=now)
    set_pending(session, skipped, next_attempt_at=now)  # unsent: due once re-enabled
    outcomes = Counter(delivered=sum(map(len, delivered.values())), skipped=len(skipped))
    if failed:
        outcomes.update(record_failures(session, failed, now, settings))
    session.commit()
    return +outcomes


def set_pending(session: Session, ids: Sequence[int], **values: Any) -> None:
    """Update the rows among ids that are still pending, without loading them."""
    if ids:
        session.execute(update(SM).where(SM.id.in_(ids), SM.status == PENDING).values(**values)
                        .execution_options(synchronize_session=False))


def record_failures(session: Session, failed: Mapping[int, SendResult], now: datetime,
                    settings: PushSettings) -> Counter[str]:
    """Schedule retries, bury rows out of attempts, and disable pushing on a 410."""
    rows = session.scalars(select(SM).where(SM.id.in_(list(failed)), SM.status == PENDING)
                           .with_for_update().execution_options(populate_existing=True))
    outcomes = Counter(apply_failure(row, failed[row.id], now, settings) for row in rows)
    period = month_period(now, settings.timezone)
    if gone := [r for r in failed.values() if r.status == GONE]:
        raise_alert(session, ENDPOINT_GONE, None, period,
                    {"message": "评估核心返回 410：推送已停用，处理后请关闭此告警以恢复推送",
                     "error": gone[0].error}, now)
    if outcomes["dead"]:
        dead = session.scalar(select(func.count()).select_from(SM).where(SM.status == DEAD))
        raise_alert(session, DEAD_LETTERS, None, period,
                    {"message": "有推送在最后一次重试后仍失败，"
                                "可在「评分发布与推送」中查看并重新推送",
                     "dead": dead}, now)
    return outcomes


def apply_failure(row: WebhookMessage, result: SendResult, now: datetime,
                  settings: PushSettings) -> str:
    """Record a failed try on a row; return "gone", "retry" or "dead"."""
    row.last_status, row.last_error = result.status, (result.error or "")[:MAX_ERROR]
    if result.status == GONE:  # the endpoint's fault, not the message's: no attempt used
        row.next_attempt_at = now
        return "gone"
    row.attempts += 1
    delay = settings.delay_after(row.attempts)
    if delay is None:
        row.status = DEAD
        return "dead"
    wait = max(delay, min(result.retry_after or 0, MAX_RETRY_AFTER))
    row.next_attempt_at = now + timedelta(seconds=wait)
    return "retry"


def next_due(session: Session) -> datetime | None:
    """Return when the earliest pending message is due (leases included)."""
    return session.scalar(select(func.min(SM.next_attempt_at)).where(SM.status == PENDING))


def replay(session: Session, period: str | None = None, ids: Sequence[str] | None = None,
           *, now: datetime) -> int:
    """Requeue the dead or delivered messages of a period or ids (neither: all dead); commit."""
    stmt = update(SM).where(SM.status.in_((DEAD, DELIVERED)) if period or ids
                            else SM.status == DEAD)
    if period:
        stmt = stmt.where(SM.period == period)
    if ids:
        stmt = stmt.where(SM.webhook_id.in_(list(ids)))
    count = session.execute(stmt.values(status=PENDING, attempts=0, next_attempt_at=now,
                                        delivered_at=None)
                            .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return count


def message_log(row: WebhookMessage) -> dict[str, Any]:
    """Return a message's delivery log: attempts, last status and error, next attempt."""
    return {"webhook_id": row.webhook_id, "type": row.type, "period": row.period,
            "status": row.status, "attempts": row.attempts, "last_status": row.last_status,
            "last_error": row.last_error, "created_at": row.created_at,
            "next_attempt_at": row.next_attempt_at if row.status == PENDING else None,
            "delivered_at": row.delivered_at}


def list_messages(session: Session, status: str | None = None, period: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
    """Return the newest messages' delivery logs, filtered by status and period."""
    given = {k: v for k, v in (("status", status), ("period", period)) if v}
    rows = session.scalars(select(SM).filter_by(**given).order_by(SM.id.desc()).limit(limit))
    return [message_log(row) for row in rows]


def status_summary(session: Session, dead_letters: int = 20) -> dict[str, Any]:
    """Return counts by status, the pending backlog's age and failures, and dead letters."""
    counts = dict(session.execute(select(SM.status, func.count()).group_by(SM.status)).all())
    oldest, earliest, retrying = session.execute(
        select(func.min(SM.created_at), func.min(SM.next_attempt_at),
               func.count().filter(SM.attempts > 0)).where(SM.status == PENDING)).one()
    return {"counts": {s: counts.get(s, 0) for s in STATUSES}, "oldest_pending_at": oldest,
            "next_attempt_at": earliest, "retrying": retrying,
            "endpoint_disabled": endpoint_disabled(session),
            "dead_letters": list_messages(session, DEAD, limit=dead_letters)}


def published_summary(session: Session) -> list[dict[str, Any]]:
    """Return per period the count and combined digest of the current score snapshots."""
    rows = session.execute(
        select(ScoreSnapshot.period, Cadre.code, SurveyTemplate.key, SurveyTemplate.version,
               ScoreSnapshot.digest).join(Cadre, ScoreSnapshot.cadre_id == Cadre.id)
        .join(SurveyTemplate, ScoreSnapshot.scheme_id == SurveyTemplate.id)
        .where(ScoreSnapshot.superseded_at.is_(None)))
    lines: dict[str, list[str]] = defaultdict(list)
    for period, code, scheme, version, digest in rows:
        lines[period].append(f"{code}|{scheme}|{version}|{digest}")
    return [{"period": p, "count": len(ls), "digest": "sha256:" + hashlib.sha256(
        "\n".join(sorted(ls)).encode()).hexdigest()} for p, ls in sorted(lines.items())]


def checkpoint(session: Session, now: datetime, tz: tzinfo) -> WebhookMessage:
    """Queue and commit the daily "checkpoint"; an unchanged summary is the same message."""
    periods = published_summary(session)
    identity = hashlib.sha256(json.dumps(periods, sort_keys=True).encode()).hexdigest()
    data = {"date": now.astimezone(tz).date().isoformat(), "periods": periods,
            "digest_method": DIGEST_METHOD}
    message = queue_message(session, "checkpoint", data, identity, None, now)
    session.commit()
    return message


def official_message_ids(session: Session, cadre_code: str) -> list[str]:
    """Return the webhook ids of an official's score pushes, newest snapshot first.

    A score push's identity is code:period:scheme:version:previous>new document hash
    (publication.Publisher.message), so each snapshot names its message: the outbox needs
    no column of its own to list one official's pushes.
    """
    rows = session.execute(
        select(ScoreSnapshot.period, SurveyTemplate.key, SurveyTemplate.version,
               ScoreSnapshot.document_hash)
        .join(Cadre, ScoreSnapshot.cadre_id == Cadre.id)
        .join(SurveyTemplate, ScoreSnapshot.scheme_id == SurveyTemplate.id)
        .where(Cadre.code == cadre_code).order_by(ScoreSnapshot.id)).all()
    previous: dict[str, str] = {}  # a period's snapshots follow each other, whatever scheme
    ids = []
    for period, key, version, digest in rows:
        identity = f"{cadre_code}:{period}:{key}:{version}:{previous.get(period, '-')}>{digest}"
        ids.append(message_id("score.published", identity))
        previous[period] = digest
    return ids[::-1]


def official_messages(session: Session, cadre_code: str, limit: int = 200) -> list[dict[str, Any]]:
    """Return the delivery logs of an official's score pushes, newest first."""
    ids = official_message_ids(session, cadre_code)[:limit]
    if not ids:
        return []
    rows = {row.webhook_id: row
            for row in session.scalars(select(SM).where(SM.webhook_id.in_(ids)))}
    return [message_log(rows[i]) for i in ids if i in rows]
