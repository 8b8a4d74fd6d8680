"""Schemas of the directory API."""

from marshmallow import fields, validate

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
CATEGORY_MAX = 32  # units.category


def text(maximum: int, **kwargs) -> fields.String:
    """Return a required printable text field of at most `maximum` characters."""
    return fields.String(required=True, validate=[validate.Length(1, maximum), PRINTABLE],
                         **kwargs)


class UnitSchema(Schema):
    code = fields.String(dump_only=True)
    name = text(UNIT_NAME_MAX, metadata={"example": "某某县行政审批局"})
    category = fields.String(
        required=True, validate=validate.Length(1, CATEGORY_MAX),
        metadata={"example": "dept_economy",
                  "description": "单位类别：代码、中文名称或别名，须为模板目录 "
                                 "settings/unit_categories.yaml 所配置的类别（默认为改革文件"
                                 "的县直部门四类、乡镇三类，另有 township、department 等未细分"
                                 "类型）"})
    parent_code = fields.String(load_default=None, allow_none=True, validate=CODE)


class CadreSchema(Schema):
    code = fields.String(dump_only=True)
    name = text(CADRE_NAME_MAX, metadata={"example": "李明"})
    unit_code = fields.String(required=True, validate=CODE, metadata={"example": "U001"})
    position = text(POSITION_MAX, metadata={"example": "窗口科长"})
    active = fields.Boolean(load_default=True)
    level = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(0, 20),
        metadata={"example": "principal",
                  "description": "职级：principal（正职）、deputy（副职）、middle（中层）、"
                                 "staff（一般干部），也可写中文；省略则不改，空字符串清除"})
