"""The base of every schema: marshmallow's field and validator messages in Chinese.

marshmallow writes its messages in English into each field and validator. The base schema
rewrites them, when a field is bound, from the two tables below, so no schema has to pass
`error_messages=` or `error=` for the library's own messages. A message a schema wrote itself
(a validator's `error=`, a field's `error_messages=`) is kept as written.

Binding also guards every text field, list items and mapping keys included: NUL and other
control characters (tab and line breaks aside), and lone surrogates, which no database column
stores, are refused here once rather than field by field. A field without a pattern of its own
documents the guard as its pattern; a field with one keeps its own (which must exclude them).
"""

from __future__ import annotations

import copy
import functools
import re
import weakref
from collections.abc import Callable, Iterable

import marshmallow
from marshmallow import fields, validate
from webargs import fields as webargs_fields

SCHEMA_MESSAGES = {
    "type": "类型无效，应为 JSON 对象",
    "unknown": "未知字段",
}

# Keyed by the class whose default_error_messages the entry translates; a subclass takes
# its ancestors' entries, as marshmallow does for the English ones.
FIELD_MESSAGES: dict[type, dict[str, str]] = {
    fields.Field: {"required": "缺少必填字段", "null": "不能为 null",
                   "validator_failed": "取值无效"},
    fields.Nested: {"type": "类型无效，应为 JSON 对象"},
    fields.List: {"invalid": "不是有效的列表"},
    fields.Tuple: {"invalid": "不是有效的元组"},
    fields.String: {"invalid": "不是有效的字符串", "invalid_utf8": "不是有效的 UTF-8 字符串"},
    fields.UUID: {"invalid_uuid": "不是有效的 UUID"},
    fields.Number: {"invalid": "不是有效的数字", "too_large": "数值过大"},
    fields.Integer: {"invalid": "不是有效的整数"},
    fields.Float: {"special": "不允许 NaN 或无穷大"},
    fields.Decimal: {"special": "不允许 NaN 或无穷大"},
    fields.Boolean: {"invalid": "不是有效的布尔值（true 或 false）"},
    fields.DateTime: {"invalid": "不是有效的日期时间（ISO 8601，如 2026-11-21T09:30:00+08:00）",
                      "invalid_awareness": "时间不能带时区偏移",
                      "format": "无法输出为日期时间"},
    fields.AwareDateTime: {"invalid_awareness": "时间必须带时区偏移，如 2026-11-21T09:30:00+08:00"},
    fields.NaiveDateTime: {"invalid_awareness": "时间不能带时区偏移"},
    fields.Date: {"invalid": "不是有效的日期（如 2026-11-21）", "format": "无法输出为日期",
                  "invalid_awareness": "日期不能带时区偏移"},
    fields.Time: {"invalid": "不是有效的时刻（如 09:30:00）", "format": "无法输出为时刻",
                  "invalid_awareness": "时刻不能带时区偏移"},
    fields.TimeDelta: {"invalid": "不是有效的时长", "format": "无法输出为时长"},
    fields.Mapping: {"invalid": "不是有效的 JSON 对象"},
    fields.Url: {"invalid": "不是有效的网址"},
    fields.Email: {"invalid": "不是有效的电子邮箱地址"},
    fields.IP: {"invalid_ip": "不是有效的 IP 地址"},
    fields.IPv4: {"invalid_ip": "不是有效的 IPv4 地址"},
    fields.IPv6: {"invalid_ip": "不是有效的 IPv6 地址"},
    fields.IPInterface: {"invalid_ip_interface": "不是有效的 IP 接口地址"},
    fields.IPv4Interface: {"invalid_ip_interface": "不是有效的 IPv4 接口地址"},
    fields.IPv6Interface: {"invalid_ip_interface": "不是有效的 IPv6 接口地址"},
    fields.Enum: {"unknown": "必须是以下之一：{choices}"},
    webargs_fields.DelimitedList: {"invalid": "不是有效的分隔列表"},
    webargs_fields.DelimitedTuple: {"invalid": "不是有效的分隔元组"},
}

