"""Push API: the outbox of messages to the assessment core, replay, and its metrics."""

from __future__ import annotations

import logging

from flask import Flask
from flask.views import MethodView
from marshmallow import fields, validate
from prometheus_client.core import GaugeMetricFamily

from backend.api.auth import BEARER_SECURITY, require_scope
from backend.api.parsing import Blueprint
from backend.errors import InvalidInput
from backend.extensions import BROKER_ERRORS, db
from backend.schemas.base import Schema
from backend.schemas.scores import PeriodField
from backend.services.outbox import push
from backend.wiring import now
from workers.jobs.push import start_relay

log = logging.getLogger(__name__)
blp = Blueprint("push", __name__, url_prefix="/api/v1",
                description="向评估核心推送：发件箱、投递记录与重新推送")


class OutboxQueryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(push.STATUSES))
    period = PeriodField()
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class MessageLogSchema(Schema):
    webhook_id = fields.String()
    type = fields.String()
    period = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending 待发送、delivered 已送达、dead 死信"})
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()
    next_attempt_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)


class OutboxSummarySchema(Schema):
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    oldest_pending_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.DateTime(allow_none=True)
    retrying = fields.Integer()
    endpoint_disabled = fields.Boolean()
    dead_letters = fields.List(fields.Nested(MessageLogSchema))


class OutboxSchema(Schema):
    summary = fields.Nested(OutboxSummarySchema)
    items = fields.List(fields.Nested(MessageLogSchema))


class ReplaySchema(Schema):
    period = PeriodField()
    ids = fields.List(fields.String(validate=validate.Regexp(
        r"^msg_[0-9a-f]{32}$", error="webhook-id 格式为 msg_ 加 32 位十六进制"),
        metadata={"example": "msg_" + "0123456789abcdef" * 2}),
        validate=validate.Length(1, 1000))


class ReplayResultSchema(Schema):
    replayed = fields.Integer()


@blp.route("/push/outbox")
class Outbox(MethodView):
    @require_scope("scores:publish")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(OutboxQueryArgsSchema, location="query")
    @blp.response(200, OutboxSchema, description="发件箱概况与最近的消息投递记录")
    def get(self, args):
        """List outbox messages with their delivery logs, and the outbox summary."""
        items = push.list_messages(db.session, args.get("status"), args.get("period"),
                                   args["limit"])
        return {"summary": push.status_summary(db.session), "items": items}


@blp.route("/push/replay")
class Replay(MethodView):
    @require_scope("scores:publish")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ReplaySchema)
    @blp.response(200, ReplayResultSchema, description="已重新排队的消息数")
    def post(self, data):
        """Queue dead (or, for a period or ids, delivered) messages again; none = dead ones."""
        if "period" in data and "ids" in data:
            raise InvalidInput(errors={"ids": "period 与 ids 只能提供一个"})
        count = push.replay(db.session, data.get("period"), data.get("ids"), now=now())
        if count:
            try:
                start_relay()
            except BROKER_ERRORS:  # the replayed rows wait in the outbox for the sweep
                log.warning("job broker unreachable; replayed messages left to the sweep")
        return {"replayed": count}


class OutboxCollector:
    """Prometheus gauges read from the outbox table at scrape time (any process sees them)."""
    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self) -> list:
        """Describe nothing up front, so registering never queries the database."""
        return []

    def collect(self):
        """Yield outbox depth by status, backlog age, retrying rows and the disabled switch."""
        try:
            with self.app.app_context():
                summary = push.status_summary(db.session, dead_letters=0)
                db.session.rollback()
        except Exception:
            log.warning("push metrics: outbox unreadable", exc_info=True)
            return
        depth = GaugeMetricFamily("ssp_push_outbox_messages", "Outbox messages by status",
                                  labels=["status"])
        for status, count in summary["counts"].items():
            depth.add_metric([status], count)
        yield depth
        oldest = summary["oldest_pending_at"]
        age = (now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily("ssp_push_oldest_pending_seconds",
                                "Age of the oldest undelivered message", value=age)
        yield GaugeMetricFamily("ssp_push_retrying_messages",
                                "Undelivered messages with at least one failed attempt",
                                value=summary["retrying"])
        yield GaugeMetricFamily("ssp_push_endpoint_disabled",
                                "1 while pushing is off after a 410",
                                value=float(summary["endpoint_disabled"]))


def register_metrics(app: Flask) -> None:
    """Add the outbox gauges to the app's metrics registry."""
    metrics = app.extensions.get("metrics")
    if metrics is not None:
        metrics.registry.register(OutboxCollector(app))


blp.record_once(lambda state: register_metrics(state.app))
