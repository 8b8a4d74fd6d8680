"""What a campaign and its roster must satisfy; issues name the item (or row) and field."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from backend.models import Cadre
from backend.scoring.periods import PeriodError, parse_period
from backend.scoring.vocabulary import Vocabulary
from backend.services.directory.teams import Resolved, resolve_targets
from backend.services.directory.units import CODE_PATTERN
from backend.services.privacy.personal_data import normalise_phone
from backend.services.templates.catalogue import Catalogue, register

MAX_NAME = 100
MAX_CAMPAIGN_NAME = 200


@dataclass(frozen=True)
class RaterInput:
    code: str
    name: str
    phone: str | None = None


@dataclass(frozen=True)
class AssignmentInput:
    """One rater, their group and the targets they rate: official codes or team references."""

    rater: RaterInput
    group: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class CampaignInput:
    code: str
    name: str
    template: str
    period: str
    closes_at: datetime
    assignments: Sequence[AssignmentInput]
    max_reminders: int = 2


@dataclass(frozen=True)
class Issue:
    """A problem with one assignment: its index, the field at fault and why."""

    index: int
    field: str
    reason: str


@dataclass(frozen=True)
class Planned:
    """A valid assignment with its targets resolved (the rater's own code dropped).

    A leadership team named for the first time is an unsaved row until the ballots are written.
    """

    assignment: AssignmentInput
    cadres: tuple[Cadre, ...]


def allowed_groups(groups: Sequence[str], vocabulary: Vocabulary) -> dict[str, str]:
    """Return a template's rater groups with their configured Chinese names."""
    return {group: vocabulary.group_name(group) for group in groups}


def group_choices(groups: Mapping[str, str]) -> str:
    """Render allowed groups as "peer（同级）、..." for messages."""
    return "、".join(f"{code}（{name}）" for code, name in groups.items())


def ballot_template(session: Session, catalogue: Catalogue, key: str):
    """Return the registered current version of a ballot template, or None."""
    loaded = catalogue.templates.get(key)
    if loaded is None or loaded.definition["kind"] != "ballot":
        return None
    return register(session, loaded)


def campaign_errors(catalogue: Catalogue, now: datetime, data: CampaignInput,
                    template) -> dict:
    """Return field errors of the campaign itself (template, period, closing time, roster)."""
    errors: dict = {}
    if not CODE_PATTERN.match(data.code or ""):
        errors["code"] = "编码只能包含字母、数字、点、横线和下划线，且不超过 64 个字符"
    if not (data.name or "").strip() or len(data.name.strip()) > MAX_CAMPAIGN_NAME:
        errors["name"] = f"名称不能为空，且不超过 {MAX_CAMPAIGN_NAME} 个字"
    if template is None:
        keys = sorted(k for k, f in catalogue.templates.items()
                      if f.definition["kind"] == "ballot")
        errors["template"] = f"不是测评票模板：{data.template}；可选：{'、'.join(keys)}"
    try:
        parse_period(data.period)
    except PeriodError as exc:
        errors["period"] = str(exc)
    if data.closes_at <= now:
        errors["closes_at"] = "截止时间必须晚于当前时间"
    if not data.assignments:
        errors["assignments"] = "测评名单不能为空"
    return errors


def load_cadres(session: Session, items: Sequence[AssignmentInput]) -> Resolved:
    """Resolve every target named by the assignments: officials and leadership teams."""
    return resolve_targets(session, {code for a in items for code in a.targets})


def rater_issues(rater: RaterInput) -> list[tuple[str, str]]:
    """Return (field, reason) problems of a rater's code, name and phone."""
    issues = []
    if not CODE_PATTERN.match(rater.code or ""):
        issues.append(("code", "编码只能包含字母、数字、点、横线和下划线，且不超过 64 个字符"))
    if not (rater.name or "").strip() or len(rater.name.strip()) > MAX_NAME:
        issues.append(("name", f"姓名不能为空，且不超过 {MAX_NAME} 个字"))
    if rater.phone and normalise_phone(rater.phone) is None:
        issues.append(("phone", "手机号格式不正确（应为 11 位中国大陆手机号）"))
    return issues


def repeated_targets(a: AssignmentInput, cadres: dict[str, Cadre]) -> list[str]:
    """Name the targets a list holds twice, also under two spellings (team:X and T-X)."""
    seen: dict[str, list[str]] = {}
    for ref in a.targets:
        seen.setdefault(cadres[ref].code if ref in cadres else ref, []).append(ref)
    return sorted(refs[0] if len(set(refs)) == 1 else f"{code}（{'、'.join(dict.fromkeys(refs))}）"
                  for code, refs in seen.items() if len(refs) > 1)


def target_issues(a: AssignmentInput, resolved: Resolved) -> list[tuple[str, str]]:
    """Return problems of a target list: empty, repeated, unknown, inactive, only oneself."""
    cadres = resolved.targets
    repeated = repeated_targets(a, cadres)
    teams = [resolved.problems[c] for c in a.targets if c in resolved.problems]
    unknown = [c for c in a.targets if c not in cadres and c not in resolved.problems]
    inactive = [c for c in a.targets if c in cadres and not cadres[c].active]
    if not a.targets:
        return [("targets", "评价对象不能为空")]
    if repeated:
        return [("targets", f"评价对象重复：{'、'.join(repeated)}")]
    if teams:
        return [("targets", "；".join(dict.fromkeys(teams)))]
    if unknown:
        return [("targets", f"干部不存在：{'、'.join(unknown)}")]
    if inactive:
        return [("targets", f"干部已停用：{'、'.join(inactive)}")]
    if all(code == a.rater.code for code in a.targets):
        return [("targets", "去除评价人本人后没有评价对象（评价人不评价自己）")]
    return []


def item_label(index: int) -> str:
    """Name an assignment in messages (the roster import names rows instead)."""
    return f"第 {index + 1} 项"


def check_assignments(items: Sequence[AssignmentInput], groups: Mapping[str, str],
                      resolved: Resolved, taken: frozenset[str] = frozenset(),
                      label: Callable[[int], str] = item_label,
                      ) -> tuple[dict[int, Planned], list[Issue]]:
    """Validate each assignment on its own; return the valid ones by index and the issues."""
    planned: dict[int, Planned] = {}
    issues: list[Issue] = []
    first: dict[str, int] = {}
    for index, a in enumerate(items):
        found = rater_issues(a.rater) + target_issues(a, resolved)
        if a.group not in groups:
            found.append(("group", f"未知的评价人群体：{a.group}；可选：{group_choices(groups)}"))
        if a.rater.code in taken:
            found.append(("code", f"评价人已在测评名单中：{a.rater.code}"))
        elif a.rater.code in first:
            found.append(("code", f"评价人重复：与{label(first[a.rater.code])}相同"))
        first.setdefault(a.rater.code, index)
        issues.extend(Issue(index, f, r) for f, r in found)
        if not found:  # a rater who is also a target never rates themself
            planned[index] = Planned(a, tuple(resolved.targets[c] for c in a.targets
                                              if c != a.rater.code))
    return planned, issues


def assignment_errors(issues: Sequence[Issue]) -> dict:
    """Render issues as {"assignments": {"<index>": {"rater": {...}, "group": ...}}}."""
    nested: dict[str, dict] = {}
    for issue in issues:
        item = nested.setdefault(str(issue.index), {})
        if issue.field in ("code", "name", "phone"):
            item.setdefault("rater", {})[issue.field] = issue.reason
        else:
            item[issue.field] = issue.reason
    return {"assignments": nested}
