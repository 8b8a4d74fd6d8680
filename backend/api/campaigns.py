"""Campaign API (民主测评): create with ballots, list, show progress, extend, close, cancel."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Response, current_app
from flask.views import MethodView

from backend import wiring
from backend.api.auth import BEARER_SECURITY, require_scope
from backend.api.parsing import Blueprint
from backend.errors import InvalidInput
from backend.extensions import db
from backend.models import Campaign
from backend.models.campaigns import OPEN
from backend.schemas.campaigns import (
    CampaignChangedSchema,
    CampaignCreatedSchema,
    CampaignCreateSchema,
    CampaignDetailSchema,
    CampaignListSchema,
    CampaignQueryArgsSchema,
    ExtendSchema,
    NonResponderListSchema,
    RosterOptionsSchema,
    RosterReportSchema,
    RosterUploadSchema,
)
from backend.schemas.directory import CODE_PATH
from backend.services.campaigns import lifecycle as campaigns
from backend.services.campaigns import progress as campaign_progress
from backend.services.campaigns import roster as campaign_roster
from backend.services.campaigns import slips as campaign_slips
from backend.services.campaigns.rules import AssignmentInput, CampaignInput, RaterInput
from backend.wiring import now, sealer, token_codec, vault

blp = Blueprint("campaigns", __name__, url_prefix="/api/v1",
                description="民主测评：名单、测评票、参评进度、提醒与关闭")
SCOPE = "campaigns:write"
PDF_RESPONSE = {"200": {"description": "测评票 PDF（每页 8 张）",
                        "content": {"application/pdf": {"schema": {"type": "string",
                                                                   "format": "binary"}}}}}


def context() -> campaigns.CampaignContext:
    """Build the campaign context from the app's configuration."""
    config = current_app.config
    return campaigns.CampaignContext(codec=token_codec(), vault=vault(),
                                     catalogue=current_app.extensions["catalogue"],
                                     base_url=config["PUBLIC_BASE_URL"],
                                     tz=wiring.timezone(), now=now())


def to_input(data: dict) -> CampaignInput:
    """Turn the loaded request body into the service's input."""
    assignments = [AssignmentInput(RaterInput(a["rater"]["code"], a["rater"]["name"],
                                              a["rater"].get("phone")),
                                   a["group"], tuple(a["targets"])) for a in data["assignments"]]
    default = current_app.config.get("CAMPAIGN_MAX_REMINDERS", 2)
    return CampaignInput(code=data["code"], name=data["name"], template=data["template"],
                         period=data["period"], closes_at=data["closes_at"],
                         assignments=assignments,
                         max_reminders=data.get("max_reminders", default))


def iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    """Render a time in the deployment's zone with its offset."""
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def summary(campaign: Campaign, counts: tuple[int, int], tz: ZoneInfo) -> dict:
    """Render a campaign with its overall response figures."""
    invited, responded = counts
    return {"code": campaign.code, "name": campaign.name, "template": campaign.template.key,
            "period": campaign.period, "status": campaign.status,
            "accepting": campaign.status == OPEN and campaign.closes_at > now(),
            "closes_at": iso(campaign.closes_at, tz), "created_at": iso(campaign.created_at, tz),
            "closed_at": iso(campaign.closed_at, tz), "max_reminders": campaign.max_reminders,
            "invited": invited, "responded": responded,
            "rate": round(responded / invited, 4) if invited else 0.0}


def detail(campaign: Campaign) -> dict:
    """Render a campaign with its progress per rater group."""
    tz = wiring.timezone()
    scheme = current_app.extensions["catalogue"].schemes.get("default")
    progress = campaign_progress.campaign_progress(db.session, campaign, tz,
                                                   scheme.definition if scheme else None,
                                                   wiring.vocabulary())
    return summary(campaign, (progress["invited"], progress["responded"]), tz) | {
        "groups": progress["groups"]}


def changed(campaign: Campaign, revoked: int = 0) -> dict:
    """Render a campaign after a change, with how many ballots were revoked."""
    return detail(campaign) | {"revoked": revoked}


