"""What a deployment names: rater groups, unit categories, position levels, and which scheme
rates whom (一岗一表, 分类分层).

The values come from the templates folder's `settings/` files (see the catalogue); this module
holds only their shape and the rules that read them, so scoring and every service can use them
without a framework.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_SCHEME = "default"

# The position levels indicators and peer standing differ by; fixed by the reform documents.
POSITION_LEVELS: dict[str, str] = {
    "principal": "正职",
    "deputy": "副职",
    "middle": "中层",
    "staff": "一般干部",
}
LEVEL_ALIASES: dict[str, str] = {name: code for code, name in POSITION_LEVELS.items()} | {
    "正": "principal", "副": "deputy", "一般": "staff", "科员": "staff",
}


@dataclass(frozen=True)
class RaterGroup:
    """A group of raters: its code in data, its Chinese name, its minimum sample."""

    code: str
    name: str
    min_n: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitCategory:
    """A class of units compared with each other (经济发展类, 生态功能类 ...)."""

    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchemeRule:
    """A scheme for officials of some unit categories and position levels (empty: any)."""

    scheme: str
    categories: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()

    def matches(self, category: str | None, level: str | None) -> bool:
        """Return whether an official of this category and level falls under the rule."""
        return ((not self.categories or category in self.categories)
                and (not self.levels or level in self.levels))


@dataclass(frozen=True)
class Vocabulary:
    """The configured groups, categories and scheme rules, with their lookups."""

    groups: Mapping[str, RaterGroup]
    categories: Mapping[str, UnitCategory]
    rules: tuple[SchemeRule, ...] = ()
    _group_words: dict[str, str] = field(init=False, repr=False, compare=False)
    _category_words: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_group_words", words(self.groups.values()))
        object.__setattr__(self, "_category_words", words(self.categories.values()))

    def group_name(self, code: str) -> str:
        """Return a group's Chinese name (the code itself for a group not configured)."""
        group = self.groups.get(code)
        return group.name if group else code

    def category_name(self, code: str) -> str:
        """Return a unit category's Chinese name (the code itself when not configured)."""
        category = self.categories.get(code)
        return category.name if category else code

    def group_code(self, text: str) -> str | None:
        """Return the group a code, name or alias means, or None."""
        value = text.strip()
        return value if value in self.groups else self._group_words.get(value)

    def category_code(self, text: str) -> str | None:
        """Return the category a code, name or alias means, or None."""
        value = text.strip()
        return value if value in self.categories else self._category_words.get(value)

    def min_sizes(self) -> dict[str, int]:
        """Return each group's configured minimum sample."""
        return {code: group.min_n for code, group in self.groups.items()}

    def scheme_for(self, category: str | None, level: str | None) -> str:
        """Return the scheme of an official: the first rule that matches, else `default`."""
        for rule in self.rules:
            if rule.matches(category, level):
                return rule.scheme
        return DEFAULT_SCHEME

    def group_choices(self) -> str:
        """Return the groups as "superior（上级）、peer（同级）..." for error messages."""
        return "、".join(f"{code}（{group.name}）" for code, group in self.groups.items())

    def category_choices(self) -> str:
        """Return the categories as "town_key（重点建设发展类乡镇）、..." for error messages."""
        return "、".join(f"{code}（{c.name}）" for code, c in self.categories.items())


def words(entries) -> dict[str, str]:
    """Map every name and alias of configured entries to the entry's code."""
    found: dict[str, str] = {}
    for entry in entries:
        for word in (entry.name, *entry.aliases):
            found.setdefault(word, entry.code)
    return found


def level_code(text: str | None) -> str | None:
    """Return the position level a code or Chinese word means; "" and None stay as given;
    an unknown word is returned unchanged for the caller to refuse."""
    if not text:
        return text
    value = text.strip()
    return value if value in POSITION_LEVELS else LEVEL_ALIASES.get(value, value)
