"""The aggregate detectors and the clusters, on stored rows at a fixed time.

The rows are what release and ingestion leave (invitations, the funnel's counters, ratings,
abuse signals), written directly at chosen times so each detector's verdict is exact. No
detector stores anything that ties a rating to an invitation: aggregate items name an
official and a period and no rating; a cluster names the ratings carrying its signal only.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import insert, select

from backend.errors import Conflict
from backend.models import (
    AbuseSignal,
    Cadre,
    FunnelCount,
    Invitation,
    Rating,
    ReviewItem,
    Unit,
)
from backend.services import fraud
from backend.services.fraud import review
from backend.services.fraud.aggregates import Week
from backend.services.templates import current_template
from backend.wiring import sealer

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=TZ)  # a Saturday
WEEK = Week.of(NOW.date(), TZ)
HISTORY = 4


def keyed(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def officials(session, count: int, category: str = "township", prefix: str = "A") -> list[int]:
    """Create a unit of `category` with `count` officials; return their ids."""
    unit = Unit(code=f"U-{prefix}", name=f"单位{prefix}", category=category)
    session.add(unit)
    session.flush()
    cadres = [Cadre(code=f"{prefix}{n:02d}", name=f"干部{prefix}{n}", unit_id=unit.id,
                    position="科员") for n in range(count)]
    session.add_all(cadres)
    session.commit()
    return [c.id for c in cadres]


def template_id(session) -> int:
    return current_template(session, current_app.extensions["catalogue"], "service_event").id


def week_of(session, cadre_id: int, week: Week, links: int, rated: int, tens: int,
            unstamped: int = 0, event_type: str = "approval") -> list[int]:
    """Store one official's week: links issued, links rated (funnel), their scores; return
    the rating ids."""
    tid, day = template_id(session), week.first + timedelta(days=2)
    at = datetime.combine(day, datetime.min.time(), tzinfo=TZ) + timedelta(hours=10)
    session.execute(insert(Invitation), [
        {"token": secrets.token_urlsafe(15), "kind": "event", "template_id": tid,
         "cadre_id": cadre_id, "event_type": event_type, "created_at": at,
         "expires_at": at + timedelta(days=7)} for _ in range(links)])
    session.execute(insert(FunnelCount), [{"day": day, "cadre_id": cadre_id,
                                           "event_type": event_type, "channel": "qr",
                                           "opened": rated, "rated": rated,
                                           "unstamped": unstamped}])
    scores = [10] * tens + [7 + n % 3 if n % 5 else 4 for n in range(rated - tens)]
    return ratings(session, cadre_id, scores, at, event_type)


def ratings(session, cadre_id: int, scores: list[int], at: datetime,
            event_type: str = "approval") -> list[int]:
    """Store valid event ratings of one batch hour; return their ids."""
    rows = [Rating(cadre_id=cadre_id, rater_group="recipient", score=score, tags=[],
                   template_id=template_id(session), event_type=event_type,
                   batch_at=at.astimezone(UTC), month=at.strftime("%Y-%m"), status="valid",
                   receipt_hash=keyed(secrets.token_hex(16)), mac="-") for score in scores]
    session.add_all(rows)
    session.commit()
    return [r.id for r in rows]


def items(session, kind: str | None = None) -> list[ReviewItem]:
    query = select(ReviewItem).order_by(ReviewItem.id)
    return list(session.scalars(query.where(ReviewItem.kind == kind) if kind else query))


def county(session, weeks_of_history: int = HISTORY) -> dict[str, int]:
    """Nine honest officials, one who stuffs this week, one consistently excellent one."""
    ids = officials(session, 11)
    for n, cadre_id in enumerate(ids[:9]):  # honest offices differ a little
        for back in range(weeks_of_history + 1):
            week_of(session, cadre_id, WEEK.shifted(-back, TZ), 35, 19 + (n + back) % 5,
                    6 + (n * 3 + back) % 4)
    stuffer, excellent = ids[9], ids[10]
    for back in range(1, weeks_of_history + 1):
        week_of(session, stuffer, WEEK.shifted(-back, TZ), 35, 20, 7)
    week_of(session, stuffer, WEEK, 35, 34, 30)  # the staff rated nearly every link 10
    for back in range(weeks_of_history + 1):  # every week alike, this one too
        week_of(session, excellent, WEEK.shifted(-back, TZ), 35, 24, 16)
    return {"stuffer": stuffer, "excellent": excellent, "honest": ids[0]}


def test_link_use_top_scores_per_link_and_score_shape_name_the_stuffer_and_week(app, session):
    who = county(session)
    fraud.detect(session, NOW, TZ)
    for kind in ("link_use", "top_per_link", "score_shape"):
        found = items(session, kind)
        assert [i.cadre_id for i in found] == [who["stuffer"]], kind
        (item,) = found
        assert item.window == WEEK.label and item.rating_ids == []
        (cell,) = item.evidence["cells"]
        assert cell["event_type"] == "approval"
    use = items(session, "link_use")[0].evidence["cells"][0]
    assert (use["count"], use["of"], use["peers"]) == (34, 35, 10)  # the other ten
    assert use["z_peers"] >= 3.5 and use["z_own"] >= 3.0
    shape = items(session, "score_shape")[0].evidence["cells"][0]
    assert shape["entropy"]["entropy"] < shape["entropy"]["peer_entropy"]


def test_an_official_as_good_every_week_is_not_taken_for_a_stuffer(app, session):
    who = county(session)
    fraud.detect(session, NOW, TZ)
    named = {i.cadre_id for i in items(session)}
    assert who["excellent"] not in named and who["honest"] not in named


def test_without_history_peers_alone_decide(app, session):
    who = county(session, weeks_of_history=0)
    fraud.detect(session, NOW, TZ)
    found = {i.cadre_id: i for i in items(session, "top_per_link")}
    assert who["stuffer"] in found and who["honest"] not in found
    assert found[who["stuffer"]].evidence["cells"][0]["own_rate"] is None
    # Without a history to vouch for it, an official far above its peers is reviewed too.
    assert set(found) <= {who["stuffer"], who["excellent"]}


def test_too_few_peers_or_links_judge_nothing(app, session):
    ids = officials(session, 3)
    for cadre_id in ids:
        week_of(session, cadre_id, WEEK, 35, 20, 7)
    week_of(session, officials(session, 1, prefix="B")[0], WEEK, 10, 10, 10)
    fraud.detect(session, NOW, TZ)
    assert items(session, "link_use") == items(session, "top_per_link") == []


def test_unstamped_submissions_are_flagged_per_official_and_day(app, session):
    ids = officials(session, 8)
    for cadre_id in ids[:7]:
        week_of(session, cadre_id, WEEK, 20, 12, 4, unstamped=cadre_id % 2)
    week_of(session, ids[7], WEEK, 20, 14, 4, unstamped=9)
    fraud.detect(session, NOW, TZ)
    (item,) = items(session, "unstamped")
    day = (WEEK.first + timedelta(days=2)).isoformat()
    assert (item.cadre_id, item.window, item.rating_ids) == (ids[7], day, [])
    assert item.evidence["unstamped"] == 9 and item.evidence["rated"] == 14


def signals(session, rating_ids: list[int], net: str | None, agent: str | None,
            at: datetime = NOW) -> None:
    """Store abuse signals: `net` and `agent` None mean each rating's own range, and one of
    four common phones."""
    session.add_all([AbuseSignal(rating_id=r, ip_hash=keyed(secrets.token_hex(4)),
                                 net_hash=keyed(net) if net else keyed(secrets.token_hex(4)),
                                 agent_hash=keyed(agent or f"phone-{n % 4}"),
                                 created_at=at.replace(minute=0))
                     for n, r in enumerate(rating_ids)])
    session.commit()


def cluster_world(session) -> dict:
    """Ten officials rated from everywhere, a carrier range common to all; one office range
    behind eight ratings of one official."""
    ids = officials(session, 10, category="department", prefix="N")
    found = {"office": [], "bystanders": []}
    for n, cadre_id in enumerate(ids):
        own = ratings(session, cadre_id, [8] * 20, NOW - timedelta(hours=3))
        signals(session, own[:5], "carrier-nat-112.1.1", "iphone")  # common everywhere
        signals(session, own[5:], None, None)
        if n == 0:
            found["bystanders"] = own
            found["office"] = ratings(session, cadre_id, [10] * 8, NOW - timedelta(hours=2))
            signals(session, found["office"], "office-10.3.2", "desktop-chrome")
    found["official"] = ids[0]
    return found


def test_a_network_range_and_a_device_behind_one_official_are_clusters(app, session):
    world = cluster_world(session)
    fraud.detect(session, NOW, TZ)
    network, device = items(session, "network"), items(session, "device")
    assert [(i.cadre_id, sorted(i.rating_ids)) for i in network] == [
        (world["official"], sorted(world["office"]))]
    assert [(i.cadre_id, sorted(i.rating_ids)) for i in device] == [
        (world["official"], sorted(world["office"]))]
    assert network[0].window == WEEK.label and network[0].evidence["ratings"] == 8
    assert len(network[0].evidence["hash"]) == 12  # cut: no full keyed hash in evidence


def test_excluding_a_cluster_discards_only_the_ratings_carrying_it(app, session):
    world = cluster_world(session)
    fraud.detect(session, NOW, TZ)
    (item,) = items(session, "network")
    decision = review.decide(session, sealer(), item.id, "exclude", "办公网段集中好评",
                             "auditor", NOW)
    assert decision.excluded == 8
    status = dict(session.execute(select(Rating.id, Rating.status)).all())
    assert {status[r] for r in world["office"]} == {"excluded"}
    assert {status[r] for r in world["bystanders"]} == {"valid"}


def test_an_aggregate_item_can_be_cleared_but_names_nothing_to_exclude(app, session):
    county(session)
    fraud.detect(session, NOW, TZ)
    (item,) = items(session, "link_use")
    with pytest.raises(Conflict):
        review.decide(session, sealer(), item.id, "exclude", "刷分", "auditor", NOW)
    assert review.decide(session, sealer(), item.id, "clear", "已核实，转纪检",
                         "auditor", NOW).item.state == "cleared"
    assert set(session.scalars(select(Rating.status))) == {"valid"}


def test_detection_stores_nothing_that_ties_a_rating_to_an_invitation(app, session):
    county(session)
    world = cluster_world(session)
    fraud.detect(session, NOW, TZ)
    tokens = set(session.scalars(select(Invitation.token)))
    invitation_ids = set(session.scalars(select(Invitation.id)))
    for item in items(session):
        text = f"{item.subject} {item.window} {item.evidence}"
        assert not any(token in text for token in tokens)
        assert "invitation" not in text
        if item.kind in ("link_use", "top_per_link", "score_shape", "unstamped", "burst"):
            assert item.rating_ids == []
        else:
            assert set(item.rating_ids) <= set(world["office"])
    assert invitation_ids  # the links were there to be named, and none was


@pytest.mark.parametrize("day", [date(2026, 11, 16), date(2026, 11, 22)])
def test_weeks_run_monday_to_sunday_in_local_time(day):
    week = Week.of(day, TZ)
    assert week.label == "2026-W47" and week.first == date(2026, 11, 16)
    assert week.start == datetime(2026, 11, 16, tzinfo=TZ)
    assert week.end - week.start == timedelta(days=7)
