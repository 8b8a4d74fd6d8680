"""Scores API: publish a period (asynchronously) and read what was published."""

from __future__ import annotations

from flask.views import MethodView

from backend import wiring
from backend.api.auth import BEARER_SECURITY, require_scope
from backend.api.parsing import Blueprint
from backend.errors import Unavailable
from backend.extensions import BROKER_ERRORS, db
from backend.schemas.directory import CODE_PATH
from backend.schemas.scores import (
    JobSchema,
    PublishSchema,
    ReportQueryArgsSchema,
    ReportSchema,
    ScoreListSchema,
    ScoreQueryArgsSchema,
)
from backend.services.reports.reading import reading
from backend.services.reports.results import find_official, official_report
from backend.services.scores.publication import begun_period
from backend.services.scores.queries import current_scores
from backend.wiring import now
from workers.jobs.scores import publish_scores
from workers.queues import job_queue

blp = Blueprint("scores", __name__, url_prefix="/api/v1", description="评分发布与查询")


@blp.route("/scores/publish")
class Publish(MethodView):
    @require_scope("scores:publish")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(PublishSchema)
    @blp.response(202, JobSchema)
    @blp.alt_response(503, description="任务队列暂不可用")
    def post(self, data):
        """Recompute every official's score for the period and push what changed."""
        begun_period(data["period"], now(), wiring.timezone())
        try:
            job_id = job_queue().enqueue(publish_scores, data["period"], queue="low",
                                         job_id=f"scores-publish-{data['period']}")
        except BROKER_ERRORS as exc:
            raise Unavailable("任务队列暂不可用，评分发布未排队，请稍后重试") from exc
        return {"job_id": job_id}


@blp.route("/scores")
class Scores(MethodView):
    @require_scope("scores:read")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ScoreQueryArgsSchema, location="query")
    @blp.response(200, ScoreListSchema)
    def get(self, args):
        """List the current published scores of a period (with digests for reconciliation)."""
        items, after = current_scores(db.session, args["period"], args.get("cadre_code"),
                                      args.get("after"), args["limit"])
        return {"items": items, "next": after}


@blp.route("/cadres/<string:code>/report", parameters=CODE_PATH)
class Report(MethodView):
    @require_scope("scores:read")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ReportQueryArgsSchema, location="query")
    @blp.response(200, ReportSchema)
    @blp.alt_response(404, description="干部不存在")
    @blp.alt_response(422, description="期间无效或尚未开始")
    def get(self, args, code):
        """Return an official's report: Score, trend, tags, standing (never a small group's)."""
        report = official_report(db.session, find_official(db.session, code=code),
                                 args["period"], wiring.report_settings())
        db.session.commit()
        return {**report, "reading": reading(report)}
