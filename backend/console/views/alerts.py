"""告警: filter, acknowledge and resolve alerts one at a time or in bulk, with a note.

Reads and writes go through backend/services/alerts/handling.py; who did what and when is on
the alert and in the audit trail. Resolving needs a note; alerts whose condition cleared are
resolved by publication and show 自动解除.
"""

from __future__ import annotations

from flask import flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from backend import wiring
from backend.console.blueprint import bp
from backend.errors import InvalidInput
from backend.services.alerts import handling

from ..access import READERS, WRITERS
from ..auth import current_user, login_required, safe_next, scope
from ..filters import parse_int
from ..labels import ALERT_STATES, ALERT_TYPES, alert_summary, period_name
from ..pages import Column, Page, Table, exporting, register_page
from .common import PAGE_SIZE, page_arg, recorder, subtitle, tz, unit_arg

COLUMNS = [Column("raised_at", "发生时间", "datetime"), Column("type_name", "类型"),
           Column("cadre", "干部"), Column("cadre_code", "干部编码"), Column("unit", "单位"),
           Column("period_name", "期间"), Column("summary", "详情"),
           Column("state_name", "状态"), Column("handling", "处理情况")]
DONE = {"acknowledge": "已确认 {n} 条告警", "resolve": "已解决 {n} 条告警"}
ONE = {"acknowledge": "已确认告警", "resolve": "已解决告警"}
UNCHANGED = "告警状态已变化，未作修改"


def state_arg() -> str | None:
    """Return the state filter: open by default, None for all."""
    state = request.args.get("state", "open")
    return state if state in ALERT_STATES else None


def handling_text(row: dict) -> str:
    """Return who acknowledged and resolved an alert, when, and the note, in one line."""
    parts = []
    for key, verb in (("acknowledged", "确认"), ("resolved", "解决")):
        if row[f"{key}_by"]:
            when = row[f"{key}_at"].astimezone(tz()).strftime("%m-%d %H:%M")
            parts.append(f"{row[f'{key}_by']} {when} {verb}")
    if row.get("note"):
        parts.append(row["note"])
    return "；".join(parts)


def labelled(rows: list[dict]) -> list[dict]:
    """Add names, summaries, local times and links to alert rows."""
    for row in rows:
        row["type_name"] = ALERT_TYPES.get(row["type"], row["type"])
        row["state_name"] = ALERT_STATES.get(row["state"], row["state"])
        row["summary"] = alert_summary(row.pop("details"))
        row["period_name"] = period_name(row["period"])
        row["raised_at"] = row["raised_at"].astimezone(tz())
        row["handling"] = handling_text(row)
        if row["cadre_id"]:
            row["url"] = url_for("console.official", cadre_id=row["cadre_id"])
    return rows


def build() -> Page:
    """Build the alerts inbox."""
    unit_scope, unit = unit_arg()
    state = state_arg()
    type = request.args.get("type") or None
    rows = handling.alerts_page(wiring.session(), unit_scope.units, state, type, page_arg(),
                                None if exporting() else PAGE_SIZE)
    counts = handling.state_counts(wiring.session(), unit_scope.units, type)
    title = f"{ALERT_STATES[state]}告警" if state else "全部告警"
    return Page("告警", "alerts", subtitle=subtitle(unit),
                tables=[Table("alerts", title, COLUMNS, labelled(rows), links={"cadre": "url"})],
                extra={"unit_filter": True, "alert_filter": True, "counts": counts,
                       "state": state or "all", "page_size": PAGE_SIZE,
                       "total": counts.get(state, 0) if state else sum(counts.values()),
                       "can_act": current_user().role in WRITERS})


def change(ids: list[int], action: str, note: str | None) -> list[int]:
    """Acknowledge or resolve visible alerts; audited; return the ids changed."""
    return handling.handle(wiring.session(), scope().units, ids, action, current_user().username,
                           wiring.now(), note, recorder())


def back() -> ResponseReturnValue:
    """Return to the inbox page the form was sent from."""
    target = request.form.get("next")
    return redirect(safe_next(target) if target else url_for("console.alerts"), 303)


def form_note() -> str | None:
    """Return the note of a form or JSON body."""
    body = request.get_json(silent=True) if request.is_json else None
    return request.form.get("note") or (body or {}).get("note")


@bp.route("/alerts/<int:alert_id>/<any(acknowledge, resolve):action>", methods=["POST"])
@login_required(WRITERS)
def act(alert_id: int, action: str) -> ResponseReturnValue:
    """Acknowledge or resolve one alert from the inbox form."""
    done = change([alert_id], action, form_note())
    flash(ONE[action] if done else UNCHANGED, "ok" if done else "warn")
    return back()


@bp.route("/alerts/bulk", methods=["POST"])
@login_required(WRITERS)
def bulk() -> ResponseReturnValue:
    """Acknowledge or resolve the alerts ticked in the inbox (resolving needs a note)."""
    ids = [parse_int(raw) for raw in request.form.getlist("ids")]
    if any(i is None for i in ids):
        raise InvalidInput("告警编号无效", {"ids": "告警编号应为数字"})
    action = request.form.get("action", "")
    done = change([i for i in ids if i], action, form_note())
    skipped = len(set(ids)) - len(done)
    message = DONE.get(action, "{n}").format(n=len(done))
    flash(message + (f"，{skipped} 条状态已变化未修改" if skipped else ""),
          "ok" if done else "warn")
    return back()


@bp.route("/api/alerts/<int:alert_id>/<any(acknowledge, resolve):action>", methods=["POST"])
@login_required(WRITERS)
def api_act(alert_id: int, action: str) -> ResponseReturnValue:
    """Acknowledge or resolve an alert over the JSON API (X-CSRFToken header)."""
    done = change([alert_id], action, form_note())
    alert = handling.visible_alert(wiring.session(), scope().units, alert_id)
    body = {"id": alert.id, "state": alert.state, "changed": bool(done),
            "message": ONE[action] if done else UNCHANGED, "note": alert.note,
            "acknowledged_by": alert.acknowledged_by, "resolved_by": alert.resolved_by}
    return jsonify(body), 200 if done else 409


register_page("/alerts", "alerts", build, READERS, template="console/alerts.html")
