"""Schemas of the public rating API (the token is the capability)."""

from marshmallow import fields, validate

from backend.schemas.base import Schema
from backend.schemas.campaigns import MAX_TARGETS
from backend.schemas.directory import CODE
from backend.schemas.events import PHONE, PHONE_EXAMPLE
from backend.schemas.templates import COMMENT_MAX, MAX_TAGS_LIMIT, SCALE_LIMITS, TAG_MAX
from backend.services.fraud.stamps import MAX_STAMP_LENGTH

TOKEN_PATH = [{"in": "path", "name": "token", "required": True,
               "schema": {"type": "string", "minLength": 20, "maxLength": 64},
               "description": "链接令牌或小程序 scene"}]
MAX_SAFE_INTEGER = 2**53 - 1  # the largest millisecond timestamp a browser sends exactly
SCORE_RANGE = validate.Range(*SCALE_LIMITS)  # the template's own scale is checked on submission
TAG = fields.String(validate=validate.Length(1, TAG_MAX))
TAG_COUNT = validate.Length(max=MAX_TAGS_LIMIT)  # the template's max_tags is checked on submission


class FollowupSchema(Schema):
    consent = fields.Boolean(required=True)
    phone = fields.String(validate=PHONE, metadata={"example": PHONE_EXAMPLE})


class TargetRatingSchema(Schema):
    target = fields.String(required=True, validate=CODE)
    score = fields.Integer(strict=True, allow_none=True, required=True, validate=SCORE_RANGE,
                           metadata={"description": "null 表示“无法评价”（模板允许时）"})
    tags = fields.List(TAG, load_default=list, validate=TAG_COUNT)


class RatingSubmissionSchema(Schema):
    """An event rating (score, tags) or a ballot (ratings covering every target)."""

    score = fields.Integer(strict=True, validate=SCORE_RANGE,
                           metadata={"description": "模板量表内的整数（默认 1 到 10）",
                                     "example": 9})
    tags = fields.List(TAG, load_default=list, validate=TAG_COUNT,
                       metadata={"description": "模板中的标签，至多为模板的 max_tags（默认 5）",
                                 "example": ["热情周到"]})
    comment = fields.String(allow_none=True, validate=validate.Length(max=COMMENT_MAX),
                            metadata={"description": f"意见，至多 {COMMENT_MAX} 个字"})
    followup = fields.Nested(FollowupSchema)
    ratings = fields.List(fields.Nested(TargetRatingSchema),
                          validate=validate.Length(1, MAX_TARGETS))
    stamp = fields.String(validate=validate.Length(max=MAX_STAMP_LENGTH),
                          metadata={"description": "打开凭证：读取邀请时返回的 stamp 原样带回。"
                                    "缺失、伪造或过期时评价照常受理，但计为“无凭证提交”"
                                    "（按干部和日期汇总，不记在评价上）"})
    opened_at = fields.Integer(strict=True, validate=validate.Range(0, MAX_SAFE_INTEGER),
                               metadata={"description": "已停用：客户端时间不可信，接受但忽略；"
                                         "停留时长只取自 stamp"})


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
    kind = fields.String(metadata={"description": "official（干部）或 team（单位领导班子）"})


class InvitationViewSchema(Schema):
    status = fields.String()
    kind = fields.String()
    event_type = fields.String(allow_none=True)
    event_type_name = fields.String(allow_none=True)
    expires_at = fields.String()
    template = fields.Nested(TemplateViewSchema)
    targets = fields.List(fields.Nested(TargetSchema))
    stamp = fields.String(metadata={"description": "打开凭证（服务器签名的打开时间，绑定本链接，"
                                    "14 天内有效）：提交评价时原样放入请求体的 stamp"})


class ClosedInvitationSchema(Schema):
    code = fields.Integer()
    message = fields.String()
    status = fields.String()


PLAIN_KEYS = frozenset({"score", "tags", "comment", "stamp"})


def plain_rating(data: object) -> dict | None:
    """Return what RatingSubmissionSchema loads from a plain event rating; None for any other.

    Plain: an object of an integer score in range, tags, a comment and a stamp, each of its
    type and within its length, every text printable. It is what nearly every rater sends,
    and its load needs none of the schema's machinery; anything else (a ballot, a follow-up,
    a null, a control character, a wrong type) is for the schema to load or refuse.
    """
    if type(data) is not dict or not data.keys() <= PLAIN_KEYS:
        return None
    score, tags = data.get("score"), data.get("tags", [])
    if type(score) is not int or not SCALE_LIMITS[0] <= score <= SCALE_LIMITS[1]:
        return None
    if type(tags) is not list or len(tags) > MAX_TAGS_LIMIT or not all(
            type(tag) is str and 1 <= len(tag) <= TAG_MAX and tag.isprintable() for tag in tags):
        return None
    loaded = {"score": score, "tags": list(tags)}
    for name, longest in (("comment", COMMENT_MAX), ("stamp", MAX_STAMP_LENGTH)):
        if name in data:
            text = data[name]
            if name == "comment" and text is None:
                loaded[name] = None
                continue
            if type(text) is not str or len(text) > longest or not text.isprintable():
                return None
            loaded[name] = text
    return loaded
