"""A unit's leadership team in the console: its own results on the unit page, never an official.

Expected numbers are computed here from the raw scores in exact fractions.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import BallotTarget, Cadre, Campaign, CampaignRater, Invitation
from tests.console.test_quarter_console import new_campaign
from tests.console.test_results import add, half_up, month_now

# The team's ratings this month per group (k = 0 at these sizes).
TEAM_SCORES = {"superior": [8], "peer": [6, 9, 9], "subordinate": [5, 7, 8, 10],
               "representative": [7, 8, 9]}
WEIGHTS = {"superior": 15, "peer": 15, "subordinate": 15, "representative": 20}


@pytest.fixture
def team(world) -> int:
    """Give 城关镇 a leadership team rated this month by TEAM_SCORES; return its id."""
    cadre = Cadre(code="T-XZ100", name="城关镇人民政府领导班子", position="领导班子",
                  unit_id=world.units["XZ100"], kind="team")
    db.session.add(cadre)
    db.session.flush()
    for group, scores in TEAM_SCORES.items():
        for score in scores:
            add(cadre.id, group, score, month_now())
    db.session.commit()
    return cadre.id


def page_table(page: dict, key: str) -> list[dict]:
    return next(t for t in page["tables"] if t["key"] == key)["rows"]


def test_the_unit_page_shows_its_teams_own_results(signed_in, world, team):
    client = signed_in("unit_admin")
    page = client.get(f"/console/api/units/{world.units['XZ100']}/results"
                      f"?period={month_now()}").get_json()
    means = {g: Fraction(sum(s), len(s)) for g, s in TEAM_SCORES.items()}
    composite = 10 * sum(WEIGHTS[g] * means[g] for g in means) / sum(WEIGHTS.values())
    card = next(c for c in page["cards"] if c["label"] == "领导班子")
    assert card["value"] == half_up(composite)
    rows = {r["name"]: r for r in page_table(page, "team_groups")}
    assert rows["同级"]["mean"] == f"{float(means['peer']):.2f}"
    assert (rows["下级"]["n"], rows["下级"]["mean"]) == (4, f"{float(Fraction(30, 4)):.2f}")
    officials = [o["code"] for o in page["extra"]["report"]["officials"]]
    assert "T-XZ100" not in officials
    own = db.session.scalar(select(func.count()).select_from(Cadre).where(
        Cadre.unit_id == world.units["XZ100"], Cadre.active.is_(True), Cadre.kind == "official"))
    assert page["extra"]["report"]["officials_count"] == own == len(officials)
    # The roll-up of the unit's officials holds none of the team's ratings.
    assert all(g["n"] == 0 for g in page["extra"]["report"]["groups"]
               if g["group"] in ("superior", "subordinate"))


def test_a_unit_without_a_team_shows_none(signed_in, world):
    client = signed_in("org_admin")
    page = client.get(f"/console/api/units/{world.units['XZ100']}/results"
                      f"?period={month_now()}").get_json()
    assert page["extra"]["report"]["team"] is None
    assert all(c["label"] != "领导班子" for c in page["cards"])


def test_the_official_lists_leave_the_team_out(signed_in, world, team):
    client = signed_in("org_admin")
    listed = client.get("/console/api/officials?q=领导班子").get_json()
    assert page_table(listed, "officials") == []
    everyone = client.get("/console/api/officials").get_json()
    assert all(r.get("code") != "T-XZ100" for r in page_table(everyone, "officials"))
    directory = client.get(f"/console/directory?unit={world.units['XZ100']}")
    assert directory.status_code == 200 and "T-XZ100" not in directory.get_data(as_text=True)
    assert "城关镇人民政府领导班子" not in directory.get_data(as_text=True)


def test_the_new_campaign_form_takes_a_team_as_a_default_target(signed_in, world):
    client = signed_in("org_admin")
    roster = ("评价人编码,姓名,手机号,评价人群体,评价对象\n"
              "Q01,周上级,,上级,\nQ02,林同级,,同级,班子:XZ100\n")
    response = new_campaign(client, roster, targets="班子:XZ100、C001")
    assert response.status_code == 303, response.get_data(as_text=True)
    team = db.session.scalar(select(Cadre).where(Cadre.kind == "team"))
    assert (team.code, team.unit_id) == ("T-XZ100", world.units["XZ100"])
    targets = db.session.execute(
        select(CampaignRater.code, Cadre.code).join(Invitation, Invitation.id ==
                                                    CampaignRater.invitation_id)
        .join(BallotTarget, BallotTarget.invitation_id == Invitation.id)
        .join(Cadre, Cadre.id == BallotTarget.cadre_id)
        .join(Campaign, Campaign.id == CampaignRater.campaign_id)
        .where(Campaign.code == "2026-Q4-NEW")).all()
    assert sorted(targets) == [("Q01", "C001"), ("Q01", "T-XZ100"), ("Q02", "T-XZ100")]
    refused = new_campaign(client, roster, code="2026-Q4-BAD", targets="班子:XZ999")
    assert refused.status_code == 422
    assert "单位不存在：XZ999" in refused.get_data(as_text=True)


def test_the_publication_preview_counts_the_team_apart(signed_in, world, team):
    client = signed_in("org_admin")
    officials = db.session.scalar(select(func.count()).select_from(Cadre).where(
        Cadre.kind == "official", Cadre.active.is_(True)))
    preview = client.get(f"/console/scores?preview={month_now()}").get_data(as_text=True)
    assert f"将重新计算 {officials} 名干部及 1 个领导班子" in preview
    assert "T-XZ100" in preview  # the team's new score is among the changes
