"""推送: replaying dead letters; the former push page's addresses, now 评分发布与推送."""

from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.services.accounts import audit
from backend.services.outbox import push

from ..access import ORG, ORG_READERS
from ..auth import current_user, login_required


def moved(path: str) -> str:
    """Return the new address with this request's query string, untouched."""
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


@bp.route("/push", endpoint="push")
@login_required(ORG_READERS)
def push_page() -> ResponseReturnValue:
    """Send the old push page's address to the scores page, filters kept."""
    return redirect(moved(url_for("console.scores")), 301)


@bp.route("/push/export.<any(xlsx, csv):fmt>", endpoint="push_export")
@login_required(ORG_READERS)
def push_export(fmt: str) -> ResponseReturnValue:
    """Send the old push export's address to the scores page's export."""
    return redirect(moved(url_for("console.scores_export", fmt=fmt)), 301)


@bp.route("/push/replay", methods=["POST"])
@login_required(ORG)
def replay() -> ResponseReturnValue:
    """Requeue one dead letter, or all of them; audited."""
    webhook_id = request.form.get("webhook_id", "").strip()[:80]
    count = push.replay(wiring.session(), ids=[webhook_id] if webhook_id else None,
                        now=wiring.now())
    audit.record(wiring.session(), current_user().username, "push.replay",
                 webhook_id or "dead_letters", wiring.now(), {"count": count},
                 request.remote_addr)
    wiring.session().commit()
    flash(f"已重新排队 {count} 条消息，将在一分钟内推送。", "ok")
    return redirect(url_for("console.scores"))
