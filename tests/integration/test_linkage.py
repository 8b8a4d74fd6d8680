"""The insider's attacks: with a full copy of the database, link ratings to their raters.

A database reader on PostgreSQL, without the keys. 40 of 50 event invitations are rated in a
known order (some through mini-program sessions, some with consented follow-up phones, some
opened first), 10 stay unrated, 10 ballots are answered, and everything is released. Then
every linkage attack of the threat model runs: joins on `xmin`; orders by `ctid`, id and
every time or date column on both sides, over all officials and within each; every pair of
equal hash columns. The best attack may link at most 8 of 40 ratings (chance is about 1),
and nothing stored may tell the rated invitations from the unrated ones.
"""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from backend import wiring
from backend.extensions import db
from backend.scoring.merkle import receipt_hash
from backend.services.ratings.release import release
from tests.fakes import FakeWeChat

OFFICIALS = [f"K{n}" for n in range(3)]
# Two officials share the 50 events: a rating's official is published, so the fewer
# candidates each official has, the better chance does; with 25 each, chance links about 1.6.
SERVING = OFFICIALS[:2]
TEAM = OFFICIALS
EVENTS, RATED, BALLOTS = 50, 40, 10
# Tables that hold a rating or something tied to one, and how each row names its rating.
RATING_SIDE = {"ratings": "id", "abuse_signals": "rating_id", "followup_contacts": "rating_id",
               "ledger_entries": "rating_id"}
# Tables that name an invitation, and how.
INVITATION_SIDE = {"invitations": "id", "service_events": "invitation_id",
                   "deliveries": "invitation_id", "campaign_raters": "invitation_id",
                   "ballot_targets": "invitation_id"}
UNCHANGED = (*INVITATION_SIDE, "mp_sessions", "mp_subscriptions")


@dataclass
class World:
    """What the test knows and the attacker does not: who rated what."""

    events: list[int] = field(default_factory=list)  # event invitation ids
    rated: list[int] = field(default_factory=list)  # in the order they were rated
    unrated: list[int] = field(default_factory=list)
    ballots: list[int] = field(default_factory=list)  # ballot invitation ids, in answer order
    receipts: dict[int, str] = field(default_factory=dict)  # invitation id -> receipt
    truth: dict[int, int] = field(default_factory=dict)  # rating id -> invitation id
    before: dict[str, list] = field(default_factory=dict)


@pytest.fixture(scope="module")
def wechat():
    with FakeWeChat(appid="wx_linkage", secret="linkage-secret") as fake:
        yield fake


@pytest.fixture
def world(app, make_app, make_key, wechat) -> World:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("xmin and ctid are PostgreSQL's; the attacks need them")
    web = make_app(WECHAT_API_BASE=wechat.base_url, WECHAT_APPID=wechat.appid,
                   WECHAT_SECRET=wechat.secret)
    client = web.test_client()
    found = World()
    auth = make_key("events:write", "directory:write", "campaigns:write", sources=["linkage"])
    links = issue(client, auth, found)
    ballots = create_campaign(client, auth)
    sessions = [login(client, wechat, f"o_rater_{n}") for n in range(RATED)]
    with web.app_context():
        web.extensions["jobs"].run_due()  # the deliveries go out before anyone rates
    found.before = snapshot()
    rate_events(client, links, sessions, found)
    answer_ballots(client, ballots, found)
    with web.app_context():  # seeded, so that the attacks' outcome is the same on every run
        ctx = replace(wiring.release_context(), shuffle=random.Random(41).shuffle)
        assert release(db.session, ctx, force=True).ratings == RATED + BALLOTS * len(TEAM)
        db.session.remove()
    found.truth = truth(found)
    return found


