"""Schemas of the public rating API (the token is the capability)."""

from marshmallow import Schema, fields, validate

TOKEN_PATH = [{"in": "path", "name": "token", "required": True,
               "schema": {"type": "string", "minLength": 20, "maxLength": 64},
               "description": "链接令牌或小程序 scene"}]


class FollowupSchema(Schema):
    consent = fields.Boolean(required=True)
    phone = fields.String(validate=validate.Length(1, 20))


class TargetRatingSchema(Schema):
    target = fields.String(required=True, validate=validate.Length(1, 64))
    score = fields.Integer(strict=True, allow_none=True, required=True,
                           metadata={"description": "null 表示“无法评价”（模板允许时）"})
    tags = fields.List(fields.String(validate=validate.Length(1, 20)), load_default=list)


class RatingSubmissionSchema(Schema):
    """An event rating (score, tags) or a ballot (ratings covering every target)."""

    score = fields.Integer(strict=True, metadata={"example": 9})
    tags = fields.List(fields.String(validate=validate.Length(1, 20)), load_default=list,
                       metadata={"example": ["热情周到"]})
    comment = fields.String(allow_none=True, validate=validate.Length(max=2000))
    followup = fields.Nested(FollowupSchema)
    ratings = fields.List(fields.Nested(TargetRatingSchema), validate=validate.Length(1, 200))
    opened_at = fields.Integer(metadata={"description": "页面打开时的毫秒时间戳（可选，用于防刷）"})


class ReceiptSchema(Schema):
    receipt = fields.String(metadata={"description": "回执：可凭此核验评价已记入账本"})


class TagSchema(Schema):
    label = fields.String()
    polarity = fields.String()


class TemplateViewSchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    scale = fields.Dict()
    tags = fields.List(fields.Nested(TagSchema))
    tag_display = fields.Dict()
    max_tags = fields.Integer()
    comment = fields.Dict()
    followup = fields.Dict()
    allow_abstain = fields.Boolean()
    texts = fields.Dict()


class TargetSchema(Schema):
    code = fields.String()
    name = fields.String()
    unit = fields.String()
    position = fields.String()


class InvitationViewSchema(Schema):
    status = fields.String()
    kind = fields.String()
    event_type = fields.String(allow_none=True)
    event_type_name = fields.String(allow_none=True)
    expires_at = fields.String()
    template = fields.Nested(TemplateViewSchema)
    targets = fields.List(fields.Nested(TargetSchema))


class ClosedInvitationSchema(Schema):
    code = fields.Integer()
    message = fields.String()
    status = fields.String()
