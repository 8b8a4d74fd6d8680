"""Schemas of the public ledger API: receipt checks and daily checkpoints."""

from marshmallow import fields, validate

from backend.models.cases import REPORT_KINDS
from backend.schemas.base import CONTROL_CHARACTERS, Schema
from backend.schemas.cases import ReceiptCaseSchema
from backend.schemas.events import PHONE, PHONE_EXAMPLE

RECEIPT_PATH = [{"in": "path", "name": "receipt", "required": True,
                 "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
                 "description": "提交评价时得到的凭证（32 位十六进制）"}]


class CheckpointRefSchema(Schema):
    day = fields.String(metadata={"description": "检查点日期（本地日）"})
    root = fields.String(metadata={"description": "当日默克尔根（RFC 6962）"})
    size = fields.Integer(metadata={"description": "当日条目数"})


class ProofStepSchema(Schema):
    side = fields.String(metadata={"description": "兄弟节点在左（left）还是右（right）"})
    hash = fields.String()


class InclusionSchema(Schema):
    checkpoint = fields.Nested(CheckpointRefSchema)
    index = fields.Integer(metadata={"description": "叶子在当日的位置（从 0 起）"})
    leaf_hash = fields.String(metadata={"description": "评价内容的哈希（不含评价内容本身）"})
    proof = fields.List(fields.Nested(ProofStepSchema),
                        metadata={"description": "自下而上的审计路径"})


class ReceiptStatusSchema(InclusionSchema):
    status = fields.String(validate=validate.OneOf(["accepted", "pending", "included"]),
                           metadata={"description": "pending：尚未记入检查点；included：已记入"})
    entries = fields.List(fields.Nested(InclusionSchema),
                          metadata={"description": "凭证下每条评价的证明（测评票可有多条）"})
    case = fields.Nested(ReceiptCaseSchema,
                         metadata={"description": "评价引发的整改单的进展；办结后含答复"})


class VerdictSchema(Schema):
    verdict = fields.String(required=True, validate=validate.OneOf(["satisfied", "unsatisfied"]),
                            metadata={"description": "对整改处理结果：satisfied 满意，"
                                                     "unsatisfied 不满意"})


class CheckpointSchema(Schema):
    day = fields.Date()
    root = fields.String()
    first_seq = fields.Integer()
    last_seq = fields.Integer()
    count = fields.Integer()
    chain_hash = fields.String(metadata={"description": "当日最后一个条目的链哈希"})
    created_at = fields.DateTime()


class CheckpointListSchema(Schema):
    items = fields.List(fields.Nested(CheckpointSchema))


class CheckpointQueryArgsSchema(Schema):
    limit = fields.Integer(load_default=30, validate=validate.Range(1, 366))
    before = fields.Date(metadata={"description": "分页：只列出此日期之前的检查点"})


# Several lines allowed, but at least one visible character and no control character.
NON_BLANK = validate.Regexp(
    rf"^[^{CONTROL_CHARACTERS}]*[^\s{CONTROL_CHARACTERS}][^{CONTROL_CHARACTERS}]*$",
    error="请说明遇到的情况")


class PressureReportSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(list(REPORT_KINDS)),
                         metadata={"description": "retaliation 打击报复，"
                                                  "pressure 现场施压或指定评分，other 其他"})
    text = fields.String(required=True, validate=[validate.Length(1, 1000), NON_BLANK],
                         metadata={"description": "遇到的情况（可多行）"})
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE,
                          metadata={"description": "愿意接受纪检回访时留下的手机号（可不填）",
                                    "example": PHONE_EXAMPLE})


class ReportReceivedSchema(Schema):
    status = fields.String(metadata={"description": "received：已转交纪检监察"})
