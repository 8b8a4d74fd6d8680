"""Schemas of the directory API."""

from marshmallow import fields, validate

from backend.models.directory import UNIT_CATEGORIES
from backend.schemas.base import CONTROL_CHARACTERS, Schema

CODE_MAX = 64  # units.code, cadres.code, campaigns.code, campaign_raters.code
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
CODE = [validate.Length(1, CODE_MAX),
        validate.Regexp(CODE_PATTERN,
                        error="编码只能包含字母、数字、点、横线和下划线，且不超过 64 个字符")]
# One line of text with at least one visible character: no control character at all (the
# base's guard lets tab and line breaks through for multi-line text), no lone surrogate.
LINE = rf"[^\x09-\x0d{CONTROL_CHARACTERS}]"  # the base's guard adds lone surrogates
PRINTABLE = validate.Regexp(rf"^{LINE}*[^\s{CONTROL_CHARACTERS}]{LINE}*$",
                            error="不能为空，也不能包含控制字符")
CODE_PATH = [{"in": "path", "name": "code", "required": True,
              "schema": {"type": "string", "minLength": 1, "maxLength": CODE_MAX,
                         "pattern": CODE_PATTERN}}]
UNIT_NAME_MAX = 200  # units.name
CADRE_NAME_MAX = 100  # cadres.name
POSITION_MAX = 200  # cadres.position


def text(maximum: int, **kwargs) -> fields.String:
    """Return a required printable text field of at most `maximum` characters."""
    return fields.String(required=True, validate=[validate.Length(1, maximum), PRINTABLE],
                         **kwargs)


class UnitSchema(Schema):
    code = fields.String(dump_only=True)
    name = text(UNIT_NAME_MAX, metadata={"example": "某某县行政审批局"})
    category = fields.String(required=True, validate=validate.OneOf(list(UNIT_CATEGORIES)),
                             metadata={"description": "、".join(
                                 f"{k}={v}" for k, v in UNIT_CATEGORIES.items())})
    parent_code = fields.String(load_default=None, allow_none=True, validate=CODE)


class CadreSchema(Schema):
    code = fields.String(dump_only=True)
    name = text(CADRE_NAME_MAX, metadata={"example": "李明"})
    unit_code = fields.String(required=True, validate=CODE, metadata={"example": "U001"})
    position = text(POSITION_MAX, metadata={"example": "窗口科长"})
    active = fields.Boolean(load_default=True)
