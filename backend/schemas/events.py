"""Schemas of the service-event API."""

import re
from datetime import datetime

from marshmallow import fields, validate

from backend.schemas.base import Schema
from backend.schemas.directory import CODE, CODE_PATTERN, PRINTABLE

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


EVENT_KEYS = frozenset(EventSchema().fields)
REQUIRED_KEYS = frozenset(("source", "external_id", "cadre_code", "event_type", "occurred_at",
                           "channels"))
_code = re.compile(CODE_PATTERN).fullmatch
_phone = re.compile(PHONE_PATTERN).fullmatch
_openid = re.compile(rf"[A-Za-z0-9_-]{{1,{OPENID_MAX}}}").fullmatch


def _text(value: object, longest: int) -> bool:
    """A printable text of 1 to `longest` characters with a visible one (no control, no
    line break, no lone surrogate, no space but U+0020)."""
    return (type(value) is str and 0 < len(value) <= longest and value.isprintable()
            and not value.isspace())


def plain_event(data: object) -> dict | None:
    """Return what EventSchema loads from a plain event; None for any other.

    Plain: an object of the event's fields, each of its type, within its length and pattern,
    every text printable, the time ISO 8601 with an offset, the recipient an object of a
    mainland phone and an openid. It is what business systems send, a thousand to a batch,
    and its load needs none of the schema's machinery; anything else (a missing field, a
    null, a control character, a wrong type) is for the schema to load or refuse.
    """
    if type(data) is not dict or not REQUIRED_KEYS <= data.keys() <= EVENT_KEYS:
        return None
    if not (type(data["source"]) is str and _code(data["source"])
            and type(data["cadre_code"]) is str and _code(data["cadre_code"])
            and _text(data["external_id"], EXTERNAL_ID_MAX)
            and _text(data["event_type"], EVENT_TYPE_MAX)):
        return None
    occurred_at, channels = data["occurred_at"], data["channels"]
    if type(channels) is not list or not 0 < len(channels) <= len(CHANNELS) or not all(
            type(channel) is str and channel in CHANNELS for channel in channels):
        return None
    recipient = data.get("recipient", {})
    if type(recipient) is not dict or not recipient.keys() <= {"phone", "openid"}:
        return None
    phone, openid = recipient.get("phone"), recipient.get("openid")
    if "phone" in recipient and not (type(phone) is str and _phone(phone)):
        return None
    if "openid" in recipient and not (type(openid) is str and _openid(openid)):
        return None
    try:
        moment = datetime.fromisoformat(occurred_at) if type(occurred_at) is str else None
    except ValueError:
        return None
    if moment is None or moment.tzinfo is None or moment.utcoffset() is None:
        return None
    return {**data, "occurred_at": moment, "recipient": dict(recipient),
            "channels": list(channels)}


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
