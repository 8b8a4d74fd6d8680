"""Schemas of the multi-rater campaign API (民主测评)."""

from marshmallow import fields, validate

from backend.schemas.base import Schema
from backend.schemas.directory import CODE, CODE_MAX, text
from backend.schemas.events import PHONE
from backend.schemas.scores import PeriodField

# A target: an official's code, or a unit's leadership team as team:<unit code> (also
# 班子:<unit code>, 领导班子:<unit code>) or by the team's own code T-<unit code>.
TARGET_PATTERN = (r"^(?:(?:[Tt][Ee][Aa][Mm]|班子|领导班子)[:：])?"
                  r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TARGET = [validate.Length(1, CODE_MAX),
          validate.Regexp(TARGET_PATTERN,
                          error="评价对象应为干部编码，或 team:单位编码（单位领导班子）")]
MAX_ASSIGNMENTS = 5000
MAX_TARGETS = 200
STATUSES = ("open", "closed", "cancelled")
TEMPLATE_KEY_MAX = 64  # survey_templates.key
GROUP_MAX = 20  # campaign_raters.rater_group
CAMPAIGN_NAME_MAX = 200  # campaigns.name
RATER_NAME_MAX = 100  # campaign_raters.name


class RaterSchema(Schema):
    code = fields.String(required=True, validate=CODE, metadata={"example": "R01"})
    name = text(RATER_NAME_MAX, metadata={"example": "王建国"})
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE,
                          metadata={"description": "手机号（可选），用于短信提醒",
                                    "example": "13800138000"})


class AssignmentSchema(Schema):
    rater = fields.Nested(RaterSchema, required=True)
    group = fields.String(required=True, validate=validate.Length(1, GROUP_MAX),
                          metadata={"description": "superior、peer、subordinate、"
                                                   "representative 或 recipient（须为模板允许的）",
                                    "example": "peer"})
    targets = fields.List(fields.String(validate=TARGET), required=True,
                          validate=validate.Length(1, MAX_TARGETS),
                          metadata={"description": "被评价干部编码，或单位领导班子 team:<单位编码>"
                                                   "（也可写 班子:<单位编码> 或 T-<单位编码>）；"
                                                   "评价人本人会被自动去除",
                                    "example": ["C001", "C002", "team:XZ01"]})


class CampaignCreateSchema(Schema):
    code = fields.String(required=True, validate=CODE, metadata={"example": "2026-Q4-XZ"})
    name = text(CAMPAIGN_NAME_MAX, metadata={"example": "2026年第四季度领导班子民主测评"})
    template = fields.String(required=True, validate=validate.Length(1, TEMPLATE_KEY_MAX),
                             metadata={"example": "democratic_appraisal"})
    period = PeriodField(required=True)
    closes_at = fields.AwareDateTime(required=True, format="iso",
                                     metadata={"example": "2026-12-31T18:00:00+08:00"})
    max_reminders = fields.Integer(strict=True, validate=validate.Range(0, 10),
                                   metadata={"description": "每人最多短信提醒次数（默认 2）"})
    assignments = fields.List(fields.Nested(AssignmentSchema), required=True,
                              validate=validate.Length(1, MAX_ASSIGNMENTS,
                                                       error="测评名单不能为空，且至多 "
                                                             f"{MAX_ASSIGNMENTS} 人"))


class BallotLinkSchema(Schema):
    rater_code = fields.String()
    token = fields.String()
    url = fields.String()


class CampaignCreatedSchema(Schema):
    code = fields.String()
    ballots = fields.List(fields.Nested(BallotLinkSchema))


class CampaignQueryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))


class CampaignSummarySchema(Schema):
    code = fields.String()
    name = fields.String()
    template = fields.String()
    period = fields.String()
    status = fields.String()
    accepting = fields.Boolean(metadata={"description": "是否仍可提交（进行中且未过截止时间）"})
    closes_at = fields.String()
    created_at = fields.String()
    closed_at = fields.String(allow_none=True)
    max_reminders = fields.Integer()
    invited = fields.Integer()
    responded = fields.Integer()
    rate = fields.Float()


class CampaignListSchema(Schema):
    items = fields.List(fields.Nested(CampaignSummarySchema))


class CampaignDetailSchema(CampaignSummarySchema):
    groups = fields.Dict(metadata={
        "description": "各评价人群体的参评情况；不足最小样本的群体只给人数"})


class CampaignChangedSchema(CampaignSummarySchema):
    revoked = fields.Integer(metadata={"description": "作废的未使用测评票数"})


class ExtendSchema(Schema):
    closes_at = fields.AwareDateTime(required=True, format="iso")


class NonResponderSchema(Schema):
    rater_code = fields.String()
    name = fields.String()
    group = fields.String()


class NonResponderListSchema(Schema):
    items = fields.List(fields.Nested(NonResponderSchema))


class RosterUploadSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "CSV 或 XLSX 名单"})


class RosterOptionsSchema(Schema):
    dry_run = fields.Boolean(load_default=False)
    skip_invalid = fields.Boolean(load_default=False)


class RowErrorSchema(Schema):
    row = fields.Integer()
    column = fields.String()
    reason = fields.String()


class RosterReportSchema(Schema):
    total = fields.Integer()
    created = fields.Integer()
    applied = fields.Boolean()
    errors = fields.List(fields.Nested(RowErrorSchema))
    ballots = fields.List(fields.Nested(BallotLinkSchema))