def issue(client, auth: dict, found: World) -> dict[int, str]:
    """Create the directory and 50 events over every channel; return links by invitation."""
    assert client.put("/api/v1/units/LK1", headers=auth,
                      json={"name": "链接测试镇", "category": "township"}).status_code == 201
    for code in OFFICIALS:
        assert client.put(f"/api/v1/cadres/{code}", headers=auth, json={
            "name": f"干部{code}", "unit_code": "LK1", "position": "科员"}).status_code == 201
    occurred = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    events = [{"source": "linkage", "external_id": f"L-{n}", "cadre_code": SERVING[n % 2],
               "event_type": ("approval", "village_visit")[n % 2], "occurred_at": occurred,
               "recipient": {"phone": f"1391234{n:04d}", "openid": f"o_rater_{n}"},
               "channels": (["sms", "qr"], ["wechat"], ["qr"])[n % 3]} for n in range(EVENTS)]
    batch = client.post("/api/v1/events/batch", headers=auth, json={"events": events}).json
    links = {}
    for item in batch["results"]:
        assert item["status"] == 201, item
        links[item["event_id"]] = item["invitation"]["token"]
    rows = db.session.execute(text("SELECT id, invitation_id FROM service_events")).all()
    by_event = {str(event_id): invitation_id for event_id, invitation_id in rows}
    found.events = sorted(by_event.values())
    return {by_event[event_id]: token for event_id, token in links.items()}


def login(client, wechat: FakeWeChat, openid: str) -> str:
    response = client.post("/api/v1/mp/session", json={"code": wechat.issue_login_code(openid)})
    assert response.status_code == 200, response.json
    return response.json["session_token"]


def rate_events(client, links: dict[int, str], sessions: list[str], found: World) -> None:
    """Rate 40 randomly chosen invitations in a random order, opening some first."""
    rng = random.Random(17)
    order = rng.sample(found.events, EVENTS)
    found.rated, found.unrated = order[:RATED], order[RATED:]
    for n, invitation_id in enumerate(found.rated):
        token = links[invitation_id]
        stamp = None
        if n % 2:  # opened first: the opening stamp goes back with the rating
            shown = client.get(f"/api/v1/invitations/{token}")
            assert shown.status_code == 200
            stamp = shown.json["stamp"]
        body = {"score": rng.randint(1, 10), "tags": [], "stamp": stamp,
                "comment": "窗口服务" if n % 4 == 0 else None}
        if n % 5 == 0:
            body["followup"] = {"consent": True, "phone": f"1390000{n:04d}"}
        headers = {"Authorization": f"Bearer {sessions[n]}"} if n % 3 == 1 else {}
        response = client.post(f"/api/v1/invitations/{token}/rating",
                               json={k: v for k, v in body.items() if v is not None},
                               headers=headers, environ_base={"REMOTE_ADDR": f"10.0.0.{n}"})
        assert response.status_code == 201, response.json
        found.receipts[invitation_id] = response.json["receipt"]


def create_campaign(client, auth: dict) -> list[dict]:
    """Create a campaign of ten raters over three officials; return its ballots."""
    raters = [{"rater": {"code": f"R{n}", "name": f"测评人{n}", "phone": f"1398888{n:04d}"},
               "group": "subordinate", "targets": TEAM} for n in range(BALLOTS)]
    created = client.post("/api/v1/campaigns", headers=auth, json={
        "code": "LK-2026", "name": "链接测试民主测评", "template": "democratic_appraisal",
        "period": datetime.now(UTC).strftime("%Y"),
        "closes_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
        "assignments": raters})
    assert created.status_code == 201, created.json
    return created.json["ballots"]


def answer_ballots(client, ballots: list[dict], found: World) -> None:
    """Answer every ballot, in a random order."""
    by_code = dict(db.session.execute(text(
        "SELECT code, invitation_id FROM campaign_raters")).all())
    rng = random.Random(29)
    for ballot in rng.sample(ballots, BALLOTS):
        scores = [{"target": code, "score": rng.randint(1, 10), "tags": []} for code in TEAM]
        response = client.post(f"/api/v1/invitations/{ballot['token']}/rating",
                               json={"ratings": scores})
        assert response.status_code == 201, response.json
        invitation_id = by_code[ballot["rater_code"]]
        found.ballots.append(invitation_id)
        found.receipts[invitation_id] = response.json["receipt"]


def truth(found: World) -> dict[int, int]:
    """Map each rating to the invitation it came from, through the receipts the raters hold."""
    mapping = {}
    for invitation_id, receipt in found.receipts.items():
        hashes = [receipt_hash(receipt, n) for n in range(len(TEAM))]
        for (rating_id,) in db.session.execute(
                text("SELECT id FROM ratings WHERE receipt_hash = ANY(:h)"), {"h": hashes}):
            mapping[rating_id] = invitation_id
    assert len(mapping) == RATED + BALLOTS * len(TEAM)
    return mapping


