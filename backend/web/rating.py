"""The public mobile rating page: GET shows the form, POST submits it (the token is the capability).

Same rules as the JSON API (backend.api.invitations): the token is verified by its signature
before any query, opening never consumes it, and a successful submission consumes it once.
The page's script reports the first opening with a beacon (POST /r/<token>/opened, carrying
the form's CSRF token): link scanners and prefetchers fetch the page but run no script, so
the GET itself records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict

from backend import errors
from backend.extensions import db
from backend.public_limits import count_submission, opening_limit
from backend.services.ratings import opens
from backend.services.ratings import submission as ratings
from backend.services.ratings.rules import ABSTAIN_LABEL, RatedTarget, Submission
from backend.services.ratings.views import invitation_view
from backend.wiring import submit_context, token_codec

bp = Blueprint("rating", __name__)

ABSTAIN = "abstain"
CSRF_MESSAGE = "页面已过期或来源无法验证，请确认您的选择后重新提交。"
CLOSED = {
    "used": (409, "已评价", "该链接已提交过评价，每个链接只能评价一次。感谢您的参与！"),
    "expired": (410, "链接已过期", "评价链接已超过有效期，无法再提交评价。"),
    "revoked": (410, "链接已撤销", "该评价链接已被撤销，无需再评价。"),
    "invalid": (404, "链接无效", "请核对链接是否完整，或重新扫描二维码。"),
    "busy": (429, "请求过于频繁", "请稍候片刻再试。"),
}


@dataclass
class FormState:
    """What the rater has chosen so far, kept when the form comes back with errors."""
    scores: dict[str, str] = field(default_factory=dict)
    tags: dict[str, list[str]] = field(default_factory=dict)
    comment: str = ""
    consent: bool = False
    phone: str = ""
    stamp: str = ""


def render_stamp(ctx: ratings.SubmitContext) -> str:
    """Return the signed opening stamp of this link's page, opened now."""
    return ctx.stamps.issue(ctx.codec.verify(request.view_args["token"]) or "", ctx.now)


def client_signals(state: FormState) -> ratings.ClientSignals:
    """Collect the abuse signals of the form submission (time on page: from the stamp)."""
    return ratings.ClientSignals(ip=request.remote_addr,
                                 agent=request.user_agent.string or None,
                                 stamp=state.stamp or None)


def open_view(token: str, ctx: ratings.SubmitContext) -> dict:
    """Return what the rater is shown; raise 404 / 409 / 410 (signature checked first)."""
    return invitation_view(ratings.open_invitation(db.session, ctx, token), ctx.tz)


def target_codes(view: dict) -> list[str]:
    """Return the codes of the rated officials, in page order."""
    return [target["code"] for target in view["targets"]]


def read_form(form: MultiDict, codes: list[str]) -> FormState:
    """Read the rater's choices from the posted form."""
    return FormState(scores={code: form.get(f"score-{code}", "").strip() for code in codes},
                     tags={code: form.getlist(f"tags-{code}") for code in codes},
                     comment=form.get("comment", ""), consent=form.get("followup") == "yes",
                     phone=form.get("followup_phone", "").strip(),
                     stamp=form.get("rendered", ""))


def parse_score(raw: str) -> object:
    """Return the score as the rules expect it: an int, None to abstain, else the raw text."""
    if raw == ABSTAIN:
        return None
    return int(raw) if raw.isdecimal() and len(raw) <= 3 else raw


def to_submission(state: FormState, view: dict) -> Submission:
    """Turn the form's choices into a Submission."""
    template = view["template"]
    rated = [RatedTarget(code, parse_score(state.scores[code]), tuple(state.tags[code]))
             for code in target_codes(view)]
    comment = state.comment if template["comment"]["enabled"] else None
    phone = state.phone if template["followup"]["enabled"] and state.consent else None
    return Submission(ratings=rated, comment=comment, followup_phone=phone)


def target_errors(found: dict, code: str, item: dict, state: FormState) -> None:
    """Copy one target's score and tag errors under that target's field names."""
    for name in ("score", "tags"):
        if name in item:
            found[f"{name}-{code}"] = item[name]
    if "score" in item and not state.scores.get(code):
        found[f"score-{code}"] = "请选择分数"


def field_errors(reported: dict, codes: list[str], state: FormState) -> dict[str, str]:
    """Map the rules' errors to the page's field names, in Chinese."""
    found: dict[str, str] = {}
    per_target = reported.get("ratings")
    items = per_target if isinstance(per_target, dict) else {"0": reported}
    for index, item in items.items():
        if int(index) < len(codes):
            target_errors(found, codes[int(index)], item, state)
    if isinstance(per_target, str):
        found["form"] = per_target
    if "comment" in reported:
        found["comment"] = reported["comment"]
    followup = reported.get("followup")
    if isinstance(followup, dict):
        found["followup_phone"] = followup.get("phone") if state.phone else "请填写回访手机号"
    elif followup:
        found["followup"] = followup
    return found or {"form": "提交内容有误，请检查后重试。"}


