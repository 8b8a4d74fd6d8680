"""Campaigns (民主测评): ballots, validation, rosters, slips, reminders, closing, coarse times."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from backend.cli.campaigns import campaigns_cli
from backend.errors import Conflict, Gone, ImportFileError, InvalidInput
from backend.models import (
    BallotTarget,
    Cadre,
    Campaign,
    CampaignRater,
    Delivery,
    Invitation,
    Rating,
    Unit,
)
from backend.services.campaigns import lifecycle as campaigns
from backend.services.campaigns import progress as campaign_progress
from backend.services.campaigns import roster as campaign_roster
from backend.services.campaigns.rules import AssignmentInput, CampaignInput, RaterInput
from backend.services.campaigns.slips import Slip, SlipSheet, font_path, qr_matrix, render_slips
from backend.services.invitations.deliveries import MessageSettings, Senders, relay_due
from backend.services.ratings import submission as ratings
from backend.services.ratings.rules import RatedTarget, Submission
from backend.wiring import sealer, token_codec, vault
from tests.conftest import missing
from tests.support.release import release_all
from workers.queues import job_queue

TZ = ZoneInfo("Asia/Shanghai")
TEAM = ("L1", "L2", "L3", "L4", "L5")
PHONES = {"S1": "13900000001", "B2": "13900000002"}


def team(session) -> list[Cadre]:
    """Create a township's five-person leadership team and one retired official."""
    unit = Unit(code="XZ100", name="城关镇人民政府", category="township")
    names = ("王建国", "李秀英", "张海燕", "刘志强", "陈丽娟")
    posts = ("党委书记", "镇长", "副镇长", "副镇长", "纪委书记")
    cadres = [Cadre(code=c, name=n, unit=unit, position=p)
              for c, n, p in zip(TEAM, names, posts, strict=True)]
    cadres.append(Cadre(code="X9", name="赵退休", unit=unit, position="原副镇长", active=False))
    session.add_all(cadres)
    session.commit()
    return cadres


def rater(code: str, group: str, targets=TEAM, phone: str | None = None) -> AssignmentInput:
    """Return one assignment."""
    return AssignmentInput(RaterInput(code, f"评价人{code}", phone), group, tuple(targets))


def seven_raters() -> list[AssignmentInput]:
    """A superior, three team members rating their peers, two staff and a deputy."""
    return [rater("S1", "superior", phone=PHONES["S1"]),
            rater("L1", "peer", TEAM[:3]), rater("L2", "peer", TEAM[:3]),
            rater("L3", "peer", TEAM[:3]),
            rater("B1", "subordinate"), rater("B2", "subordinate", phone=PHONES["B2"]),
            rater("D1", "representative")]


def context(app, now: datetime | None = None) -> campaigns.CampaignContext:
    """Build a campaign context at `now`."""
    return campaigns.CampaignContext(token_codec(app), vault(app), app.extensions["catalogue"],
                                     app.config["PUBLIC_BASE_URL"], TZ,
                                     now or datetime.now(UTC))


def campaign_input(assignments=None, **changes) -> CampaignInput:
    """Return a valid campaign of the current quarter closing in ten days."""
    data = CampaignInput("2026-Q4-XZ", "城关镇领导班子2026年第四季度民主测评",
                         "democratic_appraisal", "2026-Q4",
                         datetime.now(UTC) + timedelta(days=10),
                         seven_raters() if assignments is None else assignments)
    return replace(data, **changes)


def create(app, session, **changes):
    """Create the standard campaign; return it and its links by rater code."""
    team(session)
    campaign, links = campaigns.create_campaign(session, context(app), campaign_input(**changes))
    return campaign, {link.rater_code: link for link in links}


def submit(app, session, token: str, scores: dict, at: datetime | None = None) -> str:
    """Submit a ballot through the rating service at a given time."""
    ctx = ratings.SubmitContext(token_codec(app), sealer(app), TZ, at or datetime.now(UTC))
    rated = [RatedTarget(code, score, ("实绩突出",) if score and score >= 7 else ())
             for code, score in scores.items()]
    return ratings.submit(session, ctx, token, Submission(rated), ratings.ClientSignals())


def ballot_of(session, code: str) -> Invitation:
    """Return the invitation of a rater."""
    return session.scalar(select(Invitation).join(CampaignRater).where(CampaignRater.code == code))


