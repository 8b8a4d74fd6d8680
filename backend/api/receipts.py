"""Public ledger API: check a receipt, list the daily checkpoints (no credentials needed)."""

from __future__ import annotations

from flask.views import MethodView

from backend import wiring
from backend.api.parsing import Blueprint
from backend.extensions import db, limiter
from backend.public_limits import public_limit
from backend.schemas.cases import ReceiptCaseSchema
from backend.schemas.ledger import (
    RECEIPT_PATH,
    CheckpointListSchema,
    CheckpointQueryArgsSchema,
    PressureReportSchema,
    ReceiptStatusSchema,
    ReportReceivedSchema,
    VerdictSchema,
)
from backend.services.ledger.chain import list_checkpoints
from backend.services.ratings.receipts import check_receipt, rate_handling, report_pressure
from backend.wiring import now

blp = Blueprint("ledger", __name__, url_prefix="/api/v1",
                description="账本：凭评价凭证核验是否已记入账本；每日检查点")


@blp.route("/receipts/<string:receipt>", parameters=RECEIPT_PATH)
class ReceiptResource(MethodView):
    decorators = (limiter.limit(public_limit),)

    @blp.response(200, ReceiptStatusSchema)
    @blp.alt_response(404, description="凭证不存在")
    def get(self, receipt):
        """Tell whether the ratings under a receipt are in a checkpoint, with their proofs."""
        return check_receipt(db.session, receipt)


@blp.route("/receipts/<string:receipt>/verdict", parameters=RECEIPT_PATH)
class ReceiptVerdict(MethodView):
    decorators = (limiter.limit(public_limit),)

    @blp.arguments(VerdictSchema)
    @blp.response(200, ReceiptCaseSchema)
    @blp.alt_response(404, description="凭证不存在，或评价未引发整改单")
    @blp.alt_response(409, description="整改单尚未办结，或已评价过")
    def post(self, args, receipt):
        """Say once whether the handling of the case a rating opened was satisfactory."""
        return rate_handling(db.session, receipt, args["verdict"], now())


@blp.route("/receipts/<string:receipt>/reports", parameters=RECEIPT_PATH)
class ReceiptReport(MethodView):
    decorators = (limiter.limit(public_limit),)

    @blp.arguments(PressureReportSchema)
    @blp.response(201, ReportReceivedSchema)
    @blp.alt_response(404, description="凭证不存在")
    def post(self, args, receipt):
        """Report retaliation or pressure about a rating: it goes to the discipline side only."""
        return report_pressure(db.session, receipt, args["kind"], args["text"], args["phone"],
                               wiring.vault(), wiring.case_rules(), wiring.timezone(), now())


@blp.route("/ledger/checkpoints")
class CheckpointList(MethodView):
    decorators = (limiter.limit(public_limit),)

    @blp.arguments(CheckpointQueryArgsSchema, location="query")
    @blp.response(200, CheckpointListSchema)
    def get(self, args):
        """List the daily checkpoints, newest first."""
        return {"items": list_checkpoints(db.session, args["limit"], args.get("before"))}
