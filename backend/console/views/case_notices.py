"""Case notices in the console: mark them read, and say where notices should also be sent.

The list and the unread count show on the cases inbox (views/cases.py); a user may leave a
mobile (SMS) and a mini-program openid (WeChat subscribe message) for the same notices.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.console.blueprint import bp
from backend.services.accounts import audit
from backend.services.cases import notices

from ..auth import current_user, login_required
from .cases import CASE_READERS


@bp.route("/cases/notices/read", methods=["POST"])
@login_required(CASE_READERS)
def case_notices_read() -> ResponseReturnValue:
    """Mark all of the user's case notices read."""
    marked = notices.mark_read(wiring.session(), current_user().id, wiring.now())
    wiring.session().commit()
    flash(f"已将 {marked} 条通知标为已读" if marked else "没有未读通知", "ok")
    return redirect(url_for("console.cases")), 303


@bp.route("/cases/notices/contact", methods=["POST"])
@login_required(CASE_READERS)
def case_notices_contact() -> ResponseReturnValue:
    """Set where the user's case notices are also sent (blank: unchanged); audited."""
    user = current_user()
    form = request.form
    try:
        if form.get("clear"):
            notices.set_contact(user, wiring.vault(), "", "")
        else:
            notices.set_contact(user, wiring.vault(), form.get("phone") or None,
                                form.get("openid") or None)
    except errors.InvalidInput as exc:
        wiring.session().rollback()
        return render_template("console/message.html", title="通知方式未保存",
                               message=exc.message), 422
    audit.record(wiring.session(), user.username, "account.notice_contact", f"user:{user.id}",
                 wiring.now(), {"phone": bool(user.phone_enc), "openid": bool(user.openid_enc)},
                 request.remote_addr)
    wiring.session().commit()
    flash("已保存通知方式", "ok")
    return redirect(url_for("console.cases")), 303
