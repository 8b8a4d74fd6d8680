"""QR codes and mini-program codes of rating links; mini-program login and subscriptions."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import timedelta

import pytest
from itsdangerous import Signer
from PIL import Image
from pyzbar.pyzbar import decode
from sqlalchemy import event, select, update

from backend import wiring
from backend.api.mp_auth import current_mp_session, session_id_of
from backend.extensions import db
from backend.integrations import MemoryTokenCache, RedisTokenCache, WeChatClient
from backend.models import MpSession
from backend.services.invitations import mp
from backend.services.invitations.qr import qr_png
from backend.services.invitations.tokens import new_token
from tests.conftest import TEST_KEYS
from tests.fakes import FakeWeChat

BASE = "https://ssp.example.cn"
SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def fake():
    with FakeWeChat(appid="wx_qr_mp_test", secret="qr-mp-secret") as server:
        yield server


def wechat_app(make_app, base_url: str, appid: str, secret: str, **overrides):
    """Build an app whose WeChat client points at base_url."""
    return make_app(WECHAT_API_BASE=base_url, WECHAT_APPID=appid, WECHAT_SECRET=secret,
                    RATELIMIT_PUBLIC="1000/minute", **overrides)


def close_wechat(built) -> None:
    """Close the HTTP connections of an app's WeChat client, if it built one."""
    client = built.extensions.get("wiring", {}).get("wechat")
    if client is not None:
        client.close()


@pytest.fixture
def wx_app(make_app, fake):
    built = wechat_app(make_app, fake.base_url, fake.appid, fake.secret)
    yield built
    close_wechat(built)


@pytest.fixture
def wx(wx_app):
    return wx_app.test_client()


@pytest.fixture
def raw():
    return new_token()


@pytest.fixture
def url_token(app, raw):
    return wiring.token_codec(app).url_token(raw)


@contextmanager
def counting_statements(app):
    """Count the SQL statements executed on the app's engine inside the block."""
    executed: list[str] = []

    def record(conn, cursor, statement, *args):
        executed.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def decoded(png: bytes) -> str:
    """Return the text of the one QR code in a PNG."""
    (symbol,) = decode(Image.open(io.BytesIO(png)))
    return symbol.data.decode()


