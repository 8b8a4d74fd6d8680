"""What the console's decision forms share: refusals as Chinese 4xx pages, and republishing.

A refused decision (wrong role, a decided item, bad input) answers its status with the
reason and a link back, and changes nothing. A decision that excluded ratings queues the
publication of the periods that counted them; publication pushes only changed documents.
"""

from __future__ import annotations

import logging

from flask import flash, render_template
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.services.fraud import stale_periods
from workers.jobs.scores import queue_republication

log = logging.getLogger(__name__)
STATUS = {errors.Forbidden: 403, errors.NotFound: 404, errors.Conflict: 409,
          errors.InvalidInput: 422}
REFUSED = (errors.Forbidden, errors.NotFound, errors.Conflict, errors.InvalidInput)


def refused(exc: errors.DomainError, back: str) -> ResponseReturnValue:
    """Roll back and answer a refusal with its status and Chinese reason."""
    wiring.session().rollback()
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    return render_template("console/message.html", title="未能办理", message=exc.message,
                           back=back), status


def republish(months: set[str]) -> None:
    """Queue the periods whose published scores counted ratings just excluded; say so."""
    periods = stale_periods(wiring.session(), months)
    if not periods:
        return
    try:
        queue_republication(periods)
    except Exception:  # the broker is down: the nightly publication catches up
        log.exception("republication of %s not queued", periods)
        flash(f"评价已剔除；重新发布 {'、'.join(periods)} 暂未排上队列，将随每日发布更新", "warn")
        return
    flash(f"已安排重新发布：{'、'.join(periods)}（只推送有变化的评分）", "ok")
