"""The official's own report page: a signed, expiring link shows that official's aggregates.

Issued by the organisation department (console action or `flask reports own-link`). It shows
the headline, the groups (one below its minimum as 样本不足 only), the tags of ok groups, the
monthly and quarterly trend, the standing as a percentile and the flags with their reasons:
no comment, no rating, nothing finer than the month. A forged link is 404, an expired one 410.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from backend import errors, wiring
from backend.extensions import db, limiter
from backend.public_limits import public_limit
from backend.services.reports.charts import bar_chart, trend_chart
from backend.services.reports.own_links import own_view
from backend.services.reports.reading import reading
from backend.services.reports.results import find_official, official_report

bp = Blueprint("own_report", __name__)


@bp.get("/o/<token>")
@limiter.limit(public_limit)
def show(token: str) -> ResponseReturnValue:
    """Show an official the aggregated report the link was issued for."""
    try:
        code, period = wiring.own_link_codec().read(token)
        report = official_report(db.session, find_official(db.session, code=code), period,
                                 wiring.report_settings())
    except (errors.NotFound, errors.Gone) as exc:
        status = 410 if isinstance(exc, errors.Gone) else 404
        return render_template("own/report.html", report=None, problem=exc.message), status
    db.session.commit()
    view = own_view(report)
    charts = {"positive": bar_chart(view["tags"]["positive"], "positive", "好评标签"),
              "negative": bar_chart(view["tags"]["negative"], "negative", "问题标签"),
              "months": trend_chart(view["trend"]["months"], "近6个月走势"),
              "quarters": trend_chart(view["trend"]["quarters"], "近4个季度走势")}
    response = render_template("own/report.html", report=view, charts=charts, problem=None,
                               reading=reading(report))
    return response, 200, {"Cache-Control": "no-store"}
