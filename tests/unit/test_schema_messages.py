"""The schemas' base speaks Chinese for every message marshmallow and webargs can produce."""

import importlib
import pkgutil
import re

import marshmallow
import pytest
from marshmallow import fields, validate
from webargs import fields as webargs_fields

import backend.api
import backend.schemas
from backend.schemas.base import (
    Schema,
    chinese_field_messages,
    english_field_messages,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
ABSTRACT_VALIDATORS = {validate.Validator, validate.And}
# One failing value for every validator marshmallow ships, each way its message is built.
VALIDATOR_CASES = [
    (validate.URL(), "not a url"), (validate.Email(), "nobody"), (validate.Equal(1), 2),
    (validate.Regexp(r"^a$"), "b"), (validate.Predicate("isdigit"), "x"),
    (validate.NoneOf(["x"]), "x"), (validate.ContainsNoneOf(["x"]), ["x"]),
    (validate.OneOf(["x", "y"]), "z"), (validate.ContainsOnly(["x"]), ["y"]),
    (validate.Length(2, 3), "a"), (validate.Length(min=2), "a"), (validate.Length(max=1), "ab"),
    (validate.Length(equal=2), "a"), (validate.Length(2, 3), ["a"]),
    (validate.Range(1, 2), 3), (validate.Range(min=1), 0), (validate.Range(max=1), 2),
    (validate.Range(1, 2, min_inclusive=False, max_inclusive=False), 2),
    (validate.Range(min=1, min_inclusive=False), 1),
    (validate.Range(max=1, max_inclusive=False), 1),
]


def field_classes() -> list[type]:
    """Return every field class of marshmallow and webargs."""
    found = []
    for module in (fields, webargs_fields):
        found += [obj for obj in vars(module).values()
                  if isinstance(obj, type) and issubclass(obj, fields.Field)
                  and not obj.__name__.startswith("_")]
    return sorted(set(found), key=lambda cls: cls.__qualname__)


@pytest.mark.parametrize("cls", field_classes(), ids=lambda cls: cls.__name__)
def test_every_field_message_of_the_libraries_has_a_chinese_one(cls):
    english, chinese = english_field_messages(cls), chinese_field_messages(cls)
    assert set(english) <= set(chinese), set(english) - set(chinese)
    assert all(CJK.search(chinese[key]) for key in english)


def test_every_validator_of_marshmallow_is_exercised_here():
    shipped = {obj for obj in vars(validate).values()
               if isinstance(obj, type) and issubclass(obj, validate.Validator)}
    assert shipped - ABSTRACT_VALIDATORS <= {type(v) for v, _ in VALIDATOR_CASES}


@pytest.mark.parametrize(("validator", "value"), VALIDATOR_CASES, ids=repr)
def test_every_validator_message_comes_out_in_chinese(validator, value):
    schema = Schema.from_dict({"x": fields.Raw(validate=validator)})()
    with pytest.raises(marshmallow.ValidationError) as caught:
        schema.load({"x": value})
    (message,) = caught.value.messages["x"]
    assert CJK.search(message) and not re.search(r"[A-Za-z]{4,}", message), message


def test_schema_level_messages_are_chinese_for_unknown_fields_and_wrong_body_types():
    class Inner(Schema):
        a = fields.Integer(required=True)

    class Outer(Schema):
        inner = fields.Nested(Inner, required=True)
        items = fields.List(fields.Nested(Inner))

    with pytest.raises(marshmallow.ValidationError) as caught:
        Outer().load({"inner": [], "items": [{"a": "x", "b": 1}], "c": 2})
    assert caught.value.messages == {
        "inner": {"_schema": ["类型无效，应为 JSON 对象"]},
        "items": {0: {"a": ["不是有效的整数"], "b": ["未知字段"]}},
        "c": ["未知字段"]}
    with pytest.raises(marshmallow.ValidationError) as caught:
        Outer().load([])
    assert caught.value.messages == {"_schema": ["类型无效，应为 JSON 对象"]}


def test_a_message_the_schema_wrote_itself_is_kept():
    class Own(Schema):
        a = fields.String(validate=validate.Length(max=1, error="太长了"),
                          error_messages={"invalid": "要文字"})
        b = fields.String(validate=validate.OneOf(["x"], error="只能是 x"))

    with pytest.raises(marshmallow.ValidationError) as caught:
        Own().load({"a": 1, "b": "y"})
    assert caught.value.messages == {"a": ["要文字"], "b": ["只能是 x"]}
    with pytest.raises(marshmallow.ValidationError) as caught:
        Own().load({"a": "ab"})
    assert caught.value.messages == {"a": ["太长了"]}


def test_shared_validators_are_left_as_they_were():
    shared = validate.Length(max=1)

    class Uses(Schema):
        a = fields.String(validate=shared)

    Uses()
    assert shared.message_max == validate.Length.message_max


def test_every_schema_of_the_project_inherits_the_chinese_base():
    for package in (backend.schemas, backend.api):
        for module in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
    pending, found = [marshmallow.Schema], []
    while pending:
        for sub in pending.pop().__subclasses__():
            pending.append(sub)
            if sub.__module__.startswith("backend."):
                found.append(sub)
    assert len(found) > 40
    assert [cls.__qualname__ for cls in found if not issubclass(cls, Schema)] == []