def test_each_rater_gets_one_single_use_ballot_covering_their_targets(app, session):
    campaign, links = create(app, session)
    assert sorted(links) == ["B1", "B2", "D1", "L1", "L2", "L3", "S1"]
    ballot = ballot_of(session, "S1")
    assert (ballot.kind, ballot.campaign_id, ballot.cadre_id) == ("ballot", campaign.id, None)
    assert ballot.expires_at == campaign.closes_at
    assert links["S1"].url == f"https://ssp.example.cn/r/{links['S1'].token}"
    targets = session.scalars(select(BallotTarget).where(BallotTarget.invitation_id == ballot.id)
                              .order_by(BallotTarget.position)).all()
    assert [t.cadre.code for t in targets] == list(TEAM)
    assert {t.rater_group for t in targets} == {"superior"}
    stored = session.scalar(select(CampaignRater).where(CampaignRater.code == "S1"))
    assert PHONES["S1"] not in stored.phone_enc
    assert vault(app).decrypt(stored.phone_enc) == PHONES["S1"]


def test_a_peer_who_is_also_a_target_never_rates_themself(app, session):
    create(app, session)
    for code in ("L1", "L2", "L3"):
        ballot = ballot_of(session, code)
        covered = session.scalars(select(Cadre.code).join(BallotTarget)
                                  .where(BallotTarget.invitation_id == ballot.id)
                                  .order_by(BallotTarget.position)).all()
        assert code not in covered and len(covered) == 2
        assert set(covered) | {code} == set(TEAM[:3])


@pytest.mark.parametrize(("assignments", "index", "field", "words"), [
    ([rater("R1", "peer", ["L1", "NOPE"])], "0", "targets", "NOPE"),
    ([rater("R1", "peer", ["X9"])], "0", "targets", "停用"),
    ([rater("R1", "peer", ["L1", "L1"])], "0", "targets", "重复"),
    ([rater("R1", "colleague")], "0", "group", "colleague"),
    ([rater("R1", "peer"), rater("R1", "subordinate")], "1", "rater", "第 1 项"),
    ([rater("L1", "peer", ["L1"])], "0", "targets", "本人"),
    ([rater("R1", "peer", phone="12345")], "0", "rater", "手机号"),
])
def test_bad_assignments_are_refused_naming_the_item_and_field(app, session, assignments,
                                                               index, field, words):
    team(session)
    with pytest.raises(InvalidInput) as caught:
        campaigns.create_campaign(session, context(app), campaign_input(assignments))
    assert words in str(caught.value.errors["assignments"][index][field])
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


@pytest.mark.parametrize(("changes", "field"), [
    ({"closes_at": datetime.now(UTC) - timedelta(minutes=1)}, "closes_at"),
    ({"assignments": []}, "assignments"),
    ({"period": "2026-Q5"}, "period"),
    ({"template": "service_event"}, "template"),
])
def test_bad_campaigns_are_refused_naming_the_field(app, session, changes, field):
    team(session)
    with pytest.raises(InvalidInput) as caught:
        campaigns.create_campaign(session, context(app), campaign_input(**changes))
    assert field in caught.value.errors


def test_a_duplicate_campaign_code_is_a_conflict(app, session):
    create(app, session)
    with pytest.raises(Conflict):
        campaigns.create_campaign(session, context(app), campaign_input())


def test_representative_template_allows_only_representatives(app, session):
    team(session)
    data = campaign_input([rater("D1", "representative"), rater("B1", "subordinate")],
                          template="representative_review")
    with pytest.raises(InvalidInput) as caught:
        campaigns.create_campaign(session, context(app), data)
    assert list(caught.value.errors["assignments"]) == ["1"]


def test_ballot_times_are_their_batch_and_cannot_order_ballots(app, session):
    campaign, links = create(app, session)
    start = datetime.now(UTC)
    before = session.execute(select(Invitation.__table__).order_by(Invitation.id)).all()
    submit(app, session, links["S1"].token, dict.fromkeys(TEAM, 9), at=start)
    submit(app, session, links["B1"].token, dict.fromkeys(TEAM, 6), at=start + timedelta(hours=5))
    release_all()
    (hour,) = set(session.scalars(select(Rating.batch_at)))
    assert (hour.minute, hour.second, hour.microsecond) == (0, 0, 0)
    assert set(session.scalars(select(Rating.month))) == {
        campaigns.ballot_month(campaign, TZ)}
    assert session.execute(select(Invitation.__table__).order_by(Invitation.id)).all() == before


