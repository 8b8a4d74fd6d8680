"""Public rating API: read an invitation and submit a rating (the token is the capability)."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask.views import MethodView

from backend.api.mp_auth import OPTIONAL_MP_SECURITY, current_mp_session
from backend.api.parsing import Blueprint, documented, parse_json_body
from backend.extensions import db
from backend.public_limits import count_submission, opening_limit
from backend.schemas.ratings import (
    TOKEN_PATH,
    ClosedInvitationSchema,
    InvitationViewSchema,
    RatingSubmissionSchema,
    ReceiptSchema,
)
from backend.services.ratings import opens
from backend.services.ratings import submission as ratings
from backend.services.ratings.rules import RatedTarget, Submission
from backend.services.ratings.views import invitation_view
from backend.wiring import submit_context

blp = Blueprint("invitations", __name__, url_prefix="/api/v1",
                description="评价：凭链接令牌或小程序 scene 读取邀请并提交评价")


def signals(stamp: str | None) -> ratings.ClientSignals:
    """Collect abuse signals of the request (the openid comes from the mini-program session).

    The time on page comes from the signed opening stamp alone; a client's `opened_at` is
    accepted for compatibility and ignored.
    """
    mp_session = current_mp_session()
    return signals_of(request.environ, stamp, mp_session.openid_hash if mp_session else None)


def signals_of(environ: dict, stamp: str | None,
               openid_hash: str | None = None) -> ratings.ClientSignals:
    """Collect the abuse signals of a request from its WSGI environ (address, user agent)."""
    return ratings.ClientSignals(ip=environ.get("REMOTE_ADDR"),
                                 agent=environ.get("HTTP_USER_AGENT") or None,
                                 openid_hash=openid_hash, stamp=stamp)


def to_submission(data: dict) -> Submission:
    """Turn the JSON body (event or ballot form) into a Submission."""
    if data.get("ratings"):
        rated = [RatedTarget(r["target"], r["score"], tuple(r["tags"])) for r in data["ratings"]]
    else:
        rated = [RatedTarget(None, data.get("score"), tuple(data.get("tags") or ()))]
    followup = data.get("followup") or {}
    phone = followup.get("phone") if followup.get("consent") else None
    if followup.get("consent") and not phone:
        phone = ""
    return Submission(ratings=rated, comment=data.get("comment"), followup_phone=phone)


@blp.route("/invitations/<string:token>", parameters=TOKEN_PATH)
class InvitationResource(MethodView):
    decorators = (opening_limit(),)

    @blp.doc(security=OPTIONAL_MP_SECURITY)
    @blp.response(200, InvitationViewSchema)
    @blp.alt_response(404, description="链接无效")
    @blp.alt_response(409, schema=ClosedInvitationSchema, description="已评价")
    @blp.alt_response(410, schema=ClosedInvitationSchema, description="已过期或已撤销")
    def get(self, token):
        """Show an invitation: who is rated, for what, with which scale and tags."""
        current_mp_session()
        ctx = submit_context()
        invitation = ratings.open_invitation(db.session, ctx, token)
        view = invitation_view(invitation, ctx.tz)
        # The mini-program reads this when a person opens it (scanners do not call the API):
        # record the first opening. Reading never consumes the token.
        opens.note_open(db.session, ctx.sealer, invitation, ctx.now, ctx.tz)
        return {**view, "stamp": ctx.stamps.issue(invitation.token, ctx.now)}


RATING_BODY = RatingSubmissionSchema()


@blp.route("/invitations/<string:token>/rating", parameters=TOKEN_PATH)
class RatingResource(MethodView):
    """The busiest public endpoint: it counts its own rate limit and reads its own body.

    The limit is `submission_limit`'s (backend.public_limits.count_submission, which also
    verifies the token once for the whole request), the body is read by the API's parser
    with RatingSubmissionSchema, and the receipt is answered as ReceiptSchema dumps it; the
    flask-smorest decorators only describe the operation in the OpenAPI document.
    """

    @documented(blp.doc(security=OPTIONAL_MP_SECURITY),
                blp.arguments(RATING_BODY),
                blp.response(201, ReceiptSchema),
                blp.alt_response(404, description="链接无效"),
                blp.alt_response(409, schema=ClosedInvitationSchema, description="已评价"),
                blp.alt_response(410, schema=ClosedInvitationSchema,
                                 description="已过期或已撤销"))
    def post(self, token):
        """Submit the rating; the link is used up by the first successful submission."""
        raw = count_submission()
        data = parse_json_body(RATING_BODY)
        ctx = submit_context()
        receipt = ratings.submit_verified(db.session, ctx, raw, to_submission(data),
                                          signals(data.get("stamp")))
        current_app.extensions["metrics"].count_rating("ballot" if data.get("ratings") else "event")
        return jsonify(receipt=receipt), 201
