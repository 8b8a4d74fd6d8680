"""Schemas of the cases API (整改单): what 12345 and business systems may read."""

from marshmallow import fields, validate

from backend.models.appeals import APPEAL_STATUSES
from backend.models.cases import SOURCES, STATUSES
from backend.routing import ID_MAX
from backend.schemas.base import Schema
from backend.schemas.directory import CODE

CASE_PATH = [{"in": "path", "name": "case_id", "required": True,
              "schema": {"type": "integer", "minimum": 1, "maximum": ID_MAX},
              "description": "整改单编号"}]


class CaseQueryArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES),
                           metadata={"description": "open 待受理、in_progress 整改中、"
                                     "awaiting_acceptance 待验收、closed 已办结、returned 退回"})
    unit = fields.String(validate=CODE, metadata={"description": "单位编码（只列本单位的整改单）"})
    before = fields.Integer(validate=validate.Range(1, ID_MAX),
                            metadata={"description": "分页：只列出编号小于此值的整改单"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class CaseAppealSchema(Schema):
    status = fields.String(validate=validate.OneOf(APPEAL_STATUSES), metadata={
        "description": "申诉复核：pending 待复核、confirming 待第二名管理员确认、"
                       "upheld 已支持（评价已剔除）、rejected 已驳回"})


class CaseSchema(Schema):
    id = fields.Integer()
    cadre_code = fields.String(allow_none=True, metadata={"description": "被评价干部编码"})
    unit_code = fields.String(allow_none=True)
    source = fields.String(validate=validate.OneOf(SOURCES),
                           metadata={"description": "rating 差评、flag 预警、report 举报"})
    status = fields.String(validate=validate.OneOf(STATUSES))
    due_at = fields.DateTime(metadata={"description": "整改期限（按工作日计算）"})
    created_at = fields.DateTime()
    reply = fields.String(metadata={"description": "办结后向评价人公开的答复"})
    appeal = fields.Nested(CaseAppealSchema, metadata={
        "description": "单位对该评价提出申诉时的复核状态（不含评价人或申诉人信息）"})


class CaseListSchema(Schema):
    items = fields.List(fields.Nested(CaseSchema))


class ReceiptCaseSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    status_label = fields.String(metadata={"description": "已受理、整改中、已办结等中文状态"})
    reply = fields.String(metadata={"description": "办结答复"})
    verdict = fields.String(allow_none=True, metadata={
        "description": "评价人对处理结果的评价（satisfied/unsatisfied）"})