def test_ballot_month_is_the_closing_month_clamped_into_the_period(app, session):
    campaign, _ = create(app, session)
    assert campaigns.ballot_month(campaign, TZ) in ("2026-11", "2026-12")
    campaign.period = "2020"
    assert campaigns.ballot_month(campaign, TZ) == "2020-12"
    campaign.period = "2030-H1"
    assert campaigns.ballot_month(campaign, TZ) == "2030-01"


def test_extend_moves_the_expiry_of_every_ballot_answered_or_not(app, session):
    campaign, links = create(app, session)
    submit(app, session, links["S1"].token, dict.fromkeys(TEAM, 8))
    later = campaign.closes_at + timedelta(days=7)
    with pytest.raises(InvalidInput):
        campaigns.extend_campaign(session, campaign.code, campaign.closes_at, datetime.now(UTC))
    campaigns.extend_campaign(session, campaign.code, later, datetime.now(UTC))
    assert ballot_of(session, "B1").expires_at == later
    assert ballot_of(session, "S1").expires_at == later  # no mark on the answered one
    with pytest.raises(Conflict):
        submit(app, session, links["S1"].token, dict.fromkeys(TEAM, 8))


def test_closing_revokes_every_ballot_and_cancels_pending_reminders(app, session):
    campaign, links = create(app, session)
    submit(app, session, links["S1"].token, dict.fromkeys(TEAM, 8))
    later = datetime.now(UTC) + timedelta(days=2)
    assert send_reminders(app, session, later) == 1  # B2: S1 has answered
    _, unused = campaigns.close_campaign(session, sealer(app), campaign.code, datetime.now(UTC))
    assert unused == 6
    assert session.scalar(select(Delivery.status)) == "cancelled"
    revoked = session.scalars(select(Invitation.revoked_at)
                              .where(Invitation.campaign_id == campaign.id)).all()
    assert len(revoked) == 7 and None not in revoked  # the answered ballot too: no mark
    with pytest.raises(Gone):
        submit(app, session, links["B2"].token, dict.fromkeys(TEAM, 8))
    with pytest.raises(Conflict):
        campaigns.close_campaign(session, sealer(app), campaign.code, datetime.now(UTC))


def test_cancel_is_refused_once_a_ballot_is_in(app, session):
    campaign, links = create(app, session)
    submit(app, session, links["D1"].token, dict.fromkeys(TEAM, 7))
    with pytest.raises(Conflict):
        campaigns.cancel_campaign(session, sealer(app), campaign.code, datetime.now(UTC))
    other, _ = campaigns.create_campaign(session, context(app),
                                         campaign_input(code="2026-Q4-XZ-2"))
    _, revoked = campaigns.cancel_campaign(session, sealer(app), other.code, datetime.now(UTC))
    assert revoked == 7 and other.status == "cancelled"


def send_reminders(app, session, now: datetime) -> int:
    """Run a reminder round at `now`."""
    return campaign_progress.send_reminders(session, sealer(app), vault(app), now)


def after_close(session, code: str) -> tuple:
    """Return what closing left behind: status, closing time, each ballot and each reminder."""
    campaign = campaigns.find_campaign(session, code)
    ballots = session.execute(
        select(CampaignRater.code, Invitation.revoked_at, Invitation.expires_at)
        .join(Invitation, CampaignRater.invitation_id == Invitation.id)
        .where(CampaignRater.campaign_id == campaign.id)).all()
    reminders = session.execute(
        select(Delivery.status, Delivery.last_error, Delivery.invitation_id)
        .where(Delivery.campaign_id == campaign.id)).all()
    return campaign.status, campaign.closed_at, sorted(ballots), sorted(reminders)


