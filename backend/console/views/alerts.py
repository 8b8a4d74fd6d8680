"""告警: filter, acknowledge and resolve alerts, recording who did it and when."""

from __future__ import annotations

from flask import abort, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.extensions import db
from backend.services.accounts import audit
from backend.storage.transactions import begin_write

from ..access import READERS, WRITERS
from ..auth import current_user, login_required, safe_next, scope
from ..labels import ALERT_STATES, ALERT_TYPES, alert_summary
from ..pages import Column, Page, Table, exporting, register_page
from ..queries import alerts as queries
from .common import PAGE_SIZE, page_arg, tz, unit_arg

COLUMNS = [Column("raised_at", "发生时间", "datetime"), Column("type_name", "类型"),
           Column("cadre", "干部"), Column("unit", "单位"), Column("period", "期间"),
           Column("summary", "详情"), Column("state_name", "状态"),
           Column("acknowledged_by", "确认人"), Column("acknowledged_at", "确认时间", "datetime"),
           Column("resolved_by", "解决人"), Column("resolved_at", "解决时间", "datetime")]
ACTIONS = {"acknowledge": ("alert.acknowledge", "已确认告警"), "resolve": ("alert.resolve",
                                                                     "已解决告警")}


def state_arg() -> str | None:
    """Return the state filter: open by default, None for all."""
    state = request.args.get("state", "open")
    return state if state in ALERT_STATES else None


def labelled(rows: list[dict]) -> list[dict]:
    """Add names, summaries, local times and links to alert rows."""
    for row in rows:
        row["type_name"] = ALERT_TYPES.get(row["type"], row["type"])
        row["state_name"] = ALERT_STATES.get(row["state"], row["state"])
        row["summary"] = alert_summary(row.pop("details"))
        for key in ("raised_at", "acknowledged_at", "resolved_at"):
            if row[key]:
                row[key] = row[key].astimezone(tz())
        if row["cadre_id"]:
            row["url"] = url_for("console.official", cadre_id=row["cadre_id"])
    return rows


def build() -> Page:
    """Build the alerts inbox."""
    unit_scope, unit = unit_arg()
    state = state_arg()
    type = request.args.get("type") or None
    rows = queries.alerts_page(db.session, unit_scope, state, type, page_arg(),
                               None if exporting() else PAGE_SIZE)
    counts = queries.state_counts(db.session, unit_scope, type)
    title = f"{ALERT_STATES[state]}告警" if state else "全部告警"
    return Page("告警", "alerts", subtitle=unit.name if unit else "全部单位",
                tables=[Table("alerts", title, COLUMNS, labelled(rows), links={"cadre": "url"})],
                extra={"unit_filter": True, "alert_filter": True, "counts": counts,
                       "state": state or "all", "page_size": PAGE_SIZE,
                       "total": counts.get(state, 0) if state else sum(counts.values()),
                       "can_act": current_user().role in WRITERS})


def change(alert_id: int, action: str) -> tuple[bool, str]:
    """Acknowledge or resolve a visible alert; audited; return (changed, message)."""
    begin_write(db.session)
    alert = queries.visible_alert(db.session, scope(), alert_id)
    if alert is None:
        abort(404)
    user, now = current_user().username, wiring.now()
    changed = (queries.acknowledge(alert, user, now) if action == "acknowledge"
               else queries.resolve(db.session, alert, user, now))
    if changed:
        audit.record(db.session, user, ACTIONS[action][0], f"alert:{alert.id}", now,
                     {"type": alert.type, "period": alert.period}, request.remote_addr)
    db.session.commit()
    return changed, ACTIONS[action][1] if changed else "告警状态已变化，未作修改"


@bp.route("/alerts/<int:alert_id>/<any(acknowledge, resolve):action>", methods=["POST"])
@login_required(WRITERS)
def act(alert_id: int, action: str) -> ResponseReturnValue:
    """Acknowledge or resolve an alert from the inbox form."""
    changed, message = change(alert_id, action)
    flash(message, "ok" if changed else "warn")
    return redirect(safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("console.alerts"))


@bp.route("/api/alerts/<int:alert_id>/<any(acknowledge, resolve):action>", methods=["POST"])
@login_required(WRITERS)
def api_act(alert_id: int, action: str) -> ResponseReturnValue:
    """Acknowledge or resolve an alert over the JSON API (X-CSRFToken header)."""
    changed, message = change(alert_id, action)
    alert = queries.visible_alert(db.session, scope(), alert_id)
    body = {"id": alert.id, "state": alert.state, "changed": changed, "message": message,
            "acknowledged_by": alert.acknowledged_by, "resolved_by": alert.resolved_by}
    return jsonify(body), 200 if changed else 409


register_page("/alerts", "alerts", build, READERS, template="console/alerts.html")