# Validators whose one message is `error` (default_message when the schema gave none).
VALIDATOR_MESSAGES: dict[type, str] = {
    validate.URL: "不是有效的网址",
    validate.Email: "不是有效的电子邮箱地址",
    validate.Equal: "必须等于 {other}",
    validate.Regexp: "格式不正确",
    validate.Predicate: "取值无效",
    validate.NoneOf: "不能是以下取值：{values}",
    validate.ContainsNoneOf: "不能包含以下取值：{values}",
    validate.OneOf: "必须是以下之一：{choices}",
    validate.ContainsOnly: "只能包含以下取值：{choices}",
}
CHOICE_SEPARATOR = "、"

# Length and Range build their message from parts; a collection counts items, text characters.
TEXT_LENGTH = {"min": "不能少于 {min} 个字符", "max": "不能超过 {max} 个字符",
               "all": "长度须在 {min} 到 {max} 个字符之间", "equal": "长度须为 {equal} 个字符"}
ITEM_LENGTH = {"min": "不能少于 {min} 项", "max": "不能多于 {max} 项",
               "all": "须有 {min} 到 {max} 项", "equal": "须恰好 {equal} 项"}
RANGE_BOUNDS = {"min": ("不小于 {min}", "大于 {min}"), "max": ("不大于 {max}", "小于 {max}")}

# C0 controls but tab, line feed and carriage return; DEL and the C1 controls. Lone
# surrogates are refused too, but not named in documented patterns: they are no characters
# of a valid JSON text, and generators of the document's patterns cannot use them.
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
SURROGATES = r"\ud800-\udfff"
UNSTORABLE = f"[{CONTROL_CHARACTERS}{SURROGATES}]"
TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*$"
CONTROL_MESSAGE = "不能包含 NUL 或其他控制字符"


class PlainText(validate.Regexp):
    """Refuse control characters (documented as the field's pattern) and lone surrogates."""

    _surrogate = re.compile(f"[{SURROGATES}]").search

    def __init__(self) -> None:
        super().__init__(TEXT_PATTERN, error=CONTROL_MESSAGE)

    def __call__(self, value: str) -> str:
        value = super().__call__(value)
        if self._surrogate(value):
            raise marshmallow.ValidationError(CONTROL_MESSAGE)
        return value


class PatternGuard(validate.Validator):
    """Refuse control characters where the field has a pattern of its own, and hold that
    pattern to the whole value: Python's `$` also matches before a final line break."""

    _search = re.compile(UNSTORABLE).search

    def __init__(self, patterns: list[validate.Regexp]) -> None:
        self.patterns = patterns

    def __call__(self, value: str) -> str:
        if not isinstance(value, str):
            return value
        for pattern in self.patterns:
            if not pattern.regex.match(value):
                return value  # the pattern's own message already says so
            if not pattern.regex.fullmatch(value):
                raise marshmallow.ValidationError(pattern._format_error(value))
        if self._search(value):
            raise marshmallow.ValidationError(CONTROL_MESSAGE)
        return value


def guard_text(field: fields.Field) -> None:
    """Add the control-character guard to a text field (documented unless it has a pattern)."""
    if not isinstance(field, fields.String):
        return
    if any(isinstance(v, PlainText | PatternGuard) for v in field.validators):
        return
    patterns = [v for v in field.validators if isinstance(v, validate.Regexp)]
    field.validators.append(PatternGuard(patterns) if patterns else PlainText())


_translated: weakref.WeakKeyDictionary[validate.Validator, dict[bool, validate.Validator]] = (
    weakref.WeakKeyDictionary())


@functools.cache
def english_field_messages(cls: type) -> dict[str, str]:
    """Return marshmallow's default messages of a field class, as it merges them."""
    merged: dict[str, str] = {}
    for ancestor in reversed(cls.__mro__):
        merged.update(getattr(ancestor, "default_error_messages", {}))
    return merged


@functools.cache
def chinese_field_messages(cls: type) -> dict[str, str]:
    """Return the Chinese messages of a field class, inherited like the English ones."""
    merged: dict[str, str] = {}
    for ancestor in reversed(cls.__mro__):
        merged.update(FIELD_MESSAGES.get(ancestor, {}))
    return merged