def render_form(view: dict, state: FormState, ctx: ratings.SubmitContext,
                errors_found: dict | None = None, status: int = 200) -> tuple[str, int]:
    """Render the rating form with the rater's choices and any field errors."""
    template = view["template"]
    by_polarity = {p: [t["label"] for t in template["tags"] if t["polarity"] == p]
                   for p in ("positive", "negative")}
    token = request.view_args["token"]
    return render_template("rating/form.html", view=view, t=template, state=state,
                           errors=errors_found or {}, tags=by_polarity,
                           stamp=state.stamp or render_stamp(ctx), abstain=ABSTAIN,
                           abstain_label=ABSTAIN_LABEL,
                           action=url_for("rating.submit", token=token),
                           beacon=url_for("rating.opened", token=token),
                           ), status


def render_closed(kind: str) -> tuple[str, int]:
    """Render the page of a link that cannot be used (any more)."""
    status, title, message = CLOSED[kind]
    return render_template("rating/closed.html", kind=kind, title=title,
                           message=message), status


@bp.get("/r/<token>")
@opening_limit()
def show(token: str) -> ResponseReturnValue:
    """Show the rating form; opening never consumes the link."""
    ctx = submit_context()
    return render_form(open_view(token, ctx), FormState(), ctx)


@bp.post("/r/<token>")
def submit(token: str) -> ResponseReturnValue:
    """Submit the form; the first successful submission uses the link up.

    The rate limit is `submission_limit`'s, counted here (count_submission, which verifies
    the token for the submission too) rather than by Flask-Limiter's decorator.
    """
    raw = count_submission()
    ctx = submit_context()
    view = open_view(token, ctx)
    state = read_form(request.form, target_codes(view))
    try:
        receipt = ratings.submit_verified(db.session, ctx, raw, to_submission(state, view),
                                          client_signals(state))
    except errors.InvalidInput as exc:
        db.session.rollback()  # release the write lock before rendering
        found = field_errors(exc.errors, target_codes(view), state)
        return render_form(view, state, ctx, found, 422)
    current_app.extensions["metrics"].count_rating(view["kind"])
    return render_template("rating/thanks.html", view=view, receipt=receipt)


@bp.post("/r/<token>/opened")
@opening_limit()
def opened(token: str) -> ResponseReturnValue:
    """Record the first opening of the page by a person (the page's script sends this)."""
    ctx = submit_context()
    invitation = ratings.open_invitation(db.session, ctx, token)
    opens.note_open(db.session, ctx.sealer, invitation, ctx.now, ctx.tz)
    return "", 204


def beacon_refused(token: str) -> ResponseReturnValue:
    """Answer a beacon without a valid CSRF token: 404 when forged, else 400 (no query)."""
    return ("", 404) if token_codec().verify(token) is None else ("", 400)


@bp.errorhandler(errors.NotFound)
def invalid_link(_exc: errors.NotFound) -> ResponseReturnValue:
    """Answer an unknown or forged link."""
    return render_closed("invalid")


@bp.errorhandler(errors.Conflict)
def used_link(_exc: errors.Conflict) -> ResponseReturnValue:
    """Answer a link already used."""
    return render_closed("used")


@bp.errorhandler(errors.Gone)
def gone_link(exc: errors.Gone) -> ResponseReturnValue:
    """Answer an expired or revoked link."""
    return render_closed("revoked" if exc.body.get("status") == "revoked" else "expired")


@bp.errorhandler(429)
def too_many(_exc: Exception) -> ResponseReturnValue:
    """Answer a rate-limited address with a page (add_retry_after adds Retry-After)."""
    return render_closed("busy")


@bp.errorhandler(CSRFError)
def csrf_refused(_exc: CSRFError) -> ResponseReturnValue:
    """Refuse the submission (400) but give the form back with the choices kept."""
    if request.endpoint == "rating.opened":
        return beacon_refused(request.view_args["token"])
    ctx = submit_context()
    try:
        view = open_view(request.view_args["token"], ctx)
    except errors.NotFound:
        return render_closed("invalid")
    except errors.Conflict:
        return render_closed("used")
    except errors.Gone as exc:
        return gone_link(exc)
    state = read_form(request.form, target_codes(view))
    return render_form(view, state, ctx, {"form": CSRF_MESSAGE}, 400)
