"""Mini-program API: log in with a wx.login code, record subscribe-message consent."""

from __future__ import annotations

import logging

from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate

from backend import wiring
from backend.api.mp_auth import (
    MP_SECURITY,
    current_mp_session,
    require_mp_session,
    sign_session_id,
)
from backend.api.parsing import Blueprint
from backend.extensions import db, limiter
from backend.http_errors import NOT_CONFIGURED, unavailable, wechat_unavailable
from backend.integrations import IntegrationError
from backend.schemas.base import Schema
from backend.services.invitations import mp

log = logging.getLogger(__name__)
blp = Blueprint("mp", __name__, url_prefix="/api/v1", description="微信小程序登录与订阅消息授权")

ASCII_TEXT = validate.Regexp(r"^[\x21-\x7e]+$", error="只能包含可见的 ASCII 字符")


class MpLoginSchema(Schema):
    code = fields.String(required=True, validate=[validate.Length(1, 128), ASCII_TEXT],
                         metadata={"description": "小程序 wx.login 返回的登录凭证 code"})


class MpSessionSchema(Schema):
    session_token = fields.String(
        required=True, metadata={"description": "会话令牌，放在 Authorization: Bearer 中"})
    expires_in = fields.Integer(required=True, metadata={"description": "有效期（秒）"})


class SubscriptionsSchema(Schema):
    accepted = fields.List(
        fields.String(validate=[validate.Length(1, mp.TEMPLATE_ID_MAX), ASCII_TEXT]),
        required=True, validate=validate.Length(1, 20),
        metadata={"description": "用户在 wx.requestSubscribeMessage 中同意的模板编号"})


class CreditsSchema(Schema):
    credits = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                          metadata={"description": "每个模板当前可用的订阅消息次数"})


def public_rate_limit() -> str:
    """Return the per-address limit of public endpoints."""
    return current_app.config["RATELIMIT_PUBLIC"]


@blp.route("/mp/session")
class MpSessionResource(MethodView):
    @limiter.limit(public_rate_limit)
    @blp.arguments(MpLoginSchema)
    @blp.response(200, MpSessionSchema, description="已登录")
    def post(self, data):
        """Exchange a wx.login code for a session token (openid stays on the server)."""
        wechat = wiring.wechat_client()
        if wechat is None:
            raise unavailable(NOT_CONFIGURED)
        try:
            session_id, expires_in = mp.create_session(
                db.session, wechat, wiring.vault(), data["code"], wiring.now())
        except IntegrationError as exc:
            raise wechat_unavailable(exc) from exc
        db.session.commit()
        return {"session_token": sign_session_id(session_id), "expires_in": expires_in}


@blp.route("/mp/subscriptions")
class SubscriptionsResource(MethodView):
    @limiter.limit(public_rate_limit)
    @require_mp_session
    @blp.doc(security=MP_SECURITY)
    @blp.arguments(SubscriptionsSchema)
    @blp.response(200, CreditsSchema, description="已记录")
    def post(self, data):
        """Record the subscribe-message templates the user accepted; return credits held."""
        mp_session = current_mp_session(required=True)
        credits = mp.record_subscriptions(db.session, mp_session, data["accepted"],
                                          wiring.now())
        db.session.commit()
        return {"credits": credits}