def snapshot() -> dict[str, list]:
    """Read every row of the tables that name invitations, with xmin and ctid."""
    rows = {}
    for table in UNCHANGED:
        rows[table] = [tuple(r) for r in db.session.execute(text(
            f"SELECT xmin::text, ctid::text, t.* FROM {table} AS t ORDER BY ctid"))]  # noqa: S608
    db.session.commit()
    return rows


# -- the attacks ----------------------------------------------------------------------------

Guess = dict[int, int]  # rating id -> invitation id


def correct(guess: Guess, found: World, invitations: Iterable[int]) -> int:
    """Count the ratings of the given invitations that a guess links to the right one."""
    wanted = set(invitations)
    return sum(1 for rating_id, invitation_id in guess.items()
               if invitation_id in wanted and found.truth.get(rating_id) == invitation_id)


def rows(sql: str, **params) -> list:
    return list(db.session.execute(text(sql), params))


def xmin_attacks() -> Iterable[tuple[str, Guess]]:
    """Join every rating-side table to every invitation-side table on the transaction id."""
    for (r_table, r_col), (i_table, i_col) in itertools.product(RATING_SIDE.items(),
                                                                 INVITATION_SIDE.items()):
        by_xmin = defaultdict(list)
        for xmin, invitation_id in rows(f"SELECT xmin::text, {i_col} FROM {i_table} "  # noqa: S608
                                        f"WHERE {i_col} IS NOT NULL"):
            by_xmin[xmin].append(invitation_id)
        guess = {rating_id: by_xmin[xmin][0]
                 for xmin, rating_id in rows(f"SELECT xmin::text, {r_col} FROM {r_table}")  # noqa: S608
                 if xmin in by_xmin}
        yield f"xmin {r_table} = {i_table}", guess


def orderable(table: str) -> list[str]:
    """Return the columns an attacker could order a table's rows by (ids, times, dates)."""
    found = rows("SELECT column_name, data_type FROM information_schema.columns "
                 "WHERE table_name = :t", t=table)
    kinds = ("timestamp", "date", "integer", "bigint")
    return ["ctid"] + [name for name, kind in found if kind.startswith(kinds)]


def ordered(table: str, key: str, column: str, where: str = "") -> list[tuple[int, None]]:
    """Return the ids a table's rows name, in the order of one of its columns."""
    return [(row[0], None) for row in rows(
        f"SELECT {key} FROM {table} {where} ORDER BY {column}, ctid")]  # noqa: S608


def zipped(ratings: list[int], invitations: list[int],
           officials: tuple[dict, dict] | None = None) -> Guess:
    """Pair the n-th rating with the n-th invitation, within each official when given."""
    if officials is None:
        return dict(zip(ratings, invitations, strict=False))
    of_rating, of_invitation = officials
    guess = {}
    for cadre in set(of_rating.values()):
        guess.update(zip([r for r in ratings if of_rating.get(r) == cadre],
                         [i for i in invitations if of_invitation.get(i) == cadre],
                         strict=False))
    return guess


def order_attacks(officials: tuple[dict, dict]) -> Iterable[tuple[str, Guess]]:
    """Zip every ordering of event ratings with every ordering of event invitations."""
    event_ratings = "WHERE event_type IS NOT NULL"
    rating_orders = [(f"ratings.{c}", ordered("ratings", "id", c, event_ratings))
                     for c in orderable("ratings")]
    for table in ("abuse_signals", "followup_contacts", "ledger_entries"):
        rating_orders += [(f"{table}.{c}", ordered(table, "rating_id", c))
                          for c in orderable(table)]
    invitation_orders = [(f"invitations.{c}", ordered("invitations", "id", c,
                                                      "WHERE kind = 'event'"))
                         for c in orderable("invitations")]
    for table in ("service_events", "deliveries"):
        invitation_orders += [(f"{table}.{c}", ordered(table, "invitation_id", c,
                                                       "WHERE invitation_id IS NOT NULL"))
                              for c in orderable(table)]
    for (r_name, r_rows), (i_name, i_rows) in itertools.product(rating_orders,
                                                                invitation_orders):
        r_seq = [r for r, _ in r_rows]
        for reverse in (False, True):
            i_seq = [i for i, _ in (reversed(i_rows) if reverse else i_rows)]
            name = f"{r_name} ~ {i_name}{' desc' if reverse else ''}"
            yield name, zipped(r_seq, i_seq)
            yield f"{name} per official", zipped(r_seq, i_seq, officials)


