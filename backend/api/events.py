"""Service-event API: business systems report events and get one-time invitations back."""

from __future__ import annotations

from flask import current_app, g, jsonify
from flask.views import MethodView
from marshmallow import ValidationError

from backend import wiring
from backend.api.auth import BEARER_SECURITY, require_scope
from backend.api.parsing import Blueprint
from backend.errors import Conflict, Forbidden, InvalidInput, TooLarge
from backend.extensions import db
from backend.schemas.events import (
    MAX_BATCH,
    EventBatchResultSchema,
    EventBatchSchema,
    EventResultSchema,
    EventSchema,
    plain_event,
)
from backend.services.accounts.api_clients import check_source
from backend.services.invitations.events import EventInput, IngestContext, Outcome, Result
from backend.services.invitations.ingestion import ingest_events
from backend.wiring import now, sealer, token_codec, vault
from workers.jobs.deliveries import RELAY_JOB_ID, relay_deliveries
from workers.queues import wake

blp = Blueprint("events", __name__, url_prefix="/api/v1", description="服务事件与评价邀请")
EVENT_SCHEMA = EventSchema()  # schemas are reusable; building one per batch item is costly


def ingest_context() -> IngestContext:
    """Build the ingestion context from the app's configuration."""
    config = current_app.config
    return IngestContext(codec=token_codec(), vault=vault(),
                         catalogue=current_app.extensions["catalogue"],
                         base_url=config["PUBLIC_BASE_URL"], tz=wiring.timezone(),
                         now=now(), sealer=sealer())


# The HTTP mapping of ingestion's results (a batch answers each item with its own status).
HTTP_STATUS = {Result.CREATED: 201, Result.REPLAYED: 200, Result.CONFLICT: 409,
               Result.INVALID: 422, Result.FORBIDDEN: 403}


def to_input(data: dict) -> EventInput:
    """Turn a loaded EventSchema payload into the service's input."""
    recipient = data.get("recipient") or {}
    return EventInput(source=data["source"], external_id=data["external_id"],
                      cadre_code=data["cadre_code"], event_type=data["event_type"],
                      occurred_at=data["occurred_at"], phone=recipient.get("phone"),
                      openid=recipient.get("openid"), channels=tuple(data["channels"]))


def run(items: list[EventInput]) -> list[Outcome]:
    """Ingest events, then wake the delivery relay if anything is to be sent.

    The deliveries are outbox rows committed with the events: with Redis down the event is
    still answered 201, and the cron sweep relays them once Redis is back.
    """
    outcomes, to_send = ingest_events(db.session, ingest_context(), items)
    current_app.extensions["metrics"].count_invitations(items, outcomes)
    if to_send:

        wake(relay_deliveries, queue="high", job_id=RELAY_JOB_ID)
    return outcomes


@blp.route("/events")
class Events(MethodView):
    @require_scope("events:write")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(EventSchema)
    @blp.response(201, EventResultSchema, description="已创建邀请")
    @blp.alt_response(200, schema=EventResultSchema, description="重复提交（内容相同）")
    @blp.alt_response(403, description="来源不属于本客户端")
    @blp.alt_response(409, description="重复提交（内容不同）")
    def post(self, data):
        """Report a service event and get its one-time invitation."""
        check_source(g.api_client, data["source"])
        (outcome,) = run([to_input(data)])
        if outcome.result is Result.INVALID:
            raise InvalidInput(errors=outcome.errors)
        if outcome.result is Result.CONFLICT:
            raise Conflict(outcome.message)
        return outcome.body, HTTP_STATUS[outcome.result]


def batch_item(index: int, raw) -> EventInput | Outcome:
    """Validate one raw batch item on its own, and check its source is the client's."""
    if not isinstance(raw, dict):
        return Outcome(Result.INVALID, errors={"_schema": "每个事件必须是 JSON 对象"},
                       message="请求内容无效")
    try:
        data = plain_event(raw)
        if data is None:
            data = EVENT_SCHEMA.load(raw)
        check_source(g.api_client, data["source"])
    except ValidationError as exc:
        return Outcome(Result.INVALID, errors=exc.normalized_messages(), message="请求内容无效")
    except Forbidden as exc:
        return Outcome(Result.FORBIDDEN, errors=exc.errors, message=exc.message)
    return to_input(data)


def item_body(index: int, outcome: Outcome) -> dict:
    """Render one batch result."""
    if outcome.body is not None:
        return {"index": index, "status": HTTP_STATUS[outcome.result], **outcome.body}
    body = {"index": index, "status": HTTP_STATUS[outcome.result], "message": outcome.message}
    return body | ({"errors": outcome.errors} if outcome.errors else {})


@blp.route("/events/batch")
class EventBatch(MethodView):
    @require_scope("events:write")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(EventBatchSchema)
    @blp.response(200, EventBatchResultSchema)
    @blp.alt_response(413, description=f"超过 {MAX_BATCH} 个事件")
    def post(self, data):
        """Report up to 1,000 events; each item gets its own status."""
        raw = data["events"]
        if len(raw) > MAX_BATCH:
            raise TooLarge(f"一批最多 {MAX_BATCH} 个事件，本批 {len(raw)} 个")
        parsed = [batch_item(i, item) for i, item in enumerate(raw)]
        valid = [p for p in parsed if isinstance(p, EventInput)]
        written = iter(run(valid) if valid else [])
        outcomes = [p if isinstance(p, Outcome) else next(written) for p in parsed]
        # The results are built in the schema's own shape (tests hold the schema's dump of
        # them equal to them), so the thousand items go out without being dumped again.
        return jsonify({"results": [item_body(i, o) for i, o in enumerate(outcomes)]})
