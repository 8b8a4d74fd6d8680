"""The living demo: `flask --app backend demo seed` builds a county with six months of history.

The full county (forty officials) is seeded once per module on SQLite, the embedded mode's
database, and read by the tests below; a smaller county is seeded on each backend.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from backend import create_app
from backend.cli.demo import bulk_load
from backend.extensions import db
from backend.models import (
    Alert,
    AuditEntry,
    Cadre,
    Campaign,
    ConsoleUser,
    Delivery,
    FunnelCount,
    LedgerCheckpoint,
    Rating,
    RatingCount,
    ReviewItem,
    ScoreSnapshot,
    ServiceEvent,
    WebhookMessage,
)
from backend.services.campaigns.progress import totals
from backend.services.demo.plan import Roles
from backend.services.demo.seed import MARKER, demo_cadres
from backend.services.invitations.events import event_template_keys
from tests.conftest import base_config
from tests.console.world import https_client, sign_in

pytestmark = pytest.mark.slow
BASE_URL = "http://127.0.0.1:5055"
LOGIN = re.compile(r"用户名 (\S+)\s+密码 (\S+)")
SATISFACTION_FLAGS = ("not_excellent_eligible", "warning_talk", "reassignment_review")


@dataclass
class Seeded:
    """The module's county: its app, both runs' output and the row counts after each run."""

    app: Flask
    first: str
    second: str
    after_first: dict[str, int]
    after_second: dict[str, int]
    roles: Roles

    def seed_again(self) -> str:
        """Run the command once more and return its output."""
        result = self.app.test_cli_runner().invoke(args=["demo", "seed"])
        assert result.exit_code == 0, result.output
        return result.output


def table_counts() -> dict[str, int]:
    """Return the number of rows of every table."""
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables}


@pytest.fixture(scope="module")
def county(tmp_path_factory) -> Iterator[Seeded]:
    """Seed the full demo county on a SQLite file of its own, twice."""
    uri = "sqlite:///" + str(tmp_path_factory.mktemp("demo") / "demo.db")
    app = create_app({**base_config(uri), "PUBLIC_BASE_URL": BASE_URL})
    with app.app_context():
        db.create_all()
        runner = app.test_cli_runner()
        first = runner.invoke(args=["demo", "seed"])
        assert first.exit_code == 0, first.output
        after_first = table_counts()
        second = runner.invoke(args=["demo", "seed"])
        assert second.exit_code == 0, second.output
        after_second = table_counts()
        roles = Roles.of([c.code for c in demo_cadres()])
        yield Seeded(app, first.output, second.output, after_first, after_second, roles)
        db.session.remove()
        db.engine.dispose()


def codes_of(rows) -> set[str]:
    """Return the official codes of (cadre_id, ...) rows."""
    ids = {row[0] for row in rows}
    return set(db.session.scalars(select(Cadre.code).where(Cadre.id.in_(ids))))


def alert_codes(*types: str) -> set[str]:
    """Return the officials with an alert of the given types."""
    return codes_of(db.session.execute(select(Alert.cadre_id).where(Alert.type.in_(types))))


def links(output: str, base: str = BASE_URL) -> list[str]:
    """Return the signed tokens of the links an output prints."""
    return re.findall(re.escape(base) + r"/r/(\S+)", output)


def test_a_second_run_finds_the_county_and_changes_no_row(county):
    assert "演示县已生成" in county.first and "演示县已存在" in county.second
    assert county.after_second == county.after_first
    assert county.after_first["service_events"] > 3000
    assert county.after_first["ratings"] > 2500
    assert links(county.second) == links(county.first)


def test_events_cover_every_channel_and_every_declared_event_type(county):
    types = set(db.session.scalars(select(ServiceEvent.event_type).distinct()))
    assert types == set(event_template_keys(county.app.extensions["catalogue"]))
    channels = set(db.session.scalars(select(ServiceEvent.channels).distinct()))
    assert {"sms", "qr", "wechat"} <= channels
    statuses = dict(db.session.execute(
        select(Delivery.status, func.count()).group_by(Delivery.status)).all())
    assert statuses["recorded"] > 1000 and "pending" not in statuses  # no gateway: recorded
    opened, rated = db.session.execute(select(func.sum(FunnelCount.opened),
                                              func.sum(FunnelCount.rated))).one()
    assert opened - rated > 100  # the funnel: opened, not rated


def recipient_rates() -> dict[str, tuple[int, float, float]]:
    """Return per official: valid recipient ratings, satisfaction and dissatisfaction."""
    spread: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for code, score, n in db.session.execute(
            select(Cadre.code, RatingCount.score, func.sum(RatingCount.count))
            .join(Cadre, Cadre.id == RatingCount.cadre_id)
            .where(RatingCount.rater_group == "recipient")
            .group_by(Cadre.code, RatingCount.score)):
        spread[code][score] += int(n)
    rates = {}
    for code, counts in spread.items():
        n = sum(counts.values())
        rates[code] = (n, sum(v for s, v in counts.items() if s >= 7) / n,
                       sum(v for s, v in counts.items() if s <= 4) / n)
    return rates


def test_most_officials_are_rated_well_and_a_few_badly(county):
    rates, roles = recipient_rates(), county.roles
    assert rates[roles.poor][2] > 0.5 and rates[roles.weak][2] > 0.2
    doing_well = set(rates) - {roles.poor, roles.weak, roles.slipping, roles.sparse}
    assert len(doing_well) >= 30
    assert all(rates[c][1] >= 0.8 and rates[c][2] <= 0.06 for c in doing_well)
    poor_id = db.session.scalar(select(Cadre.id).where(Cadre.code == roles.poor))
    complaints = db.session.execute(select(Rating.tags, Rating.comment).where(
        Rating.cadre_id == poor_id, Rating.score <= 4)).all()
    assert sum(1 for tags, comment in complaints if tags and comment) >= 10


def test_only_the_intended_officials_raise_flags_and_alerts(county):
    roles = county.roles
    assert alert_codes("low_sample") == {roles.sparse}
    flagged = alert_codes(*SATISFACTION_FLAGS)
    assert {roles.poor, roles.weak} <= flagged <= {roles.poor, roles.weak, roles.slipping}
    assert roles.poor in alert_codes("reassignment_review")
    assert alert_codes("delivery_overdue") == {roles.late}


def test_past_months_are_published_with_snapshots_alerts_and_queued_pushes(county):
    details = db.session.scalar(select(AuditEntry.details).where(AuditEntry.action == MARKER))
    published = set(db.session.scalars(select(ScoreSnapshot.period).distinct()))
    assert published == set(details["published"]) and len(published) >= 4
    for period in published:
        assert db.session.scalar(select(func.count()).select_from(ScoreSnapshot).join(Cadre).where(
            ScoreSnapshot.period == period, ScoreSnapshot.superseded_at.is_(None),
            Cadre.kind == "official")) == 40
    types = set(db.session.scalars(select(WebhookMessage.type).distinct()))
    assert types == {"score.published", "alert.raised", "case.closed"}  # cases are worked
    assert db.session.scalar(select(func.count()).select_from(LedgerCheckpoint)) > 150
    runner = county.app.test_cli_runner()
    for command in (["ledger", "verify"], ["audit", "verify"]):
        result = runner.invoke(args=command)
        assert result.exit_code == 0, result.output


def test_the_campaign_is_open_and_half_answered(county):
    campaign = db.session.scalar(select(Campaign))
    assert campaign.template.key == "democratic_appraisal" and campaign.status == "open"
    assert campaign.closes_at > datetime.now(UTC)
    invited, answered = totals(db.session, [campaign.id])[campaign.id]
    assert answered == invited // 2 and invited >= 20


def test_the_campaign_rates_a_leadership_team_whose_score_is_published(county):
    team = db.session.scalar(select(Cadre).where(Cadre.kind == "team"))
    assert (team.code, team.name) == ("T-XZ100", "城关镇人民政府领导班子")
    quarter = db.session.scalar(select(Campaign.period))
    document = db.session.scalar(select(ScoreSnapshot.document).where(
        ScoreSnapshot.cadre_id == team.id, ScoreSnapshot.period == quarter,
        ScoreSnapshot.superseded_at.is_(None)))
    assert (document["target_kind"], document["unit_code"]) == ("team", "XZ100")
    assert sum(g["n"] for g in document["groups"].values()) == db.session.scalar(
        select(func.count()).select_from(Rating).where(Rating.cadre_id == team.id,
                                                        Rating.status == "valid"))
    assert sum(g["n"] for g in document["groups"].values()) > 0


def test_a_burst_of_forged_top_scores_waits_in_the_review_queue(county):
    items = db.session.execute(select(ReviewItem.kind, ReviewItem.cadre_id, ReviewItem.rating_ids)
                               .where(ReviewItem.state == "open")).all()
    assert {"burst", "address", "fast"} <= {kind for kind, _, _ in items}
    burst = next(item for item in items if item.kind == "burst")
    # A burst names its official and hour, not the hour's ratings (bystanders among them);
    # the forged ratings are named by the signal they carry: their one address.
    assert codes_of([(burst.cadre_id,)]) == {county.roles.burst} and burst.rating_ids == []
    address = next(item for item in items if item.kind == "address")
    assert codes_of([(address.cadre_id,)]) == {county.roles.burst}
    assert len(address.rating_ids) >= 10


def test_printed_links_are_open_and_point_at_the_public_base_url(county):
    output = county.seed_again()  # whatever other tests used, the output lists open links
    tokens = links(output)
    assert len(tokens) == 4
    client = county.app.test_client()
    kinds = []
    for token in tokens:
        response = client.get(f"/api/v1/invitations/{token}")
        assert response.status_code == 200 and response.json["status"] == "open"
        kinds.append((response.json["kind"], response.json["event_type"]))
        assert client.get(f"/r/{token}").status_code == 200
    assert [k for k, _ in kinds] == ["event", "event", "event", "ballot"]
    assert len({t for _, t in kinds[:3]}) == 3


def test_a_used_link_is_replaced_on_the_next_run(county):
    before = links(county.seed_again())
    client = county.app.test_client()
    rated = client.post(f"/api/v1/invitations/{before[0]}/rating",
                        json={"score": 9, "tags": ["办事高效"], "comment": "演示：一次办好"})
    assert rated.status_code == 201
    after = links(county.seed_again())
    assert before[0] not in after and before[1:3] == after[:2] and after[3] == before[3]
    assert client.get(f"/api/v1/invitations/{after[2]}").json["status"] == "open"


def test_a_rating_from_a_printed_link_shows_on_the_officials_feedback_page(county):
    output = county.seed_again()
    token, client = links(output)[0], county.app.test_client()
    target = client.get(f"/api/v1/invitations/{token}").json["targets"][0]["code"]
    assert client.post(f"/api/v1/invitations/{token}/rating",
                       json={"score": 3, "tags": ["办事拖拉"],
                             "comment": "演示评价：材料跑了三趟"}).status_code == 201
    released = county.app.test_cli_runner().invoke(args=["ratings", "release"])  # the minute job
    assert released.exit_code == 0 and "已入账" in released.output
    console = https_client(county.app)
    username, password = LOGIN.findall(output)[0]
    assert sign_in(console, username, password).status_code == 302
    cadre_id = db.session.scalar(select(Cadre.id).where(Cadre.code == target))
    page = console.get(f"/console/officials/{cadre_id}/feedback").get_data(as_text=True)
    rating = db.session.scalar(select(Rating).where(Rating.comment == "演示评价：材料跑了三趟"))
    recipients = db.session.scalar(select(func.sum(RatingCount.count)).where(
        RatingCount.cadre_id == cadre_id, RatingCount.month == rating.month,
        RatingCount.rater_group == rating.rater_group))
    # A comment shows once its group reached its minimum (10 recipients) that month.
    assert ("演示评价：材料跑了三趟" in page) == (recipients >= 10)
    assert "评价组当月有效评价未达最低样本数" in page


def test_the_printed_logins_sign_in_with_every_role(county):
    logins = LOGIN.findall(county.first)
    roles = {db.session.scalar(select(ConsoleUser.role).where(ConsoleUser.username == u))
             for u, _ in logins}
    assert roles == {"org_admin", "unit_admin", "auditor", "viewer", "discipline"}
    for username, password in logins:
        response = sign_in(https_client(county.app), username, password)
        assert response.status_code == 302, username


def test_the_seed_skips_commit_fsyncs_only_while_it_runs(county):
    def synchronous() -> int:
        return db.session.execute(text("PRAGMA synchronous")).scalar()

    assert synchronous() == 2  # FULL, SQLite's default, for everything but the seed
    with bulk_load():
        assert synchronous() == 1  # NORMAL: the WAL is synced at checkpoints only
    assert synchronous() == 2


def test_the_county_seeds_on_each_database_and_a_second_run_changes_nothing(app, runner):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("the module's county is seeded on SQLite, twice, for every test here")
    first = runner.invoke(args=["demo", "seed", "--cadres", "12"])
    assert first.exit_code == 0, first.output
    counts = table_counts()
    second = runner.invoke(args=["demo", "seed", "--cadres", "12"])
    assert second.exit_code == 0, second.output
    assert table_counts() == counts
    assert counts["ratings"] > 500 and counts["score_snapshots"] >= 4 * 12
    roles = Roles.of([c.code for c in demo_cadres(12)])
    assert alert_codes("low_sample") == {roles.sparse}
    assert runner.invoke(args=["ledger", "verify"]).exit_code == 0
    for token in links(second.output, app.config["PUBLIC_BASE_URL"]):
        assert app.test_client().get(f"/api/v1/invitations/{token}").json["status"] == "open"



def test_the_cases_were_worked_through_their_flow_like_months_of_use(county):
    from backend.models import Case, CaseEvent
    from backend.services.cases.views import sla_rows

    with county.app.app_context():
        now = datetime.now(UTC)
        states = dict(db.session.execute(select(Case.status, func.count())
                                         .where(Case.assignee_role == "unit_admin")
                                         .group_by(Case.status)).all())
        total = sum(states.values())
        assert total > 50 and states["closed"] > total / 2, states
        still_open = total - states["closed"]
        assert 0 < still_open < total / 3, states  # a few still open, the newest in hand
        actions = dict(db.session.execute(select(CaseEvent.action, func.count())
                                          .group_by(CaseEvent.action)).all())
        assert actions["return"] > 0 and actions["escalate"] > 0 and actions["approve"] > 0
        overdue = db.session.scalar(select(func.count()).select_from(Case).where(
            Case.status != "closed", Case.due_at < now))
        assert 0 < overdue < still_open + 1
        rows = sla_rows(db.session, ("unit_admin",), None, now)
        closed = sum(r["closed"] for r in rows)
        on_time = sum(r["on_time"] for r in rows) / closed
        assert 0.5 < on_time < 0.98  # realistic: most, not all, on time
        assert all(r["avg_days"] is None or 0 < r["avg_days"] < 20 for r in rows)
        assert db.session.scalar(select(func.count()).select_from(Case)
                                 .where(Case.verdict.is_not(None))) > 0
