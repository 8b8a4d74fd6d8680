"""The rating API: read an invitation, rate once, stay anonymous by construction."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, inspect, select

from backend.extensions import db
from backend.models import (
    AbuseSignal,
    FollowupContact,
    Invitation,
    Rating,
    RatingCount,
    RatingTagCount,
    UseTag,
)
from tests.support.invitations import issue
from tests.support.release import release_all


@pytest.fixture
def invitation(app):
    return issue()[0]


def rate(client, token, **body):
    return client.post(f"/api/v1/invitations/{token}/rating",
                       json={"score": 9, "tags": ["热情周到"], **body})


def test_invitation_shows_who_is_rated_and_how(client, invitation):
    response = client.get(f"/api/v1/invitations/{invitation['token']}")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "open" and body["kind"] == "event"
    assert body["event_type"] == "approval" and body["event_type_name"] == "公开审批"
    (target,) = body["targets"]
    assert target["code"] == "C001" and target["name"] and target["unit"] and target["position"]
    assert body["template"]["scale"]["min"] == 1 and body["template"]["scale"]["max"] == 10
    polarities = {t["polarity"] for t in body["template"]["tags"]}
    assert polarities == {"positive", "negative"}


def test_rating_once_returns_a_receipt_and_the_second_use_is_409(client, invitation):
    first = rate(client, invitation["token"])
    assert first.status_code == 201
    assert len(first.json["receipt"]) == 32 and int(first.json["receipt"], 16) >= 0
    second = rate(client, invitation["token"])
    assert second.status_code == 409 and second.json["status"] == "used"
    shown = client.get(f"/api/v1/invitations/{invitation['token']}")
    assert shown.status_code == 409 and shown.json["status"] == "used"


def test_mini_program_scene_works_like_the_url_token(client, invitation):
    assert client.get(f"/api/v1/invitations/{invitation['mp_scene']}").status_code == 200
    assert rate(client, invitation["mp_scene"]).status_code == 201
    assert rate(client, invitation["token"]).status_code == 409


def test_opening_never_consumes_the_token(client, invitation, session):
    for _ in range(3):
        assert client.get(f"/api/v1/invitations/{invitation['token']}").status_code == 200
    assert session.scalar(select(func.count()).select_from(UseTag)) == 0
    assert rate(client, invitation["token"]).status_code == 201


def test_expired_and_revoked_links_are_410(client, session):
    expired, revoked = issue(2)
    rows = list(session.scalars(select(Invitation).order_by(Invitation.id)))
    rows[0].expires_at = datetime.now(UTC) - timedelta(minutes=1)
    rows[1].revoked_at = datetime.now(UTC)
    session.commit()
    for token, status in ((expired["token"], "expired"), (revoked["token"], "revoked")):
        assert client.get(f"/api/v1/invitations/{token}").json == {
            "code": 410, "message": client.get(f"/api/v1/invitations/{token}").json["message"],
            "status": status}
        response = rate(client, token)
        assert response.status_code == 410 and response.json["status"] == status


def forgeries(token: str) -> list[str]:
    # Not the last character: its low bits are base64 padding, so some changes keep it valid.
    flipped = token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:]
    first_flipped = ("A" if token[0] != "A" else "B") + token[1:]
    return [flipped, first_flipped, token[:-3], token + "x", token.split(".")[0],
            token.split(".")[0] + ".AAAAAAAA", "x" * 20 + "." + "y" * 27]


def test_forged_tokens_are_404_without_touching_the_database(app, client, invitation):
    statements = []

    def count(*_args):
        statements.append(1)

    engine = db.engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        for forged in forgeries(invitation["token"]) + forgeries(invitation["mp_scene"]):
            assert client.get(f"/api/v1/invitations/{forged}").status_code == 404, forged
            assert rate(client, forged).status_code == 404, forged
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_token_signed_with_another_purpose_is_unknown(app, client, invitation):
    from itsdangerous import Signer

    raw = invitation["token"].split(".")[0]
    other = Signer(app.config["SECRET_KEYS"][0], salt="mp-session").sign(raw).decode()
    assert client.get(f"/api/v1/invitations/{other}").status_code == 404


@pytest.mark.parametrize(("body", "field"), [
    ({"score": 0}, "score"), ({"score": 11}, "score"), ({"score": 7.5}, "score"),
    ({"score": "7"}, "score"), ({"score": True}, "score"), ({"score": None}, "score"),
    ({"tags": ["不存在的标签"]}, "tags"),
    ({"tags": ["热情周到", "办事高效", "解答清楚", "主动服务", "廉洁自律", "一次办好"]}, "tags"),
    ({"tags": ["热情周到", "热情周到"]}, "tags"),
    ({"comment": "很" * 501}, "comment"),
    ({"followup": {"consent": True, "phone": "123"}}, "followup"),
    ({"followup": {"consent": True}}, "followup"),
    ({"unexpected": 1}, "unexpected"),
])
def test_bad_submission_is_422_naming_the_field_and_keeps_the_link(client, invitation, body,
                                                                    field):
    response = rate(client, invitation["token"], **body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    assert rate(client, invitation["token"]).status_code == 201


def test_a_comment_of_500_characters_is_kept_and_one_more_is_refused_in_chinese(
        client, invitation, session):
    refused = rate(client, invitation["token"], comment="很" * 501)
    assert refused.status_code == 422
    assert refused.json["errors"]["comment"] == ["不能超过 500 个字符"]
    assert rate(client, invitation["token"], comment="很" * 500).status_code == 201
    release_all()
    assert session.scalar(select(Rating.comment)) == "很" * 500


def test_missing_score_is_422(client, invitation):
    response = client.post(f"/api/v1/invitations/{invitation['token']}/rating", json={})
    assert response.status_code == 422 and "score" in response.json["errors"]


def test_rating_row_holds_no_link_to_invitation_event_or_rater(client, invitation, session):
    before = session.execute(select(Invitation.__table__)).all()
    rate(client, invitation["token"], comment="窗口服务很好\r\n谢谢")
    release_all()
    rating = session.scalar(select(Rating))
    columns = {c.key for c in inspect(Rating).columns}
    assert not columns & {"invitation_id", "event_id", "token", "phone", "openid", "ip"}
    assert (rating.score, rating.tags, rating.rater_group) == (9, ["热情周到"], "recipient")
    assert rating.comment == "窗口服务很好\n谢谢"
    assert rating.batch_at.minute == rating.batch_at.second == 0
    assert session.execute(select(Invitation.__table__)).all() == before  # never written


def test_counts_follow_the_release_of_the_ratings(client, session):
    tokens = [i["token"] for i in issue(3)]
    for token, score in zip(tokens, (9, 9, 3), strict=True):
        tags = ["推诿扯皮"] if score < 5 else ["热情周到"]
        assert rate(client, token, score=score, tags=tags).status_code == 201
    assert session.scalar(select(func.count()).select_from(RatingCount)) == 0
    release_all()
    histogram = dict(session.execute(select(RatingCount.score, RatingCount.count)).all())
    assert histogram == {9: 2, 3: 1}
    tags = dict(session.execute(select(RatingTagCount.tag, RatingTagCount.count)).all())
    assert tags == {"热情周到": 2, "推诿扯皮": 1}


def test_followup_phone_is_stored_encrypted_only_with_consent(client, session):
    with_consent, without = issue(2)
    rate(client, with_consent["token"], followup={"consent": True, "phone": "13900139000"})
    rate(client, without["token"], followup={"consent": False, "phone": "13900139001"})
    release_all()
    (contact,) = session.scalars(select(FollowupContact))
    assert "13900139000" not in contact.phone_enc
    from backend.wiring import vault

    assert vault().decrypt(contact.phone_enc) == "13900139000"


def test_abuse_signals_are_keyed_hashes_kept_apart(client, invitation, session):
    client.post(f"/api/v1/invitations/{invitation['token']}/rating",
                json={"score": 8}, headers={"User-Agent": "TestPhone/1.0"},
                environ_base={"REMOTE_ADDR": "10.1.2.3"})
    release_all()
    signal = session.scalar(select(AbuseSignal))
    assert signal.ip_hash and "10.1.2.3" not in signal.ip_hash
    assert signal.agent_hash and "TestPhone" not in signal.agent_hash


def test_public_endpoints_are_rate_limited_per_address(make_app):
    limited = make_app(RATELIMIT_PUBLIC="2/minute")
    client = limited.test_client()
    url = "/api/v1/invitations/" + "x" * 20 + "." + "y" * 27
    assert [client.get(url).status_code for _ in range(3)] == [404, 404, 429]
    response = client.get(url)
    assert response.json["code"] == 429 and int(response.headers["Retry-After"]) > 0


def test_ratings_count_only_valid_tokens(client, session):
    (good,) = issue(1, prefix="G")
    assert rate(client, good["token"]).status_code == 201
    release_all()
    assert session.scalar(select(func.count()).select_from(Rating)) == 1
