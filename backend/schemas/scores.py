"""Schemas of the scores API."""

from marshmallow import Schema, ValidationError, fields, validate

from backend.schemas.directory import CODE
from backend.scoring import PeriodError, parse_period


class PeriodField(fields.String):
    """A calendar period label: 2026-11, 2026-Q4, 2026-H2 or 2026."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_period(text)
        except PeriodError as exc:
            raise ValidationError(str(exc)) from exc
        return text


class PublishSchema(Schema):
    period = PeriodField(required=True, metadata={"example": "2026-Q4"})


class JobSchema(Schema):
    job_id = fields.String()


class ScoreQueryArgsSchema(Schema):
    period = PeriodField(required=True, metadata={"example": "2026-Q4"})
    cadre_code = fields.String(validate=CODE)
    after = fields.String(validate=CODE, metadata={"description": "分页：上一页最后一个干部编码"})
    limit = fields.Integer(load_default=1000, validate=validate.Range(1, 5000))


class ScoreListSchema(Schema):
    items = fields.List(fields.Dict(), metadata={"description": "Score 对象，见 SCORING.md"})
    next = fields.String(allow_none=True, metadata={"description": "下一页的 after 参数"})