def test_closing_on_time_does_exactly_what_a_manual_close_does(app, session):
    team(session)
    closes_at = datetime.now(UTC) + timedelta(days=10)
    for code in ("2026-Q4-M", "2026-Q4-A"):
        _, links = campaigns.create_campaign(session, context(app),
                                             campaign_input(code=code, closes_at=closes_at))
        submit(app, session, next(x.token for x in links if x.rater_code == "S1"),
               dict.fromkeys(TEAM, 8))
    assert send_reminders(app, session, datetime.now(UTC) + timedelta(days=2)) == 2
    at = closes_at + timedelta(minutes=3)
    _, revoked = campaigns.close_campaign(session, sealer(app), "2026-Q4-M", at)
    assert campaigns.close_overdue(session, sealer(app), at) == {"2026-Q4-A": revoked} == {
        "2026-Q4-A": 6}
    assert after_close(session, "2026-Q4-A") == after_close(session, "2026-Q4-M")
    status, closed_at, ballots, reminders = after_close(session, "2026-Q4-A")
    assert (status, closed_at) == ("closed", at)
    assert reminders == [("cancelled", "测评已关闭", None)]  # the reminder names no ballot
    assert [b[1] for b in ballots].count(at) == 7  # every ballot revoked, S1's too
    assert campaigns.close_overdue(session, sealer(app), at + timedelta(minutes=5)) == {}
    assert send_reminders(app, session, at + timedelta(days=2)) == 0


def test_only_open_campaigns_past_their_closing_time_are_closed_on_time(app, session):
    team(session)
    start = datetime.now(UTC)
    made = {code: campaigns.create_campaign(session, context(app), campaign_input(
        code=code, closes_at=start + timedelta(days=days)))[0]
        for code, days in (("DUE", 1), ("EXTENDED", 1), ("LATER", 10), ("CANCELLED", 1))}
    campaigns.extend_campaign(session, "EXTENDED", start + timedelta(days=5), start)
    campaigns.cancel_campaign(session, sealer(app), "CANCELLED", start)
    at = start + timedelta(days=2)
    assert campaigns.close_overdue(session, sealer(app), at) == {"DUE": 7}
    assert campaigns.close_if_overdue(session, sealer(app), made["EXTENDED"].id, at) is None
    statuses = dict(session.execute(select(Campaign.code, Campaign.status)).all())
    assert statuses == {"DUE": "closed", "EXTENDED": "open", "LATER": "open",
                        "CANCELLED": "cancelled"}
    assert made["CANCELLED"].closed_at == start
    assert campaigns.close_overdue(session, sealer(app), at) == {}
    assert campaigns.close_overdue(session, sealer(app), start + timedelta(days=5)) == {
        "EXTENDED": 7}


def test_on_time_close_job_runs_every_five_minutes_in_embedded_mode(app, session, caplog):
    from workers.cron import tick
    from workers.jobs import resolve
    from workers.schedule import PERIODIC_JOBS

    job = next(j for j in PERIODIC_JOBS if j.name == "campaign-auto-close")
    assert job.interval == timedelta(minutes=5) and callable(resolve(job.func))
    campaign, _ = create(app, session)
    campaign.closes_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()
    caplog.set_level("INFO", logger="workers.jobs.campaigns")
    assert len(tick(app, datetime.now(UTC), [job])) == 1
    queue = job_queue(app)
    assert queue.run_due() == 1 and queue.failures == []
    session.refresh(campaign)
    assert campaign.status == "closed" and ballot_of(session, "B1").revoked_at is not None
    assert "campaigns closed on time: 1" in caplog.text
    assert "system:auto-close" in caplog.text


