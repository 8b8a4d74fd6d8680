"""Cases API: rectification cases (整改单) for 12345 and business systems (scope cases:read).

Nothing here identifies a rater; retaliation reports (the discipline side's) never appear.
"""

from __future__ import annotations

from flask.views import MethodView

from backend.api.auth import BEARER_SECURITY, require_scope
from backend.api.parsing import Blueprint
from backend.extensions import db
from backend.schemas.cases import CASE_PATH, CaseListSchema, CaseQueryArgsSchema, CaseSchema
from backend.services.cases import api_case, list_cases

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="整改单：差评与预警的整改闭环")


@blp.route("/cases")
class CaseList(MethodView):
    @require_scope("cases:read")
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(CaseQueryArgsSchema, location="query")
    @blp.response(200, CaseListSchema)
    def get(self, args):
        """List rectification cases, newest first (filter by status and unit)."""
        return {"items": list_cases(db.session, args.get("status"), args.get("unit"),
                                    args["limit"], args.get("before"))}


@blp.route("/cases/<int:case_id>", parameters=CASE_PATH)
class CaseResource(MethodView):
    @require_scope("cases:read")
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, CaseSchema)
    @blp.alt_response(404, description="整改单不存在")
    def get(self, case_id):
        """Return one rectification case."""
        return api_case(db.session, case_id)
