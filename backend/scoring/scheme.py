"""Scoring schemes: versioned weights, trims and thresholds, validated on load."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from .errors import SchemeError

DEFAULT_SCHEME_DICT: dict[str, Any] = {
    "id": "default",
    "version": 1,
    "scale": {"min": 1, "max": 10},
    "trim": "0.05",
    "trim_min_each_side": 0,
    "thresholds": {"satisfied_min": 7, "dissatisfied_max": 4},
    "min_weight_coverage": "0.5",
    "groups": {
        "recipient": {"weight": 35, "min_n": 10},
        "representative": {"weight": 20, "min_n": 3},
        "superior": {"weight": 15, "min_n": 1},
        "peer": {"weight": 15, "min_n": 3},
        "subordinate": {"weight": 15, "min_n": 3},
    },
    "flags": {
        "group": "recipient",
        "not_excellent_below": "0.75",
        "warning_talk_above": "0.20",
        "reassignment_above": "0.50",
        "low_sample_min": 30,
        "low_sample_months": 6,
    },
}

_TOP_KEYS = frozenset(DEFAULT_SCHEME_DICT)
_OPTIONAL_TOP_KEYS = frozenset({"fraud", "cases"})
_CASE_KEYS = frozenset({"bad_max", "due_workdays", "recheck_days"})
_SCALE_KEYS = frozenset({"min", "max"})
_THRESHOLD_KEYS = frozenset({"satisfied_min", "dissatisfied_max"})
_GROUP_KEYS = frozenset({"weight", "min_n"})
_GROUP_OVERRIDES = frozenset({"trim", "trim_min_each_side"})
_FLAG_KEYS = frozenset(DEFAULT_SCHEME_DICT["flags"])
_HALF = Decimal("0.5")


@dataclass(frozen=True)
class GroupRule:
    """How one rater group is sampled, trimmed and weighted."""

    min_n: int
    weight: Decimal
    trim: Decimal
    trim_min_each_side: int = 0


def _default_groups() -> dict[str, GroupRule]:
    trim = Decimal("0.05")
    return {
        "recipient": GroupRule(10, Decimal(35), trim),
        "representative": GroupRule(3, Decimal(20), trim),
        "superior": GroupRule(1, Decimal(15), trim),
        "peer": GroupRule(3, Decimal(15), trim),
        "subordinate": GroupRule(3, Decimal(15), trim),
    }


@dataclass(frozen=True)
class Scheme:
    """A versioned scoring configuration; the defaults are those of SCORING.md."""

    id: str = "default"
    version: int = 1
    scale_min: int = 1
    scale_max: int = 10
    groups: dict[str, GroupRule] = field(default_factory=_default_groups)
    satisfied_min: int = 7
    dissatisfied_max: int = 4
    min_weight_coverage: Decimal = Decimal("0.5")
    flag_group: str = "recipient"
    not_excellent_below: Decimal = Decimal("0.75")
    warning_talk_above: Decimal = Decimal("0.20")
    reassignment_above: Decimal = Decimal("0.50")
    low_sample_min: int = 30
    low_sample_months: int = 6
    case_bad_max: int = 4  # a rating at or below opens a case (整改单)
    case_due_workdays: int = 5
    case_recheck_days: int = 30  # 回头看 after closing


def scheme_from_dict(data: Mapping[str, Any], source: str = "<scheme>") -> Scheme:
    """Validate a scheme as parsed from YAML and build it, or raise SchemeError."""
    read = _Reader(source)
    # `fraud:` holds the fraud detectors' thresholds: validated by them, not scored here.
    top = read.section(data, "", _TOP_KEYS, _OPTIONAL_TOP_KEYS)
    scale = _read_scale(read, top["scale"])
    groups = _read_groups(read, top)
    thresholds = read.section(top["thresholds"], "thresholds", _THRESHOLD_KEYS)
    flags = _read_flags(read, top["flags"], groups)
    dissatisfied_max = read.scale_point(
        thresholds["dissatisfied_max"], "thresholds.dissatisfied_max", scale
    )
    return Scheme(
        id=read.text(top["id"], "id"),
        version=read.integer(top["version"], "version", minimum=1),
        scale_min=scale[0],
        scale_max=scale[1],
        groups=groups,
        satisfied_min=read.scale_point(
            thresholds["satisfied_min"], "thresholds.satisfied_min", scale
        ),
        dissatisfied_max=dissatisfied_max,
        min_weight_coverage=read.unit(top["min_weight_coverage"], "min_weight_coverage"),
        **flags,
        **_read_cases(read, top.get("cases", {}), scale, dissatisfied_max),
    )


def _read_cases(
    read: _Reader, value: object, scale: tuple[int, int], dissatisfied_max: int
) -> dict[str, int]:
    cases = read.section(value, "cases", frozenset(), _CASE_KEYS)
    return {
        "case_bad_max": read.scale_point(cases.get("bad_max", dissatisfied_max),
                                         "cases.bad_max", scale),
        "case_due_workdays": read.integer(cases.get("due_workdays", 5), "cases.due_workdays",
                                          minimum=1),
        "case_recheck_days": read.integer(cases.get("recheck_days", 30), "cases.recheck_days",
                                          minimum=1),
    }


def _read_scale(read: _Reader, value: object) -> tuple[int, int]:
    scale = read.section(value, "scale", _SCALE_KEYS)
    low = read.integer(scale["min"], "scale.min")
    high = read.integer(scale["max"], "scale.max")
    if high <= low:
        read.fail("scale.max", "must be greater than scale.min")
    return low, high


def _read_groups(read: _Reader, top: Mapping[str, Any]) -> dict[str, GroupRule]:
    trim = read.trim(top["trim"], "trim")
    trim_min = read.integer(top["trim_min_each_side"], "trim_min_each_side", minimum=0)
    entries = read.section(top["groups"], "groups", frozenset(), open_keys=True)
    if not entries:
        read.fail("groups", "must name at least one group")
    groups = {
        name: _read_group(read, name, entry, trim, trim_min) for name, entry in entries.items()
    }
    if sum(rule.weight for rule in groups.values()) <= 0:
        read.fail("groups", "weights must sum to a positive number")
    return groups


def _read_group(
    read: _Reader, name: object, value: object, trim: Decimal, trim_min: int
) -> GroupRule:
    path = f"groups.{name}"
    if not isinstance(name, str) or not name:
        read.fail(path, "group names must be non-empty strings")
    entry = read.section(value, path, _GROUP_KEYS, _GROUP_OVERRIDES)
    return GroupRule(
        min_n=read.integer(entry["min_n"], f"{path}.min_n", minimum=1),
        weight=read.decimal(entry["weight"], f"{path}.weight", minimum=Decimal(0)),
        trim=read.trim(entry["trim"], f"{path}.trim") if "trim" in entry else trim,
        trim_min_each_side=read.integer(
            entry.get("trim_min_each_side", trim_min), f"{path}.trim_min_each_side", minimum=0
        ),
    )


def _read_flags(read: _Reader, value: object, groups: Mapping[str, GroupRule]) -> dict[str, Any]:
    flags = read.section(value, "flags", _FLAG_KEYS)
    group = read.text(flags["group"], "flags.group")
    if group not in groups:
        read.fail("flags.group", f"must be one of the groups: {', '.join(sorted(groups))}")
    return {
        "flag_group": group,
        "not_excellent_below": read.unit(flags["not_excellent_below"], "flags.not_excellent_below"),
        "warning_talk_above": read.unit(flags["warning_talk_above"], "flags.warning_talk_above"),
        "reassignment_above": read.unit(flags["reassignment_above"], "flags.reassignment_above"),
        "low_sample_min": read.integer(flags["low_sample_min"], "flags.low_sample_min", minimum=0),
        "low_sample_months": read.integer(
            flags["low_sample_months"], "flags.low_sample_months", minimum=1
        ),
    }


class _Reader:
    """Typed access to an untrusted mapping; every failure names source and key path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, reason: str) -> NoReturn:
        raise SchemeError(self.source, path or "(top level)", reason)

    def section(
        self,
        value: object,
        path: str,
        required: frozenset[str],
        optional: frozenset[str] = frozenset(),
        open_keys: bool = False,
    ) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            self.fail(path, "must be a mapping")
        prefix = f"{path}." if path else ""
        for key in sorted(required - set(value)):
            self.fail(prefix + key, "is required")
        unknown = sorted(str(key) for key in value if key not in required | optional)
        if unknown and not open_keys:
            self.fail(prefix + unknown[0], "unknown key")
        return value

    def text(self, value: object, path: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "must be a non-empty string")
        return value

    def decimal(self, value: object, path: str, minimum: Decimal | None = None) -> Decimal:
        number = self._number(value, path, "must be a number")
        if minimum is not None and number < minimum:
            self.fail(path, f"must be >= {minimum}")
        return number

    def trim(self, value: object, path: str) -> Decimal:
        number = self._number(value, path, "must be a number")
        if not 0 <= number < _HALF:
            self.fail(path, "must be >= 0 and < 0.5")
        return number

    def unit(self, value: object, path: str) -> Decimal:
        number = self._number(value, path, "must be a number")
        if not 0 <= number <= 1:
            self.fail(path, "must be between 0 and 1")
        return number

    def integer(self, value: object, path: str, minimum: int | None = None) -> int:
        number = self._number(value, path, "must be an integer")
        if number != number.to_integral_value():
            self.fail(path, "must be an integer")
        if minimum is not None and number < minimum:
            self.fail(path, f"must be >= {minimum}")
        return int(number)

    def scale_point(self, value: object, path: str, scale: tuple[int, int]) -> int:
        number = self.integer(value, path)
        if not scale[0] <= number <= scale[1]:
            self.fail(path, f"must be within the scale {scale[0]}..{scale[1]}")
        return number

    def _number(self, value: object, path: str, reason: str) -> Decimal:
        # str() first, so a YAML float 0.05 becomes exactly Decimal("0.05").
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            self.fail(path, reason)
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            self.fail(path, reason)
        if not number.is_finite():
            self.fail(path, reason)
        return number