def translate_field(field: fields.Field) -> None:
    """Give a bound field (and the fields inside it) Chinese messages and validators."""
    english, chinese = english_field_messages(type(field)), chinese_field_messages(type(field))
    field.error_messages = {key: chinese.get(key, text) if text == english.get(key) else text
                            for key, text in field.error_messages.items()}
    field.validators = [translate_validator(v, field) for v in field.validators]
    guard_text(field)
    for inner in inner_fields(field):
        translate_field(inner)


def inner_fields(field: fields.Field) -> Iterable[fields.Field]:
    """Return the fields a container field holds (list items, tuple members, dict keys/values)."""
    if isinstance(field, fields.List):
        return [field.inner]
    if isinstance(field, fields.Tuple):
        return list(field.tuple_fields)
    if isinstance(field, fields.Mapping):
        return [f for f in (field.key_field, field.value_field) if f is not None]
    return []


def is_collection(field: fields.Field) -> bool:
    """Tell whether a field's length counts items rather than characters."""
    return isinstance(field, fields.List | fields.Tuple | fields.Mapping)


def translate_validator(validator: Callable, field: fields.Field) -> Callable:
    """Return a copy of a built-in validator that speaks Chinese (others unchanged)."""
    if not isinstance(validator, validate.Validator):
        return validator
    # Schemas are built per request; the copies are made once per validator and kind.
    items = is_collection(field)
    copies = _translated.setdefault(validator, {})
    if items not in copies:
        copies[items] = chinese_validator(validator, items)
    return copies[items]


def chinese_validator(validator: validate.Validator, items: bool) -> validate.Validator:
    """Build the Chinese copy of one validator."""
    if isinstance(validator, validate.And):
        result = copy.copy(validator)
        result.validators = [chinese_validator(v, items) if isinstance(v, validate.Validator)
                             else v for v in validator.validators]
        return result
    if isinstance(validator, validate.Length):
        return chinese_length(validator, ITEM_LENGTH if items else TEXT_LENGTH)
    if isinstance(validator, validate.Range):
        return chinese_range(validator)
    return chinese_single_message(validator)


def chinese_length(validator: validate.Length, texts: dict[str, str]) -> validate.Length:
    """Copy a Length validator with Chinese messages (unless it has its own error)."""
    if validator.error is not None:
        return validator
    result = copy.copy(validator)
    result.message_min, result.message_max = texts["min"], texts["max"]
    result.message_all, result.message_equal = texts["all"], texts["equal"]
    return result


def chinese_range(validator: validate.Range) -> validate.Range:
    """Copy a Range validator with Chinese messages (unless it has its own error)."""
    if validator.error is not None:
        return validator
    low = RANGE_BOUNDS["min"][0 if validator.min_inclusive else 1]
    high = RANGE_BOUNDS["max"][0 if validator.max_inclusive else 1]
    result = copy.copy(validator)
    result.message_min, result.message_max = f"必须{low}", f"必须{high}"
    both_inclusive = validator.min_inclusive and validator.max_inclusive
    result.message_all = ("必须在 {min} 到 {max} 之间" if both_inclusive
                          else f"必须{low} 且{high}")
    return result


def chinese_single_message(validator: validate.Validator) -> validate.Validator:
    """Copy a one-message validator with its Chinese message, if it still has the default."""
    cls = next((c for c in type(validator).__mro__ if c in VALIDATOR_MESSAGES), None)
    if cls is None or validator.error != getattr(type(validator), "default_message", None):
        return validator
    result = copy.copy(validator)
    result.error = VALIDATOR_MESSAGES[cls]
    if isinstance(result, validate.OneOf):
        result.choices_text = CHOICE_SEPARATOR.join(str(c) for c in result.choices)
    if isinstance(result, validate.NoneOf):
        result.values_text = CHOICE_SEPARATOR.join(str(v) for v in result.iterable)
    return result


class Schema(marshmallow.Schema):
    """The base of every schema of the project: Chinese messages for every library message."""

    error_messages = SCHEMA_MESSAGES

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        """Rewrite the bound field's library messages in Chinese."""
        translate_field(field_obj)
