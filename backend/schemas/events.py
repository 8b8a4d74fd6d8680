"""Schemas of the service-event API."""

from marshmallow import fields, validate

from backend.schemas.base import Schema
from backend.schemas.directory import CODE, PRINTABLE

CHANNELS = ("sms", "wechat", "qr")
MAX_BATCH = 1000
EXTERNAL_ID_MAX = 128  # service_events.external_id
EVENT_TYPE_MAX = 40  # service_events.event_type
OPENID_MAX = 128
# A mainland mobile number: 11 digits from 13 to 19, after +86 or 0086 if any, with single
# spaces or dashes between digits allowed (so at most 25 characters); the services keep the
# 11 digits.
PHONE_PATTERN = r"^(?:\+86|0086)?[ -]?1[3-9](?:[ -]?[0-9]){9}$"
PHONE_EXAMPLE = "13800138000"
PHONE = [validate.Length(min=len(PHONE_EXAMPLE)),
         validate.Regexp(PHONE_PATTERN, error="手机号应为中国大陆 11 位手机号，如 13800138000")]


class RecipientSchema(Schema):
    phone = fields.String(validate=PHONE,
                          metadata={"description": "手机号（中国大陆），用于短信发送",
                                    "example": "13800138000"})
    openid = fields.String(validate=[validate.Length(1, OPENID_MAX),
                                     validate.Regexp(r"^[A-Za-z0-9_-]+$")],
                           metadata={"description": "小程序 openid，用于订阅消息"})


class EventSchema(Schema):
    source = fields.String(required=True, validate=CODE,
                           metadata={"description": "来源系统标识，须为本客户端登记的来源之一",
                                     "example": "approval-system"})
    external_id = fields.String(required=True,
                                validate=[validate.Length(1, EXTERNAL_ID_MAX), PRINTABLE],
                                metadata={"example": "SP-2026-000123"})
    cadre_code = fields.String(required=True, validate=CODE, metadata={"example": "C001"})
    event_type = fields.String(required=True, validate=validate.Length(1, EVENT_TYPE_MAX),
                               metadata={"example": "approval"})
    occurred_at = fields.AwareDateTime(required=True, format="iso",
                                       metadata={"example": "2026-11-21T09:30:00+08:00"})
    recipient = fields.Nested(RecipientSchema, load_default=dict)
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True,
                           validate=validate.Length(1, 3), metadata={"example": ["sms", "qr"]})


class InvitationLinkSchema(Schema):
    token = fields.String()
    url = fields.String()
    mp_scene = fields.String()
    qr_svg = fields.String()
    qr_png = fields.String()
    expires_at = fields.String()


class EventResultSchema(Schema):
    event_id = fields.String()
    throttled = fields.Boolean()
    invitation = fields.Nested(InvitationLinkSchema)


class EventBatchSchema(Schema):
    # Items are validated one by one in the view, so one bad item never fails the others;
    # the document still shows their schema and the batch limit (more answers 413).
    events = fields.List(fields.Raw(metadata={"allOf": [{"$ref": "#/components/schemas/Event"}]}),
                         required=True,
                         metadata={"description": f"至多 {MAX_BATCH} 个事件，格式同单个事件",
                                   "maxItems": MAX_BATCH})


class BatchItemSchema(EventResultSchema):
    index = fields.Integer()
    status = fields.Integer()
    message = fields.String()
    errors = fields.Dict()


class EventBatchResultSchema(Schema):
    results = fields.List(fields.Nested(BatchItemSchema))