class RecordingSms:
    """An SMS sender that records what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, phone: str, content: str, ref: str) -> str:
        self.sent.append((phone, content))
        return f"m-{len(self.sent)}"


def test_reminders_go_to_non_responders_at_most_n_times_through_the_outbox(app, session):
    campaign, links = create(app, session, max_reminders=2)
    submit(app, session, links["S1"].token, dict.fromkeys(TEAM, 8))
    start = campaign.created_at
    assert send_reminders(app, session, start + timedelta(hours=1)) == 0
    assert send_reminders(app, session, start + timedelta(hours=25)) == 1
    sms = RecordingSms()
    senders = Senders(token_codec(app), vault(app),
                      MessageSettings("https://ssp.example.cn"), sms=sms, sealer=sealer(app))
    relay_due(session, senders, start + timedelta(hours=25))
    assert send_reminders(app, session, start + timedelta(hours=30)) == 0
    assert send_reminders(app, session, start + timedelta(hours=50)) == 1
    relay_due(session, senders, start + timedelta(hours=50))
    assert send_reminders(app, session, start + timedelta(hours=100)) == 0
    assert [phone for phone, _ in sms.sent] == [PHONES["B2"], PHONES["B2"]]
    assert "民主测评" in sms.sent[0][1] and links["B2"].url in sms.sent[0][1]
    session.refresh(campaign)
    assert campaign.reminders_sent == 2
    stored = session.scalars(select(Delivery)).all()
    rater = session.scalar(select(CampaignRater).where(CampaignRater.code == "B2"))
    for row in stored:  # the outbox names neither the rater nor the ballot
        assert row.invitation_id is None and row.campaign_id == campaign.id
        assert row.contact_enc != rater.phone_enc and PHONES["B2"] not in row.contact_enc
        assert "/r/" not in (row.message or "")


def test_a_reminder_whose_ballot_was_answered_meanwhile_is_cancelled(app, session):
    campaign, links = create(app, session)
    start = campaign.created_at
    assert send_reminders(app, session, start + timedelta(hours=25)) == 2  # S1 and B2
    submit(app, session, links["B2"].token, dict.fromkeys(TEAM, 8))
    sms = RecordingSms()
    senders = Senders(token_codec(app), vault(app),
                      MessageSettings("https://ssp.example.cn"), sms=sms, sealer=sealer(app))
    relay_due(session, senders, start + timedelta(hours=25))
    assert [phone for phone, _ in sms.sent] == [PHONES["S1"]]
    statuses = sorted(session.scalars(select(Delivery.last_error)), key=str)
    assert statuses == [None, "测评票已提交，不再提醒"]


def test_progress_counts_groups_and_hides_small_groups_series(app, session):
    campaign, links = create(app, session)
    for code in ("S1", "L1", "L2", "B1"):
        targets = [t for t in (TEAM if code[0] in "SB" else TEAM[:3]) if t != code]
        submit(app, session, links[code].token, dict.fromkeys(targets, 8))
    assert campaign_progress.campaign_progress(session, campaign, TZ)["responded"] == 0
    release_all()  # turnout is counted a batch at a time
    progress = campaign_progress.campaign_progress(session, campaign, TZ)
    assert (progress["invited"], progress["responded"]) == (7, 4)
    groups = progress["groups"]
    assert groups["peer"]["status"] == "collecting" and groups["peer"]["responded"] == 2
    assert groups["peer"]["by_day"][-1]["cumulative"] == 2
    assert groups["subordinate"] == {"status": "insufficient", "invited": 2, "responded": 1,
                                     "min_n": 3}
    assert groups["superior"]["status"] == "ok" and groups["superior"]["rate"] == 1.0
    waiting = campaign_progress.non_responders(session, sealer(app), campaign)
    assert [w["rater_code"] for w in waiting] == ["L3", "D1", "B2"]
    assert all(set(w) == {"rater_code", "name", "group"} for w in waiting)


ROSTER = ("评价人编码,姓名,手机号,群体,评价对象\n"
          "R1,周一,13900000011,上级,L1、L2、L3、L4、L5\n"
          "R2,吴二,,同级,\"L1,L2\"\n"
          "R3,郑三,12345,下级,L1 L9\n"
          "R4,孙四,,外星人,L1\n"
          "R1,周一,,上级,L1\n")


def roster_campaign(app, session):
    """Create a campaign with one rater to which rosters are added."""
    team(session)
    campaign, _ = campaigns.create_campaign(session, context(app),
                                            campaign_input([rater("S1", "superior")]))
    return campaign


def test_roster_with_errors_changes_nothing_and_names_each_row(app, session):
    campaign = roster_campaign(app, session)
    result = campaign_roster.import_roster(session, context(app), campaign.code,
                                           ROSTER.encode("utf-8-sig"), "名单.csv")
    found = {(e.row, e.column) for e in result.report.errors}
    assert found == {(4, "phone"), (4, "targets"), (5, "group"), (6, "code")}
    assert "第 2 行" in next(e.reason for e in result.report.errors if e.row == 6)
    assert not result.report.applied
    assert session.scalar(select(func.count()).select_from(CampaignRater)) == 1


def test_roster_can_skip_invalid_rows_and_dry_run_writes_nothing(app, session):
    campaign = roster_campaign(app, session)
    data = ROSTER.encode("gb18030")
    dry = campaign_roster.import_roster(session, context(app), campaign.code, data, "a.csv",
                                        dry_run=True)
    assert not dry.report.applied and dry.report.total == 5
    result = campaign_roster.import_roster(session, context(app), campaign.code, data, "a.csv",
                                           skip_invalid=True)
    assert result.report.applied and result.report.created == 2
    assert sorted(link.rater_code for link in result.ballots) == ["R1", "R2"]
    r2 = ballot_of(session, "R2")
    assert session.scalar(select(func.count()).select_from(BallotTarget)
                          .where(BallotTarget.invitation_id == r2.id)) == 2


def test_roster_xlsx_with_numeric_phones_imports(app, session):
    campaign = roster_campaign(app, session)
    book = Workbook()
    sheet = book.active
    sheet.append(["rater_code", "name", "phone", "group", "targets"])
    sheet.append(["R7", "钱七", 13900000077, "subordinate", "L1;L2"])
    out = io.BytesIO()
    book.save(out)
    result = campaign_roster.import_roster(session, context(app), campaign.code,
                                           out.getvalue(), "roster.xlsx")
    assert result.report.applied, result.report.errors
    stored = session.scalar(select(CampaignRater).where(CampaignRater.code == "R7"))
    assert vault(app).decrypt(stored.phone_enc) == "13900000077"


@pytest.mark.parametrize("text", ["", "评价人编码,姓名,群体,评价对象\n"])
def test_an_empty_roster_is_refused(app, session, text):
    campaign = roster_campaign(app, session)
    with pytest.raises(ImportFileError):
        campaign_roster.import_roster(session, context(app), campaign.code, text.encode(),
                                      "empty.csv")


def test_cli_runs_a_campaign_from_roster_to_slips_and_close(app, session, tmp_path):
    team(session)
    roster = tmp_path / "名单.csv"
    roster.write_text("rater_code,name,phone,group,targets\nS1,周上级,,上级,L1 L2 L3\n"
                      "L1,王建国,,同级,L1 L2 L3\n", encoding="utf-8-sig")
    runner = app.test_cli_runner()
    closes = (datetime.now(TZ) + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    made = runner.invoke(campaigns_cli, ["create", "CLI-1", "--name", "测试测评", "--period",
                                         "2026-Q4", "--closes-at", closes, "--roster",
                                         str(roster)])
    assert made.exit_code == 0, made.output
    assert "2 张测评票" in made.output
    extra = tmp_path / "more.csv"
    extra.write_text("评价人编码,姓名,群体,评价对象\nB1,职工甲,下级,L1\nB1,职工乙,下级,L2\n",
                     encoding="utf-8")
    refused = runner.invoke(campaigns_cli, ["import-roster", "CLI-1", str(extra)])
    assert refused.exit_code == 1 and "第 3 行，列 code" in refused.output
    pdf = tmp_path / "slips.pdf"
    printed = runner.invoke(campaigns_cli, ["slips", "CLI-1", "--out", str(pdf)])
    assert printed.exit_code == 0, printed.output
    assert pdf.read_bytes().startswith(b"%PDF")
    shown = runner.invoke(campaigns_cli, ["show", "CLI-1"])
    assert "0/2" in shown.output
    closed = runner.invoke(campaigns_cli, ["close", "CLI-1"])
    assert closed.exit_code == 0 and "2 张" in closed.output


def test_cli_dry_runs_exit_1_on_any_bad_row_and_0_on_a_good_roster(app, session, tmp_path):
    team(session)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("rater_code,name,group,targets\nS1,周上级,上级,L1 L2\n", encoding="utf-8")
    bad.write_text("rater_code,name,group,targets\nS1,周上级,上级,L1 L2\nS2,吴二,外星人,L1\n",
                   encoding="utf-8")
    runner = app.test_cli_runner()
    closes = (datetime.now(TZ) + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    base = ["create", "DRY-1", "--name", "试运行测评", "--period", "2026-Q4",
            "--closes-at", closes, "--dry-run", "--roster"]
    checked = runner.invoke(campaigns_cli, [*base, str(good)])
    assert checked.exit_code == 0 and "试运行" in checked.output, checked.output
    refused = runner.invoke(campaigns_cli, [*base, str(bad)])
    assert refused.exit_code == 1 and "第 3 行，列 group" in refused.output
    made = runner.invoke(campaigns_cli, [*base[:-2], "--roster", str(good)])
    assert made.exit_code == 0, made.output
    extra = runner.invoke(campaigns_cli, ["import-roster", "DRY-1", "--dry-run", str(bad)])
    assert extra.exit_code == 1 and "第 3 行，列 group" in extra.output
    assert session.scalar(select(func.count()).select_from(CampaignRater)) == 1


@pytest.mark.parametrize("command", ["create", "import-roster"])
def test_roster_commands_list_the_roster_columns_in_their_help(app, command):
    shown = app.test_cli_runner().invoke(campaigns_cli, [command, "--help"]).output
    for aliases in campaign_roster.COLUMNS.values():
        assert all(alias in shown for alias in aliases)
    assert "上级" in shown and "docs/roster.md" in shown


def test_slips_embed_a_cjk_truetype_font_and_print_one_slip_per_rater():
    slips = [Slip(f"R{n}", "同级", f"https://ssp.example.cn/r/{'x' * 20}.{n:08d}")
             for n in range(9)]
    pdf = render_slips(SlipSheet("城关镇民主测评", "2026年12月31日 18:00"), slips, font_path())
    assert b"/FontFile2" in pdf and b"WenQuanYiMicroHei" in pdf  # embedded TrueType subset
    assert b"/Helvetica" not in pdf
    assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) == 2  # eight slips to a page


def test_slips_name_no_rater_beside_the_anonymity_promise_and_keep_the_code_on_the_stub(
        tmp_path):
    if shutil.which("pdftotext") is None:
        missing("poppler-utils", "pdftotext reads the slips' text back")
    slips = [Slip(f"R{n:02d}", "同级", f"https://ssp.example.cn/r/{'x' * 20}.{n:08d}")
             for n in range(3)]
    pdf = tmp_path / "slips.pdf"
    pdf.write_bytes(render_slips(SlipSheet("城关镇民主测评", "2026年12月31日"), slips,
                                 font_path()))
    subprocess.run(["pdftotext", "-layout", str(pdf), str(tmp_path / "slips.txt")], check=True)
    lines = (tmp_path / "slips.txt").read_text().splitlines()
    assert any("测评不记名" in line for line in lines)
    stubs = [line for line in lines if "评价人编码" in line]
    assert stubs and all("存根" in line for line in stubs)
    assert {c for line in stubs for c in re.findall(r"评价人编码 (R\d\d)", line)} == \
        {"R00", "R01", "R02"}
    assert not any("不记名" in line and "评价人编码" in line for line in lines)
    assert "评价人：" not in "\n".join(lines)


def test_printed_qr_code_decodes_to_the_short_link(tmp_path):
    if shutil.which("pdftoppm") is None:
        missing("poppler-utils", "pdftoppm renders the PDF for the QR decoder")
    from PIL import Image
    from pyzbar.pyzbar import decode

    url = "https://ssp.example.cn/r/AbCdEfGhIjKlMnOpQrSt.12345678"
    pdf = tmp_path / "one.pdf"
    pdf.write_bytes(render_slips(SlipSheet("测评", "2026年12月31日"),
                                 [Slip("R1", "上级", url)], font_path()))
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf),
                    str(tmp_path / "page")], check=True)
    decoded = {d.data.decode() for d in decode(Image.open(tmp_path / "page.png"))}
    assert decoded == {url}
    assert len(qr_matrix(url)) <= 37  # version 5 at most: easy to scan from paper


def test_hourly_reminder_job_texts_only_in_daytime_and_relays_at_once(app, session):
    from workers.jobs import resolve
    from workers.jobs.campaigns import queue_reminders, within_hours
    from workers.schedule import PERIODIC_JOBS

    job = next(j for j in PERIODIC_JOBS if j.name == "campaign-reminders")
    assert job.interval == timedelta(hours=1) and callable(resolve(job.func))
    assert within_hours(datetime(2026, 11, 21, 2, tzinfo=UTC))  # 10:00 in Shanghai
    assert not within_hours(datetime(2026, 11, 21, 15, tzinfo=UTC))  # 23:00
    campaign, _ = create(app, session)
    campaign.created_at -= timedelta(days=2)
    session.commit()
    assert queue_reminders(any_hour=True) == 2  # S1 and B2 have phones
    assert job_queue(app).run_due() == 1  # the relay, woken at once
    assert set(session.scalars(select(Delivery.status))) == {"recorded"}  # no gateway set