def log_in(client, fake, openid: str = "o_test_user") -> str:
    """Log a mini-program user in and return the session token."""
    response = client.post("/api/v1/mp/session", json={"code": fake.issue_login_code(openid)})
    assert response.status_code == 200, response.json
    return response.json["session_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- QR codes ----------------------------------------------------------------------------

def test_png_code_decodes_to_exactly_the_rating_url(client, url_token):
    response = client.get(f"/r/{url_token}/qr.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    url = decoded(response.data)
    assert url == f"{BASE}/r/{url_token}"
    assert len(url) < 80


def test_svg_code_is_xml_with_a_path(client, url_token):
    response = client.get(f"/r/{url_token}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    root = ET.fromstring(response.data)  # noqa: S314  (our own output, not untrusted input)
    assert root.tag == f"{SVG_NS}svg"
    assert any(path.get("d") for path in root.iter(f"{SVG_NS}path"))


def test_scene_gives_the_same_code_as_the_url_token(client, app, raw, url_token):
    scene = wiring.token_codec(app).scene(raw)
    assert len(scene) <= 32
    for kind in ("qr.png", "qr.svg"):
        assert client.get(f"/r/{scene}/{kind}").data == client.get(f"/r/{url_token}/{kind}").data


def test_link_signed_with_an_older_key_draws_a_link_signed_with_the_newest(client, raw):
    old = Signer([TEST_KEYS[1]], salt="invitation-url").sign(raw).decode()
    newest = Signer([TEST_KEYS[0]], salt="invitation-url").sign(raw).decode()
    assert old != newest
    assert decoded(client.get(f"/r/{old}/qr.png").data) == f"{BASE}/r/{newest}"


def forgeries(url_token: str) -> list[str]:
    """Return the ways a token gets damaged or faked."""
    token, _, signature = url_token.partition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_token = new_token() + "." + signature
    return [url_token[:-3], token, flipped, other_token, "x" * 20 + ".abcdefgh",
            Signer(["not-our-key"], salt="invitation-url").sign(token).decode(), "短"]


@pytest.mark.parametrize("kind", ["qr.png", "qr.svg", "mpcode.jpg"])
def test_forged_tokens_are_404_without_touching_the_database(client, app, url_token, kind):
    with counting_statements(app) as executed:
        responses = [client.get(f"/r/{forged}/{kind}") for forged in forgeries(url_token)]
    assert executed == []
    for response in responses:
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "链接无效" in response.get_data(as_text=True)


def test_valid_codes_are_drawn_without_touching_the_database(client, app, url_token):
    with counting_statements(app) as executed:
        assert client.get(f"/r/{url_token}/qr.png").status_code == 200
    assert executed == []


def test_second_request_is_served_from_the_drawing_cache(client, url_token):
    client.get(f"/r/{url_token}/qr.png")
    hits = qr_png.cache_info().hits
    client.get(f"/r/{url_token}/qr.png")
    assert qr_png.cache_info().hits == hits + 1


def test_codes_are_cacheable_for_a_day_and_answer_304_to_their_etag(client, url_token):
    response = client.get(f"/r/{url_token}/qr.svg")
    assert response.headers["Cache-Control"] == "public, max-age=86400, immutable"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    etag = response.headers["ETag"]
    assert etag
    again = client.get(f"/r/{url_token}/qr.svg", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


# -- mini-program codes ------------------------------------------------------------------

def test_mini_program_code_comes_from_wechat_once_then_from_cache(wx, fake, app, raw,
                                                                   url_token):
    calls = fake.calls["getwxacodeunlimit"]
    first = wx.get(f"/r/{url_token}/mpcode.jpg")
    assert first.status_code == 200 and first.mimetype == "image/jpeg"
    assert first.data.startswith(b"\xff\xd8")
    assert fake.codes[-1]["scene"] == wiring.token_codec(app).scene(raw)
    assert (fake.codes[-1]["page"], fake.codes[-1]["env_version"]) == ("pages/rate/index",
                                                                        "release")
    second = wx.get(f"/r/{wiring.token_codec(app).scene(raw)}/mpcode.jpg")
    assert second.data == first.data
    assert fake.calls["getwxacodeunlimit"] == calls + 1


def test_mini_program_code_without_wechat_is_a_503_page(client, url_token):
    response = client.get(f"/r/{url_token}/mpcode.jpg")
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "未配置" in response.get_data(as_text=True)


@pytest.mark.redis
def test_mini_program_code_cache_on_redis_spares_wechat(fake, redis_url):
    import redis

    connection = redis.Redis.from_url(redis_url)
    cache = RedisTokenCache(connection, prefix="ssp-test:")
    client = WeChatClient(fake.base_url, fake.appid, fake.secret, cache, timeout=2.0)
    scene, calls = f"{new_token()}.abcdefgh", fake.calls["getwxacodeunlimit"]
    try:
        first = mp.mini_program_code(client, scene, "pages/rate/index", "release", cache)
        second = mp.mini_program_code(client, scene, "pages/rate/index", "release", cache)
    finally:
        client.close()
        connection.close()
    assert first == second and first.startswith(b"\xff\xd8")
    assert fake.calls["getwxacodeunlimit"] == calls + 1


def test_memory_image_cache_forgets_the_least_recently_used():
    cache = MemoryTokenCache(maxsize=2)
    cache.set("a", "1", 60)
    cache.set("b", "2", 60)
    cache.get("a")
    cache.set("c", "3", 60)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1", None, "3")


# -- mini-program sessions ---------------------------------------------------------------

def test_login_code_gives_a_session_token_that_reveals_nothing(wx, fake, session, app):
    code = fake.issue_login_code("o_private_openid")
    response = wx.post("/api/v1/mp/session", json={"code": code})
    assert response.status_code == 200
    assert set(response.json) == {"session_token", "expires_in"}
    assert response.json["expires_in"] == 7200
    stored = session.get(MpSession, session_id_of(response.json["session_token"]))
    vault = wiring.vault(app)
    session_key = vault.decrypt(stored.session_key_enc)
    assert session_key and vault.decrypt(stored.openid_enc) == "o_private_openid"
    assert stored.openid_hash == vault.lookup_hash("openid", "o_private_openid")
    assert "o_private_openid" not in stored.openid_enc + stored.openid_hash
    assert session_key not in stored.session_key_enc
    body = response.get_data(as_text=True)
    assert "o_private_openid" not in body and session_key not in body


def test_reused_login_code_is_401(wx, fake):
    code = fake.issue_login_code("o_twice")
    assert wx.post("/api/v1/mp/session", json={"code": code}).status_code == 200
    again = wx.post("/api/v1/mp/session", json={"code": code})
    assert again.status_code == 401
    assert "wx.login" in again.json["message"]


def test_unreachable_wechat_is_503_with_the_error_shape(make_app, fake):
    cut_off = wechat_app(make_app, "http://127.0.0.1:1", fake.appid, fake.secret)
    response = cut_off.test_client().post("/api/v1/mp/session", json={"code": "abc"})
    close_wechat(cut_off)
    assert response.status_code == 503
    assert set(response.json) == {"code", "message"} and response.json["code"] == 503
    assert "微信" in response.json["message"]


def test_unconfigured_wechat_is_503(client):
    response = client.post("/api/v1/mp/session", json={"code": "abc"})
    assert response.status_code == 503 and "未配置" in response.json["message"]


@pytest.mark.parametrize("body", [{}, {"code": 5}, {"code": ""}, {"code": "a b"}])
def test_malformed_login_body_is_422_naming_code(client, body):
    response = client.post("/api/v1/mp/session", json=body)
    assert response.status_code == 422 and "code" in response.json["errors"]


def test_login_is_rate_limited_per_address(make_app):
    limited = make_app(RATELIMIT_PUBLIC="2/minute").test_client()
    statuses = [limited.post("/api/v1/mp/session", json={"code": "abc"}).status_code
                for _ in range(3)]
    assert statuses == [503, 503, 429]


# -- subscriptions and the session helper ------------------------------------------------

def test_accepted_templates_add_credits_that_accumulate(wx, fake):
    auth = bearer(log_in(wx, fake))
    first = wx.post("/api/v1/mp/subscriptions", json={"accepted": ["T1", "T2", "T1"]},
                    headers=auth)
    assert first.status_code == 200 and first.json == {"credits": {"T1": 2, "T2": 1}}
    again = wx.post("/api/v1/mp/subscriptions", json={"accepted": ["T1"]}, headers=auth)
    assert again.json == {"credits": {"T1": 3}}


def test_credits_are_shared_by_every_session_of_a_user_and_capped(wx, fake, session):
    wx.post("/api/v1/mp/subscriptions", json={"accepted": ["T9"]},
            headers=bearer(log_in(wx, fake, "o_same")))
    token = log_in(wx, fake, "o_same")
    mp_session = session.get(MpSession, session_id_of(token))
    assert mp.record_subscriptions(session, mp_session, {"T9": 500}) == {"T9": mp.CREDIT_CAP}


def test_subscriptions_need_a_valid_unexpired_session(wx, fake, session):
    token = log_in(wx, fake)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    stranger = Signer(["not-our-key"], salt="mp-session").sign(session_id_of(token)).decode()
    session.execute(update(MpSession).where(MpSession.id == session_id_of(token))
                    .values(expires_at=wiring.now() - timedelta(seconds=1)))
    session.commit()
    for headers in ({}, bearer(forged), bearer(stranger), bearer(token)):
        response = wx.post("/api/v1/mp/subscriptions", json={"accepted": ["T1"]},
                           headers=headers)
        assert response.status_code == 401 and response.json["code"] == 401


def test_session_signed_with_an_older_key_is_still_accepted(wx, fake):
    session_id = session_id_of(log_in(wx, fake))
    old = Signer([TEST_KEYS[1]], salt="mp-session").sign(session_id).decode()
    response = wx.post("/api/v1/mp/subscriptions", json={"accepted": ["T1"]},
                       headers=bearer(old))
    assert response.status_code == 200


def test_current_mp_session_is_optional_but_refuses_a_bad_token(make_app, fake, session):
    extra = wechat_app(make_app, fake.base_url, fake.appid, fake.secret)

    @extra.get("/api/v1/whoami")
    def whoami():
        mp_session = current_mp_session(required=False)
        return {"session": mp_session.id if mp_session else None}

    client = extra.test_client()
    token = log_in(client, fake)
    close_wechat(extra)
    assert client.get("/api/v1/whoami").json == {"session": None}
    assert client.get("/api/v1/whoami", headers=bearer(token)).json == {
        "session": session_id_of(token)}
    assert client.get("/api/v1/whoami", headers=bearer("junk")).status_code == 401
    assert session.scalar(select(MpSession.id).where(MpSession.id == session_id_of(token)))
