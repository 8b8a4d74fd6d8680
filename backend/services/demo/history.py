"""Carry a demo county's plan out through the real services, on a simulated clock.

Every service that stamps a time takes it as a parameter (IngestContext.now, SubmitContext.now,
the `now` of the relay, the ledger, publication, detection and alert checks). The timeline
calls them in time order with the simulated time, the way the web process and the periodic
jobs would have over six months: events arrive twice a day, the relay sends their messages a
minute later, recipients open and rate, pending ratings are released in batches twice a day
(and before detection and publication), the ledger is closed every night, months and quarters
are published on the first night after they end; every afternoon the cases are worked
(services/demo/casework.py). Nothing is inserted behind the services'
back and nothing is rewritten afterwards.
"""

from __future__ import annotations

import heapq
import itertools
import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from backend.scoring.periods import current_period, parse_period, shift_month
from backend.services.campaigns.lifecycle import CampaignContext, create_campaign
from backend.services.campaigns.progress import send_reminders
from backend.services.campaigns.rules import AssignmentInput, CampaignInput, RaterInput
from backend.services.cases import open_for_flagged_alerts
from backend.services.demo.campaign import TEMPLATE, PlannedBallot, PlannedCampaign
from backend.services.demo.casework import work_cases
from backend.services.demo.county import CountyPlan, DemoContext, report_time
from backend.services.demo.plan import PlannedEvent
from backend.services.fraud import detect
from backend.services.fraud.stamps import StampCodec
from backend.services.invitations.deliveries import MessageSettings, Senders, relay_due
from backend.services.invitations.delivery_checks import check_deadlines, purge_contacts
from backend.services.invitations.events import EventInput, IngestContext, Result
from backend.services.invitations.ingestion import ingest_events
from backend.services.ledger.chain import anchor, checkpoint_days, latest_checkpoint
from backend.services.outbox.push import queue_messages
from backend.services.privacy import retention
from backend.services.ratings import opens
from backend.services.ratings import submission as ratings
from backend.services.ratings.release import ReleaseContext, release
from backend.services.ratings.rules import RatedTarget, Submission
from backend.services.scores.publication import publish_period
from backend.services.scores.schemes import scheme_book

FIRST_PUBLISHED = 3  # months of history before the first publication: enough for 30 ratings
SIGNAL_DAYS, FOLLOWUP_DAYS = 90, 180  # the retention job's defaults