@blp.route("/campaigns")
class Campaigns(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(CampaignQueryArgsSchema, location="query")
    @blp.response(200, CampaignListSchema)
    def get(self, args):
        """List campaigns, newest first, with response figures."""
        found = campaigns.list_campaigns(db.session, args.get("status"))
        counts = campaign_progress.totals(db.session, [c.id for c in found])
        tz = wiring.timezone()
        return {"items": [summary(c, counts.get(c.id, (0, 0)), tz) for c in found]}

    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(CampaignCreateSchema)
    @blp.response(201, CampaignCreatedSchema)
    @blp.alt_response(409, description="测评编码已存在")
    def post(self, data):
        """Create a campaign: one single-use ballot per rater covering all their targets."""
        campaign, links = campaigns.create_campaign(db.session, context(), to_input(data))
        return {"code": campaign.code, "ballots": [asdict(link) for link in links]}


@blp.route("/campaigns/<string:code>", parameters=CODE_PATH)
class CampaignResource(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, CampaignDetailSchema)
    def get(self, code):
        """Show a campaign with invited, responded and rate per rater group."""
        return detail(campaigns.find_campaign(db.session, code))


@blp.route("/campaigns/<string:code>/non-responders", parameters=CODE_PATH)
class NonResponders(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, NonResponderListSchema)
    def get(self, code):
        """List raters who have not answered yet (code, name, group; never their answers)."""
        campaign = campaigns.find_campaign(db.session, code)
        return {"items": campaign_progress.non_responders(db.session, sealer(), campaign)}


@blp.route("/campaigns/<string:code>/extend", parameters=CODE_PATH)
class Extend(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(ExtendSchema)
    @blp.response(200, CampaignChangedSchema)
    @blp.alt_response(409, description="测评已关闭或已取消")
    def post(self, data, code):
        """Move the closing time later; unused ballots stay valid until then."""
        return changed(campaigns.extend_campaign(db.session, code, data["closes_at"], now()))


@blp.route("/campaigns/<string:code>/close", parameters=CODE_PATH)
class Close(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, CampaignChangedSchema)
    @blp.alt_response(409, description="测评已关闭或已取消")
    def post(self, code):
        """Close a campaign: its ballots are revoked."""
        return changed(*campaigns.close_campaign(db.session, sealer(), code, now()))


@blp.route("/campaigns/<string:code>/cancel", parameters=CODE_PATH)
class Cancel(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.response(200, CampaignChangedSchema)
    @blp.alt_response(409, description="已有测评票提交，或测评已关闭")
    def post(self, code):
        """Cancel a campaign nobody has answered yet; every ballot is revoked."""
        return changed(*campaigns.cancel_campaign(db.session, sealer(), code, now()))


@blp.route("/campaigns/<string:code>/slips.pdf", parameters=CODE_PATH)
class Slips(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY, responses=PDF_RESPONSE)
    @blp.alt_response(409, description="没有待打印的测评票")
    def get(self, code):
        """Print a slip (QR code, short link, instructions) for every open ballot."""
        campaign = campaigns.find_campaign(db.session, code)
        pdf = campaign_slips.campaign_slips(
            db.session, sealer(), campaign, token_codec(), current_app.config["PUBLIC_BASE_URL"],
            wiring.timezone(), wiring.vocabulary(), current_app.config.get("SLIP_FONT_PATH"))
        return Response(pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{campaign.code}-slips.pdf"'})


@blp.route("/campaigns/<string:code>/roster", parameters=CODE_PATH)
class Roster(MethodView):
    @require_scope(SCOPE)
    @blp.doc(security=BEARER_SECURITY)
    @blp.arguments(RosterUploadSchema, location="files")
    @blp.arguments(RosterOptionsSchema, location="query")
    @blp.response(200, RosterReportSchema)
    @blp.alt_response(409, description="测评已关闭或已取消")
    def post(self, files, options, code):
        """Add raters from a CSV or XLSX roster; a file with errors changes nothing."""
        upload = files["file"]
        result = campaign_roster.import_roster(
            db.session, context(), code, upload.read(), upload.filename or "",
            skip_invalid=options["skip_invalid"], dry_run=options["dry_run"])
        report = result.report
        if report.errors and not report.applied and not options["dry_run"]:
            rows: dict[str, dict] = {}
            for e in report.errors:
                rows.setdefault(str(e.row), {})[e.column] = e.reason
            raise InvalidInput("名单有错误，未导入", errors={"rows": rows})
        return {"total": report.total, "created": report.created, "applied": report.applied,
                "errors": [asdict(e) for e in report.errors],
                "ballots": [asdict(link) for link in result.ballots]}
