"""Read the templates folder's `settings/`: rater groups, unit categories and scheme rules.

A folder without a settings file takes the one shipped with the product, so a deployment
writes only what it changes. Every fault names the file and key, in Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from backend.errors import TemplateError
from backend.scoring.vocabulary import (
    POSITION_LEVELS,
    RaterGroup,
    SchemeRule,
    UnitCategory,
    Vocabulary,
)

SHIPPED = Path(__file__).resolve().parents[3] / "survey_templates" / "settings"
GROUP_CODE = 20  # the longest code: rating rows hold 20 characters
CATEGORY_CODE = 32  # units hold 32
CODE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_NAME = 40


def load_vocabulary(root: Path, schemes: Mapping[str, Any]) -> Vocabulary:
    """Load the groups, categories and rules under root/settings, checked against the schemes."""
    groups = read_entries(root, "rater_groups.yaml", GROUP_CODE, group_entry)
    categories = read_entries(root, "unit_categories.yaml", CATEGORY_CODE, category_entry)
    rules = read_rules(root, schemes, categories)
    return Vocabulary(groups=groups, categories=categories, rules=rules)


def settings_file(root: Path, name: str) -> tuple[Any, str]:
    """Return a settings file's parsed content and its name for messages."""
    path = root / "settings" / name
    if not path.is_file():
        path = SHIPPED / name
    source = f"settings/{name}"
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")), source
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TemplateError(source, "", f"无法读取：{exc}") from exc


def read_entries(root: Path, name: str, longest: int, build: Callable) -> dict[str, Any]:
    """Read a mapping of code -> entry, each entry checked and built by `build`."""
    data, source = settings_file(root, name)
    if not isinstance(data, dict) or not data:
        raise TemplateError(source, "", "须为非空的映射（代码: 设置）")
    entries = {}
    for code, value in data.items():
        if not isinstance(code, str) or not CODE.match(code) or len(code) > longest:
            raise TemplateError(source, str(code), "代码须以小写字母开头，只含小写字母、数字和"
                                f"下划线，且不超过 {longest} 个字符")
        if not isinstance(value, dict):
            raise TemplateError(source, code, "须为映射（name、aliases ...）")
        entries[code] = build(source, code, value)
    taken: dict[str, str] = {}
    for entry in entries.values():
        for word in (entry.name, *entry.aliases):
            if taken.setdefault(word, entry.code) != entry.code:
                raise TemplateError(source, entry.code, f"名称或别名「{word}」已用于 {taken[word]}")
    return entries


def text_list(source: str, path: str, value: object) -> tuple[str, ...]:
    """Return a list of short non-empty strings, or fail."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
            isinstance(v, str) and v.strip() and len(v) <= MAX_NAME for v in value):
        raise TemplateError(source, path, f"须为字符串列表，每项不超过 {MAX_NAME} 个字符")
    return tuple(v.strip() for v in value)


def entry_name(source: str, code: str, value: dict, allowed: set[str]) -> str:
    """Check an entry's keys and return its Chinese name."""
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise TemplateError(source, f"{code}.{unknown[0]}", "未知的设置项")
    name = value.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise TemplateError(source, f"{code}.name", f"须为不超过 {MAX_NAME} 个字符的中文名称")
    return name.strip()


def group_entry(source: str, code: str, value: dict) -> RaterGroup:
    """Build one rater group."""
    name = entry_name(source, code, value, {"name", "min_n", "aliases"})
    min_n = value.get("min_n")
    if isinstance(min_n, bool) or not isinstance(min_n, int) or min_n < 1:
        raise TemplateError(source, f"{code}.min_n", "须为不小于 1 的整数")
    return RaterGroup(code, name, min_n, text_list(source, f"{code}.aliases",
                                                   value.get("aliases")))


def category_entry(source: str, code: str, value: dict) -> UnitCategory:
    """Build one unit category."""
    name = entry_name(source, code, value, {"name", "aliases"})
    return UnitCategory(code, name, text_list(source, f"{code}.aliases", value.get("aliases")))


def read_rules(root: Path, schemes: Mapping[str, Any],
               categories: Mapping[str, UnitCategory]) -> tuple[SchemeRule, ...]:
    """Read the ordered scheme rules; each names a scheme, categories and levels that exist."""
    data, source = settings_file(root, "scheme_rules.yaml")
    if data is None:
        return ()
    if not isinstance(data, list):
        raise TemplateError(source, "", "须为规则列表（可为空 []）")
    return tuple(rule_entry(source, f"[{number}]", value, schemes, categories)
                 for number, value in enumerate(data))


def rule_entry(source: str, path: str, value: object, schemes: Mapping[str, Any],
               categories: Mapping[str, UnitCategory]) -> SchemeRule:
    """Build one rule, refusing unknown schemes, categories and levels."""
    if not isinstance(value, dict) or set(value) - {"scheme", "categories", "levels"}:
        raise TemplateError(source, path, "每条规则须为映射，只含 scheme、categories、levels")
    scheme = value.get("scheme")
    if scheme not in schemes:
        raise TemplateError(source, f"{path}.scheme", "未知的计分方案；可选："
                            + "、".join(sorted(schemes)))
    chosen = {}
    for key, known in (("categories", categories), ("levels", POSITION_LEVELS)):
        items = text_list(source, f"{path}.{key}", value.get(key))
        if unknown := [item for item in items if item not in known]:
            raise TemplateError(source, f"{path}.{key}", f"未知的代码 {unknown[0]}；可选："
                                + "、".join(known))
        chosen[key] = frozenset(items)
    return SchemeRule(scheme, chosen["categories"], chosen["levels"])