class Timeline:
    """Actions at simulated times, run in time order (ties in the order they were added)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Callable[[datetime], None]]] = []
        self._seq = itertools.count()

    def at(self, when: datetime, action: Callable[[datetime], None]) -> None:
        """Schedule an action; it receives its time."""
        heapq.heappush(self._heap, (when, next(self._seq), action))

    def run(self, until: datetime) -> None:
        """Run every action due by `until`, including those the actions schedule."""
        while self._heap and self._heap[0][0] <= until:
            when, _, action = heapq.heappop(self._heap)
            action(when)


class History:
    """Runs a county plan through the services; `stats` counts what happened."""

    def __init__(self, session: Session, ctx: DemoContext, plan: CountyPlan) -> None:
        self.session, self.ctx, self.plan = session, ctx, plan
        self.timeline = Timeline()
        self.senders = Senders(codec=ctx.codec, vault=ctx.vault,
                               settings=MessageSettings(ctx.base_url, timezone=ctx.tz),
                               sealer=ctx.sealer)
        self.templates: dict = {}
        self.relays: set[datetime] = set()
        self.ballots: dict[str, str] = {}
        self.stats: Counter[str] = Counter()
        self.published: list[str] = []
        # The simulated raters open their pages through this codec: their stamps say when.
        self.stamps = StampCodec([secrets.token_hex(16)])

    def run(self) -> None:
        """Schedule the whole plan and run it up to now, then do what is due now."""
        self.schedule_events(self.plan.events)
        self.timeline.at(self.plan.burst_at, lambda t: self.ingest(t, self.plan.burst))
        self.timeline.at(self.plan.burst_at + timedelta(hours=1), self.detect_fraud)
        self.schedule_campaign(self.plan.campaign)
        self.schedule_days()
        self.schedule_publications()
        self.timeline.run(self.ctx.now)
        self.finish(self.ctx.now)

    def local(self, day: date, at: time) -> datetime:
        """Return a local time of a day."""
        return datetime.combine(day, at, self.ctx.tz)

    def days(self) -> Iterable[date]:
        """Yield the local days of the history."""
        today = self.ctx.now.astimezone(self.ctx.tz).date()
        for offset in range((today - self.plan.start).days + 1):
            yield self.plan.start + timedelta(days=offset)

    def schedule_events(self, events: Sequence[PlannedEvent]) -> None:
        """Group events into the business system's reports."""
        batches: dict[datetime, list[PlannedEvent]] = {}
        for event in events:
            batches.setdefault(report_time(event, self.ctx.tz), []).append(event)
        for when, batch in batches.items():
            self.timeline.at(when, lambda t, b=batch: self.ingest(t, b))

    def schedule_days(self) -> None:
        """Schedule the daily jobs: deadlines, purges, releases and checkpoints."""
        for day in self.days():
            self.timeline.at(self.local(day, time(0, 10)), self.close_ledger_days)
            self.timeline.at(self.local(day, time(3, 30)), self.purge)
            self.timeline.at(self.local(day, time(12, 30)), self.release)
            self.timeline.at(self.local(day, time(14)), self.check_deadlines)
            self.timeline.at(self.local(day, time(16)), self.work_cases)
            self.timeline.at(self.local(day, time(23, 55)), self.release)

    def schedule_publications(self) -> None:
        """Publish each finished month (and quarter) on the first night after it."""
        first = shift_month(self.plan.start.strftime("%Y-%m"), FIRST_PUBLISHED)
        current = current_period("month", self.ctx.now, self.ctx.tz)
        month = first
        while month < current:
            night = self.local(date.fromisoformat(shift_month(month, 1) + "-01"), time(1, 30))
            self.timeline.at(night, lambda t, m=month: self.publish(t, m))
            quarter = current_period("quarter", self.local(date.fromisoformat(month + "-01"),
                                                            time(12)), self.ctx.tz)
            if parse_period(quarter).months[-1] == month:
                self.timeline.at(night + timedelta(minutes=1),
                                 lambda t, q=quarter: self.publish(t, q))
            month = shift_month(month, 1)

    def ingest(self, when: datetime, events: Sequence[PlannedEvent]) -> None:
        """Report events as the business system does, then follow each recipient."""
        ctx = IngestContext(codec=self.ctx.codec, vault=self.ctx.vault,
                            catalogue=self.ctx.catalogue, base_url=self.ctx.base_url,
                            tz=self.ctx.tz, now=when, sealer=self.ctx.sealer,
                            templates=self.templates)
        outcomes, to_send = ingest_events(self.session, ctx, [event_input(e) for e in events])
        for event, outcome in zip(events, outcomes, strict=True):
            if outcome.result is not Result.CREATED:
                raise RuntimeError(f"演示事件 {event.external_id} 未能写入：{outcome.errors}")
            self.stats["events"] += 1
            if not outcome.body["throttled"]:
                self.follow(when, event, outcome.body["invitation"]["token"])
        if to_send:
            self.schedule_relay(when + timedelta(minutes=1))

    def follow(self, start: datetime, event: PlannedEvent, token: str) -> None:
        """Schedule what the recipient does with the invitation: rate, or only open it."""
        if event.rating is not None:
            self.timeline.at(start + event.rating.delay, lambda t: self.rate(t, event, token))
        elif event.opened_after is not None:
            self.timeline.at(start + event.opened_after, lambda t: self.open(t, token))

    def schedule_relay(self, when: datetime) -> None:
        """Schedule a relay run (once per time)."""
        if when not in self.relays:
            self.relays.add(when)
            self.timeline.at(when, self.relay)

    def relay(self, when: datetime) -> None:
        """Relay every due delivery (no gateway is configured: messages are recorded)."""
        while relay_due(self.session, self.senders, when, batch_size=1000).more:
            pass

    def submit_context(self, when: datetime) -> ratings.SubmitContext:
        """Return the submission context at a simulated time."""
        return ratings.SubmitContext(codec=self.ctx.codec, sealer=self.ctx.sealer,
                                     tz=self.ctx.tz, now=when, stamps=self.stamps)

    def stamp(self, token: str, opened: datetime) -> str:
        """Return the opening stamp a rater's page got when it was opened."""
        return self.stamps.issue(self.ctx.codec.verify(token) or "", opened)

    def rate(self, when: datetime, event: PlannedEvent, token: str) -> None:
        """Submit an event's rating as the recipient's phone would."""
        planned, signals = event.rating, event.rating.signals
        openid_hash = (self.ctx.vault.lookup_hash("openid", event.openid)
                       if event.openid and "wechat" in event.channels else None)
        opened = when - timedelta(seconds=signals.seconds_on_page)
        client = ratings.ClientSignals(ip=signals.ip, agent=signals.agent,
                                       openid_hash=openid_hash,
                                       stamp=self.stamp(token, opened))
        submission = Submission([RatedTarget(None, planned.score, planned.tags)],
                                comment=planned.comment, followup_phone=planned.followup_phone)
        ratings.submit(self.session, self.submit_context(when), token, submission, client)
        self.stats["ratings"] += 1

    def open(self, when: datetime, token: str) -> None:
        """Open the rating page without rating (the page's script records the opening)."""
        invitation = ratings.lookup(self.session, self.submit_context(when), token)
        opens.note_open(self.session, self.ctx.sealer, invitation, when, self.ctx.tz)

    def schedule_campaign(self, campaign: PlannedCampaign) -> None:
        """Schedule the campaign: its creation, two rounds of reminders, the answers."""
        self.timeline.at(campaign.created_at, lambda t: self.create_campaign(t, campaign))
        for days in (2, 5):
            day = campaign.created_at.astimezone(self.ctx.tz).date() + timedelta(days=days)
            self.timeline.at(self.local(day, time(10)), self.remind)
        for ballot in campaign.ballots:
            if ballot.answer_after is not None:
                self.timeline.at(campaign.created_at + ballot.answer_after,
                                 lambda t, b=ballot: self.answer(t, b))

    def create_campaign(self, when: datetime, campaign: PlannedCampaign) -> None:
        """Create the campaign with one ballot per rater."""
        ctx = CampaignContext(codec=self.ctx.codec, vault=self.ctx.vault,
                              catalogue=self.ctx.catalogue, base_url=self.ctx.base_url,
                              tz=self.ctx.tz, now=when)
        assignments = [AssignmentInput(RaterInput(b.code, b.name, b.phone), b.group, b.targets)
                       for b in campaign.ballots]
        _, links = create_campaign(self.session, ctx, CampaignInput(
            campaign.code, campaign.name, TEMPLATE, campaign.period, campaign.closes_at,
            assignments))
        self.ballots = {link.rater_code: link.token for link in links}

    def remind(self, when: datetime) -> None:
        """Queue SMS reminders to raters who have not answered, then relay them."""
        if send_reminders(self.session, self.ctx.sealer, self.ctx.vault, when,
                          timedelta(hours=24)):
            self.schedule_relay(when + timedelta(minutes=1))

    def answer(self, when: datetime, ballot: PlannedBallot) -> None:
        """Submit a rater's ballot."""
        submission = Submission([RatedTarget(code, score, tags)
                                 for code, score, tags in ballot.answers])
        ratings.submit(self.session, self.submit_context(when), self.ballots[ballot.code],
                       submission, ratings.ClientSignals(
                           stamp=self.stamp(self.ballots[ballot.code],
                                            when - timedelta(seconds=240))))
        self.stats["ballots"] += 1

    def release(self, when: datetime) -> None:
        """Release the pending ratings as one batch (the release job, whatever its size)."""
        ctx = ReleaseContext(self.ctx.sealer, self.ctx.vault, self.ctx.tz, when, batch_min=1,
                             run_min=self.ctx.fraud.run_min, case_rules=self.ctx.case_rules)
        release(self.session, ctx, force=True)

    def work_cases(self, when: datetime) -> None:
        """Unit admins and the organisation department work the cases (the afternoon's work)."""
        work_cases(self.session, when, self.ctx.case_rules, self.ctx.tz)

    def close_ledger_days(self, when: datetime) -> None:
        """Give every finished day its Merkle checkpoint (the nightly job)."""
        checkpoint_days(self.session, when, self.ctx.tz)

    def check_deadlines(self, when: datetime) -> None:
        """Raise alerts for invitations not delivered within 24 hours."""
        check_deadlines(self.session, when, self.ctx.tz)

    def purge(self, when: datetime) -> None:
        """Erase personal data and signals past their retention (the nightly jobs)."""
        purge_contacts(self.session, when, self.ctx.retention_days)
        retention.purge(self.session, when, SIGNAL_DAYS, FOLLOWUP_DAYS, self.ctx.retention_days)

    def detect_fraud(self, when: datetime) -> None:
        """Release what waits, then run the fraud detectors."""
        self.release(when)
        detect(self.session, when, self.ctx.tz, self.ctx.fraud)

    def publish(self, when: datetime, period: str) -> None:
        """Publish a period as `scores publish` does: snapshots, alerts, queued pushes."""
        self.release(when)
        book = scheme_book(self.session, self.ctx.catalogue)
        publish_period(self.session, period, book, when, self.ctx.tz, queue_messages,
                       checkpoint=anchor(latest_checkpoint(self.session)))
        open_for_flagged_alerts(self.session, self.ctx.case_rules, self.ctx.tz, when)
        self.session.commit()
        self.published.append(period)

    def finish(self, now: datetime) -> None:
        """Do what the jobs would have done by now, and publish the current periods."""
        self.relay(now)
        self.release(now)
        self.close_ledger_days(now)
        self.check_deadlines(now)
        self.detect_fraud(now)
        for kind in ("month", "quarter"):
            self.publish(now, current_period(kind, now, self.ctx.tz))


def event_input(event: PlannedEvent) -> EventInput:
    """Return the ingestion input of a planned event."""
    return EventInput(source=event.source, external_id=event.external_id,
                      cadre_code=event.cadre_code, event_type=event.event_type,
                      occurred_at=event.occurred_at, phone=event.phone, openid=event.openid,
                      channels=event.channels)