def hash_columns(tables: Iterable[str]) -> list[tuple[str, str]]:
    """Return the text columns of the tables long enough to hold a hash or a token."""
    return [(t, c) for t, c in rows(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_name = ANY(:tables) AND data_type IN ('character varying', 'text') "
        "AND coalesce(character_maximum_length, 1000) >= 20", tables=list(tables))]


def test_no_stored_trace_links_a_rating_to_its_invitation(world):
    officials = (dict(rows("SELECT id, cadre_id FROM ratings")),
                 dict(rows("SELECT id, cadre_id FROM invitations WHERE cadre_id IS NOT NULL")))
    results = [(name, correct(guess, world, world.rated))
               for name, guess in (*xmin_attacks(), *order_attacks(officials))]
    best = max(results, key=lambda r: r[1])  # chance: about 1, and 1.6 within each official
    assert len(results) > 200  # the attacks ran
    assert best[1] <= 8, f"{best[0]} links {best[1]} of {RATED} ratings"


def test_no_stored_order_links_a_ballot_to_its_rater(world):
    answered = "WHERE event_type IS NULL"
    results = []
    for r_col in orderable("ratings"):
        ratings = [r for r, _ in ordered("ratings", "id", r_col, answered)]
        for i_col in orderable("campaign_raters"):
            raters = [i for i, _ in ordered("campaign_raters", "invitation_id", i_col)]
            per_ballot = [i for i in raters for _ in TEAM]  # three ratings a ballot
            guess = dict(zip(ratings, per_ballot, strict=False))
            results.append((f"{r_col} ~ {i_col}", correct(guess, world, world.ballots)))
    best = max(results, key=lambda r: r[1])  # chance: 3 of 30 (one rater in ten)
    assert best[1] <= 6, f"{best[0]} links {best[1]} of {BALLOTS * len(TEAM)} ratings"


def test_no_hash_stored_with_a_rating_equals_one_stored_with_an_invitation(world):
    rating_side = hash_columns(RATING_SIDE)
    invitation_side = hash_columns((*UNCHANGED, "invitation_use_tags", "invitation_open_tags"))
    assert rating_side and invitation_side
    assert ("abuse_signals", "net_hash") in rating_side  # the network range is tried too
    for (r_table, r_col), (i_table, i_col) in itertools.product(rating_side, invitation_side):
        shared = db.session.execute(text(  # values that look like a hash, key or token
            f"SELECT count(*) FROM {r_table} AS r JOIN {i_table} AS i "  # noqa: S608
            f"ON CAST(r.{r_col} AS text) = CAST(i.{i_col} AS text) "
            f"WHERE CAST(r.{r_col} AS text) ~ '^[A-Za-z0-9_=+/.:-]{{20,}}$'")).scalar()
        assert shared == 0, f"{r_table}.{r_col} = {i_table}.{i_col} on {shared} rows"


def test_nothing_stored_tells_rated_invitations_from_unrated_ones(world):
    after = snapshot()
    for table in UNCHANGED:  # every row, with its transaction id and place, as before
        assert after[table] == world.before[table], table
    funnel = rows("SELECT sum(opened), sum(rated), sum(unstamped) FROM funnel_counts")[0]
    assert tuple(funnel) == (RATED, RATED, RATED // 2)  # counts stay right, as aggregates
    assert rows("SELECT sum(answered) FROM campaign_turnout")[0][0] == BALLOTS
    assert rows("SELECT count(*) FROM pending_items")[0][0] == 0


def test_ratings_of_one_batch_share_one_time_and_transaction(world):
    assert rows("SELECT count(DISTINCT batch_at), count(DISTINCT xmin::text) FROM ratings") == [
        (1, 1)]
    created = rows("SELECT count(DISTINCT created_at) FROM abuse_signals "
                   "UNION ALL SELECT count(DISTINCT created_at) FROM followup_contacts")
    assert [n for (n,) in created] == [1, 1]
