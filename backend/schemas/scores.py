"""Schemas of the scores API."""

from marshmallow import ValidationError, fields, validate

from backend.schemas.base import Schema
from backend.schemas.directory import CODE
from backend.scoring import PeriodError, parse_period

# Years 1900 to 9999, as parse_period accepts them.
PERIOD_PATTERN = r"^(19[0-9]{2}|[2-9][0-9]{3})(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?$"
PERIOD_MAX = 7  # "2026-11", "2026-Q4", "2026-H2" or "2026"
PERIOD_FORMAT = validate.Regexp(PERIOD_PATTERN, error="期间格式如 2026-11、2026-Q4、2026-H2、2026")


class PeriodField(fields.String):
    """A calendar period label: 2026-11, 2026-Q4, 2026-H2 or 2026."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("metadata", {"example": "2026-Q4"})
        super().__init__(validate=[validate.Length(max=PERIOD_MAX), PERIOD_FORMAT], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_period(text)
        except PeriodError as exc:
            raise ValidationError(str(exc)) from exc
        return text


class PublishSchema(Schema):
    period = PeriodField(required=True)


class JobSchema(Schema):
    job_id = fields.String()


class ScoreQueryArgsSchema(Schema):
    period = PeriodField(required=True)
    cadre_code = fields.String(validate=CODE, metadata={
        "description": "只看一个对象：干部编码，或领导班子编码 T-<单位编码>"})
    after = fields.String(validate=CODE, metadata={"description": "分页：上一页最后一个干部编码"})
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 5000))


class ScoreSchema(Schema):
    """A published score (docs/scoring.md gives every number): of an official or a team."""

    cadre_code = fields.String(metadata={
        "description": "评价对象编码：干部编码；领导班子为 T-<单位编码>", "example": "C001"})
    target_kind = fields.String(validate=validate.OneOf(["official", "team"]), metadata={
        "description": "评价对象类别：official（干部）或 team（单位领导班子，整体评价）"})
    unit_code = fields.String(metadata={"description": "领导班子所在单位编码（仅 team 有）"})
    period = fields.String(metadata={"example": "2026-Q4"})
    scheme = fields.Dict(metadata={"description": "id、version"})
    groups = fields.Dict(metadata={"description": "各评价组；样本不足的组只有 status、n"})
    composite = fields.Dict()
    headline = fields.Dict(metadata={"description": "kind：composite / recipient_index / "
                                                    "insufficient；score_100"})
    flags = fields.List(fields.String())
    digest = fields.String()
    ledger_checkpoint = fields.String(allow_none=True)
    computed_at = fields.String()


class PublishedScore(fields.Nested):
    """A stored score document, passed through as published (documented by ScoreSchema)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(ScoreSchema, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class ScoreListSchema(Schema):
    items = fields.List(PublishedScore(),
                        metadata={"description": "Score 对象，见 docs/scoring.md"})
    next = fields.String(allow_none=True, metadata={"description": "下一页的 after 参数"})


class ReportQueryArgsSchema(Schema):
    period = PeriodField(required=True)


class ReportSchema(Schema):
    """An official's report for a period (nothing from a group below its minimum)."""

    cadre = fields.Dict(metadata={"description": "干部：code、name、position、level、unit"})
    period = fields.String()
    scheme = fields.Dict()
    score = fields.Dict(metadata={"description": "Score 对象（按当前有效评价计算）"})
    headline = fields.Dict(metadata={"description": "kind：composite / recipient_index / "
                                                    "insufficient；score_100"})
    headline_label = fields.String()
    composite = fields.Dict()
    groups = fields.List(fields.Dict(), metadata={
        "description": "各评价组；样本不足的组只有 status、n、min_n、text"})
    tags = fields.Dict(metadata={"description": "positive / negative：[{tag, count}]，"
                                                "仅计达到最低样本的评价组"})
    flags = fields.List(fields.Dict(), metadata={"description": "code、label、reason"})
    window_n = fields.Integer(metadata={"description": "近6个月有效评价数"})
    trend = fields.Dict(metadata={"description": "months（近6个月）、quarters（近4个季度）："
                                                 "[{period, headline, n, band}]"})
    standing = fields.Dict(metadata={"description": "同类单位、同职级干部中的百分位（不列名单）"})
    reading = fields.List(fields.String(), metadata={"description": "通俗解读"})
