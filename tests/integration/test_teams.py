"""Leadership teams (领导班子) rated as a whole in campaigns: from the roster to the push.

A team is named in a campaign as team:<unit code> (or 班子:<unit code>, or its code
T-<unit code>); its score is computed like an official's, published with target_kind "team"
and its unit's code, and pushed. Teams are never counted as officials, and service events
cannot rate them. Expected numbers are recomputed here in exact arithmetic.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.errors import InvalidInput
from backend.extensions import db
from backend.integrations.assessment_core import WebhookSender
from backend.models import Alert, BallotTarget, Cadre, Unit
from backend.scoring import current_period
from backend.services.campaigns import lifecycle as campaigns
from backend.services.campaigns import roster as campaign_roster
from backend.services.campaigns.rules import AssignmentInput, CampaignInput, RaterInput
from backend.services.directory import management
from backend.services.directory.teams import resolve_targets, store_new_teams
from backend.services.outbox import push
from backend.services.reports.activity import low_sample_count
from backend.services.reports.common import Scope
from backend.services.reports.units import unit_report
from backend.services.scores.publication import publish_period
from backend.services.scores.schemes import scheme_book
from backend.wiring import report_settings
from tests.fakes import FakeAssessmentCore
from tests.integration.test_campaigns import context, submit
from tests.support.release import release_all

TZ = ZoneInfo("Asia/Shanghai")
# What each group of raters gives the township's leadership team (one rater per score).
TEAM_SCORES = {"superior": [9], "peer": [7, 8, 9], "subordinate": [6, 8, 9, 10],
               "representative": [8, 8, 10]}
WEIGHTS = {"superior": 15, "peer": 15, "subordinate": 15, "representative": 20}
TAG = "实绩突出"  # submit() tags every score of 7 or more with it


def township(session) -> Unit:
    """Create 城关镇 with two officials, and 河西镇 with one (no team named yet)."""
    town = Unit(code="XZ100", name="城关镇", category="township")
    other = Unit(code="XZ200", name="河西镇", category="township")
    session.add_all([
        town, other,
        Cadre(code="G1", name="王建国", unit=town, position="党委书记", level="principal"),
        Cadre(code="G2", name="李秀英", unit=town, position="镇长", level="principal"),
        Cadre(code="H1", name="张海燕", unit=other, position="党委书记", level="principal")])
    session.commit()
    return town


def rater(code: str, group: str, *targets: str) -> AssignmentInput:
    """Return one assignment."""
    return AssignmentInput(RaterInput(code, f"评价人{code}"), group, targets)


def campaign_of(assignments, code: str = "2026-Q4-BZ") -> CampaignInput:
    """Return a campaign of the current quarter closing in ten days."""
    return CampaignInput(code, "城关镇领导班子和班子成员民主测评", "democratic_appraisal",
                         current_period("quarter", datetime.now(UTC), TZ),
                         datetime.now(UTC) + timedelta(days=10), assignments)


def team_roster() -> list[AssignmentInput]:
    """One rater per score of TEAM_SCORES; each rates the team (three spellings) and G1."""
    spellings = ("team:XZ100", "班子:XZ100", "T-XZ100")
    return [rater(f"R{group[:3]}{n}", group, spellings[n % 3], "G1")
            for group, scores in TEAM_SCORES.items() for n in range(len(scores))]


def run_team_campaign(app, session) -> dict[str, str]:
    """Create the campaign, submit every ballot with TEAM_SCORES (G1 gets 8), release."""
    township(session)
    roster = team_roster()
    _, links = campaigns.create_campaign(session, context(app), campaign_of(roster))
    tokens = {link.rater_code: link.token for link in links}
    for assignment in roster:
        group, n = assignment.group, int(assignment.rater.code[-1])
        submit(app, session, tokens[assignment.rater.code],
               {"T-XZ100": TEAM_SCORES[group][n], "G1": 8})
    release_all()
    return tokens


def expected_composite() -> Decimal:
    """The composite of TEAM_SCORES by SCORING.md: no trimming at these sizes (k = 0)."""
    means = {g: Fraction(sum(s), len(s)) for g, s in TEAM_SCORES.items()}
    total = sum(WEIGHTS[g] * means[g] for g in means) / sum(WEIGHTS.values())
    exact = Decimal(total.numerator) / Decimal(total.denominator) * 10
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def publish(session, queue) -> object:
    """Publish the current month with the configured schemes through `queue`."""
    book = scheme_book(session, current_app.extensions["catalogue"])
    now = datetime.now(UTC)
    return publish_period(session, current_period("month", now, TZ), book, now, TZ, queue)


def test_a_team_named_three_ways_is_one_target_created_once(app, session):
    run_team_campaign(app, session)
    (team,) = session.scalars(select(Cadre).where(Cadre.kind == "team"))
    assert (team.code, team.name, team.position, team.level) == (
        "T-XZ100", "城关镇领导班子", "领导班子", None)
    assert team.unit.code == "XZ100" and team.active
    assert session.scalar(select(func.count()).select_from(BallotTarget)
                          .where(BallotTarget.cadre_id == team.id)) == 11
    # A second campaign naming the team again rates the same row.
    campaigns.create_campaign(session, context(app), campaign_of(
        [rater("X1", "superior", "班子：XZ100")], code="2026-Q4-BZ2"))
    assert session.scalar(select(func.count()).select_from(Cadre)
                          .where(Cadre.kind == "team")) == 1


def test_the_team_score_is_published_and_pushed_as_a_team(app, session):
    run_team_campaign(app, session)
    with FakeAssessmentCore() as core, WebhookSender(core.webhook_url, [core.secret],
                                                     timeout=2.0) as sender:
        report = publish(session, push.queue_messages)
        assert push.relay_due(session, sender, datetime.now(UTC)).claimed >= 4
        pushed = {d.body["data"]["cadre_code"]: d.body["data"] for d in core.deliveries
                  if d.type == "score.published"}
    assert (report.officials, report.teams) == (3, 1)
    team = pushed["T-XZ100"]
    assert team["target_kind"] == "team" and team["unit_code"] == "XZ100"
    assert {c: d["target_kind"] for c, d in pushed.items()} == {
        "G1": "official", "G2": "official", "H1": "official", "T-XZ100": "team"}
    assert all("unit_code" not in d for c, d in pushed.items() if c != "T-XZ100")
    for group, scores in TEAM_SCORES.items():
        published = team["groups"][group]
        assert published["status"] == "ok" and published["n"] == len(scores)
        assert published["k"] == 0
        assert published["trimmed_mean"] == float(Fraction(sum(scores), len(scores)))
        assert published["satisfaction"] == float(Fraction(sum(s >= 7 for s in scores),
                                                           len(scores)))
        assert published["tags"] == {TAG: sum(s >= 7 for s in scores)}
    assert team["groups"]["recipient"] == {"status": "insufficient", "n": 0}
    assert team["composite"]["status"] == "ok"
    assert Decimal(str(team["composite"]["score_100"])) == expected_composite()
    assert team["headline"] == {"kind": "composite",
                                "score_100": team["composite"]["score_100"]}
    # Rated by 11 in a campaign, the team is short of 30 ratings: the flag is published, but
    # no low-sample alert asks for service events a team never gets.
    assert "low_sample" in team["flags"]
    assert session.scalar(select(func.count()).select_from(Alert).join(
        Cadre, Cadre.id == Alert.cadre_id).where(Cadre.kind == "team")) == 0


def test_the_scores_api_answers_for_the_team(app, session, client, make_key):
    run_team_campaign(app, session)
    publish(session, lambda *args: None)
    period = current_period("month", datetime.now(UTC), TZ)
    answer = client.get(f"/api/v1/scores?period={period}&cadre_code=T-XZ100",
                        headers=make_key("scores:read"))
    assert answer.status_code == 200
    (item,) = answer.json["items"]
    assert (item["cadre_code"], item["target_kind"], item["unit_code"]) == (
        "T-XZ100", "team", "XZ100")
    schema = client.get("/api/openapi.json").json["components"]["schemas"]["Score"]
    assert {"target_kind", "unit_code", "cadre_code"} <= set(schema["properties"])


def test_the_unit_page_shows_the_team_apart_from_its_officials(app, session):
    run_team_campaign(app, session)
    town = session.scalar(select(Unit).where(Unit.code == "XZ100"))
    report = unit_report(session, town, current_period("month", datetime.now(UTC), TZ),
                         report_settings(), with_subordinates=False)
    assert [o["code"] for o in report["officials"]] == ["G1", "G2"]
    assert report["officials_count"] == 2
    # The roll-up holds the officials' ratings only: G1's eleven 8s.
    assert {g["group"]: g["n"] for g in report["groups"]}["peer"] == 3
    assert report["team"]["code"] == "T-XZ100"
    assert report["team"]["headline"]["kind"] == "composite"
    assert Decimal(str(report["team"]["headline"]["score_100"])) == expected_composite()
    team_groups = {g["group"]: g for g in report["team"]["groups"]}
    assert team_groups["subordinate"]["trimmed_mean"] == float(Fraction(33, 4))


def test_officials_are_counted_without_the_team(app, session):
    run_team_campaign(app, session)
    tree = {node.code: node for node in management.unit_tree(session)}
    assert (tree["XZ100"].officials, tree["XZ100"].active_officials) == (2, 2)
    listed = [o.code for o in management.officials(session)]
    assert "T-XZ100" not in listed and sorted(listed) == ["G1", "G2", "H1"]
    month = current_period("month", datetime.now(UTC), TZ)
    assert low_sample_count(session, Scope(None), [month], 30) == 3
    team = session.scalar(select(Cadre).where(Cadre.kind == "team"))
    with pytest.raises(Exception, match="干部不存在"):
        management.find_official(session, team.id)
    with pytest.raises(Exception, match="干部不存在"):
        management.set_official_active(session, team.id, False, lambda *args: None)


@pytest.mark.parametrize(("targets", "expected"), [
    (("team:XZ999",), "单位不存在：XZ999"),
    (("班子:XZ100", "team:XZ100"), "评价对象重复"),
    (("T-XZ100", "team:XZ100"), "评价对象重复"),
    (("G1", "T-XZ999"), "干部不存在：T-XZ999"),
])
def test_bad_team_targets_are_refused_and_create_nothing(app, session, targets, expected):
    township(session)
    with pytest.raises(InvalidInput) as refused:
        campaigns.create_campaign(session, context(app),
                                  campaign_of([rater("R1", "superior", *targets)]))
    assert expected in str(refused.value.errors)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Cadre)
                          .where(Cadre.kind == "team")) == 0


def test_a_code_taken_by_an_official_cannot_become_a_team(app, session):
    town = township(session)
    session.add(Cadre(code="T-XZ100", name="冒名", unit=town, position="干部"))
    session.commit()
    with pytest.raises(InvalidInput) as refused:
        campaigns.create_campaign(session, context(app),
                                  campaign_of([rater("R1", "superior", "team:XZ100")]))
    assert "已被干部占用" in str(refused.value.errors)


def test_a_unit_has_at_most_one_team(app, session):
    town = township(session)
    session.add(Cadre(code="T-XZ100", name="城关镇领导班子", unit=town, position="领导班子",
                      kind="team"))
    session.commit()
    session.add(Cadre(code="T2-XZ100", name="第二个班子", unit=town, position="领导班子",
                      kind="team"))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_a_roster_file_names_teams_like_the_api(app, session):
    township(session)
    roster = ("评价人编码,姓名,评价人群体,评价对象\n"
              "R1,甲,上级,班子:XZ100、G1\nR2,乙,同级,team:XZ200\n")
    _, links = campaign_roster.create_with_roster(
        session, context(app), campaign_of([]), roster.encode(), "名单.csv")
    assert len(links) == 2
    assert sorted(session.scalars(select(Cadre.code).where(Cadre.kind == "team"))) == [
        "T-XZ100", "T-XZ200"]
    bad = "评价人编码,姓名,评价人群体,评价对象\nR3,丙,上级,班子:NOPE\n"
    with pytest.raises(InvalidInput) as refused:
        campaign_roster.create_with_roster(session, context(app), campaign_of([], code="C2"),
                                           bad.encode(), "名单.csv")
    assert "单位不存在：NOPE" in str(refused.value.errors)


def test_the_json_report_of_a_team_matches_its_published_score(app, session, client, make_key):
    run_team_campaign(app, session)
    period = current_period("month", datetime.now(UTC), TZ)
    recorder: list = []
    publish(session, lambda _session, messages, _now: recorder.extend(messages))
    report = client.get(f"/api/v1/cadres/T-XZ100/report?period={period}",
                        headers=make_key("scores:read"))
    assert report.status_code == 200, report.json
    body = report.json
    assert (body["score"]["target_kind"], body["score"]["unit_code"]) == ("team", "XZ100")
    assert Decimal(str(body["headline"]["score_100"])) == expected_composite()
    assert body["standing"]["percentile"] is None and "领导班子" in body["standing"]["note"]
    assert body["cadre"]["level"] == "领导班子"
    official = client.get(f"/api/v1/cadres/G1/report?period={period}",
                          headers=make_key("scores:read")).json
    assert official["score"]["target_kind"] == "official" and "unit_code" not in official["score"]


def test_a_team_another_request_stored_first_is_reused(app, session, backend_name):
    if backend_name != "postgresql":
        pytest.skip("SQLite takes the write lock before reading (one writer at a time)")
    township(session)
    resolved = resolve_targets(session, ["team:XZ200"])
    (pending,) = resolved.targets.values()
    assert pending.id is None
    unit_id = session.scalar(select(Unit.id).where(Unit.code == "XZ200"))
    with db.engine.begin() as other:  # a concurrent request creates the same team first
        other.execute(Cadre.__table__.insert().values(
            code="T-XZ200", name="河西镇领导班子", unit_id=unit_id, position="领导班子",
            active=True, kind="team", created_at=datetime.now(UTC),
            updated_at=datetime.now(UTC)))
    store_new_teams(session, [pending])
    session.commit()
    stored = session.scalar(select(Cadre.id).where(Cadre.code == "T-XZ200"))
    assert pending.id == stored
    assert session.scalar(select(func.count()).select_from(Cadre)
                          .where(Cadre.kind == "team")) == 1
