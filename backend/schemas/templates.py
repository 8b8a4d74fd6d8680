"""Schemas that validate survey template files and render them for the API."""

from marshmallow import RAISE, ValidationError, fields, validate, validates_schema

from backend.schemas.base import Schema

# Which groups exist is the settings' (settings/rater_groups.yaml): the catalogue checks them.
GROUP_CODE = r"^[a-z][a-z0-9_]{0,19}$"
TAG_MAX = 12  # characters of a tag label
MAX_TAGS_LIMIT = 10  # the most tags a template may let a rater choose
SCALE_LIMITS = (0, 100)  # every scale lies within these
COMMENT_MAX = 500  # the longest comment any template may accept
TAG = fields.String(validate=validate.Length(1, TAG_MAX))


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class ScaleSchema(StrictSchema):
    min = fields.Integer(required=True, strict=True)
    max = fields.Integer(required=True, strict=True)
    low_label = fields.String(load_default="")
    high_label = fields.String(load_default="")

    @validates_schema
    def check_range(self, data, **kwargs):
        low, high = SCALE_LIMITS
        if not low <= data["min"] < data["max"] <= high:
            raise ValidationError(f"需满足 {low} <= min < max <= {high}", "max")


class TagsSchema(StrictSchema):
    positive = fields.List(TAG, required=True, validate=validate.Length(min=1))
    negative = fields.List(TAG, required=True, validate=validate.Length(min=1))
    serious = fields.List(TAG, load_default=list)  # a rating with one opens a case (整改单)

    @validates_schema
    def check_unique(self, data, **kwargs):
        every = data["positive"] + data["negative"]
        if len(set(every)) != len(every):
            raise ValidationError("标签不能重复", "positive")
        if stray := [t for t in data.get("serious", []) if t not in data["negative"]]:
            raise ValidationError(f"严重问题标签须出自负面标签：{'、'.join(stray)}", "serious")


class TagDisplaySchema(StrictSchema):
    negative_max = fields.Integer(required=True, strict=True)
    positive_min = fields.Integer(required=True, strict=True)


class CommentSchema(StrictSchema):
    enabled = fields.Boolean(required=True)
    max_length = fields.Integer(load_default=COMMENT_MAX, strict=True,
                                validate=validate.Range(1, COMMENT_MAX))


class FollowupSchema(StrictSchema):
    enabled = fields.Boolean(required=True)


class InvitationRulesSchema(StrictSchema):
    expires_days = fields.Integer(load_default=7, strict=True, validate=validate.Range(1, 90))
    throttle_hours = fields.Integer(load_default=24, strict=True, validate=validate.Range(0, 720))
    max_event_age_days = fields.Integer(load_default=30, strict=True,
                                        validate=validate.Range(1, 365))
    delivery_deadline_hours = fields.Integer(load_default=24, strict=True,
                                             validate=validate.Range(1, 168))


class EventTypeSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(1, 40))


class TextsSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(1, 60))
    intro = fields.String(load_default="")
    thanks = fields.String(load_default="感谢您的评价！")


class TemplateFileSchema(StrictSchema):
    """The shape of one survey_templates/*.yaml file."""

    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,63}$"))
    name = fields.String(required=True, validate=validate.Length(1, 60))
    kind = fields.String(required=True, validate=validate.OneOf(["event", "ballot"]))
    group = fields.String(validate=validate.Regexp(GROUP_CODE))
    groups = fields.List(fields.String(validate=validate.Regexp(GROUP_CODE)),
                         validate=validate.Length(min=1))
    event_types = fields.Dict(keys=fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]*$")),
                              values=fields.Nested(EventTypeSchema))
    scale = fields.Nested(ScaleSchema, required=True)
    tags = fields.Nested(TagsSchema, required=True)
    tag_display = fields.Nested(TagDisplaySchema, required=True)
    max_tags = fields.Integer(load_default=5, strict=True,
                              validate=validate.Range(1, MAX_TAGS_LIMIT))
    comment = fields.Nested(CommentSchema, required=True)
    followup = fields.Nested(FollowupSchema, required=True)
    allow_abstain = fields.Boolean(load_default=False)
    invitation = fields.Nested(InvitationRulesSchema,
                               load_default=lambda: InvitationRulesSchema().load({}))
    texts = fields.Nested(TextsSchema, required=True)

    @validates_schema
    def check_kind(self, data, **kwargs):
        if data["kind"] == "event":
            if not data.get("event_types"):
                raise ValidationError("事件类模板必须声明 event_types", "event_types")
            if "group" not in data:
                raise ValidationError("事件类模板必须声明评价人群体 group", "group")
        elif not data.get("groups"):
            raise ValidationError("测评票模板必须声明 groups", "groups")

    @validates_schema
    def check_tag_display(self, data, **kwargs):
        scale, display = data.get("scale"), data.get("tag_display")
        if not scale or not display:
            return
        for name in ("negative_max", "positive_min"):
            if not scale["min"] <= display[name] <= scale["max"]:
                raise ValidationError("须在评分范围之内", f"tag_display.{name}")


class TemplateSummarySchema(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    kind = fields.String()
    digest = fields.String()


class TemplateListSchema(Schema):
    items = fields.List(fields.Nested(TemplateSummarySchema))


class TemplateDetailSchema(TemplateSummarySchema):
    definition = fields.Dict(metadata={"description": "模板内容（与 YAML 文件一致）"})
