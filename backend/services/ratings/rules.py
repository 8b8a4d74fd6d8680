"""What a submission must satisfy, read from the invitation's template version."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, object_session

from backend.errors import InvalidInput
from backend.models import BallotTarget, Cadre, Invitation
from backend.services.privacy.personal_data import normalise_phone

ABSTAIN_LABEL = "无法评价"


@dataclass(frozen=True)
class RatedTarget:
    """One target's answer as submitted: score None means "无法评价" (abstain)."""

    target: str | None
    score: object
    tags: tuple = ()


@dataclass(frozen=True)
class Submission:
    ratings: list[RatedTarget]
    comment: str | None = None
    followup_phone: str | None = None


class Target(NamedTuple):
    """An official a submission must rate, with the rater's group."""

    cadre_id: int
    code: str
    group: str


@dataclass(frozen=True)
class RatingInput:
    """A validated rating of one official."""

    cadre_id: int
    group: str
    score: int | None
    tags: tuple[str, ...] = field(default_factory=tuple)


def clean_comment(text: str | None) -> str | None:
    """Remove control characters (keeping line breaks) and surrounding blanks."""
    if text is None:
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")
    return kept.strip() or None


def targets_of(invitation: Invitation) -> list[tuple[Cadre, str]]:
    """Return (official, rater group) pairs the invitation covers, a ballot's in its order."""
    if invitation.kind == "ballot":
        return ballot_targets(invitation)
    return [(invitation.cadre, invitation.template.definition["group"])]


def submission_targets(session: Session, invitation_id: int, kind: str,
                       event_target: Target | None) -> list[Target]:
    """Return the officials a submission covers: the event's one, or a ballot's in order."""
    if kind != "ballot":
        return [event_target]
    rows = session.execute(
        select(BallotTarget.cadre_id, Cadre.code, BallotTarget.rater_group)
        .join(Cadre, Cadre.id == BallotTarget.cadre_id)
        .where(BallotTarget.invitation_id == invitation_id).order_by(BallotTarget.position))
    return [Target(*row) for row in rows]


def ballot_targets(invitation: Invitation) -> list[tuple[Cadre, str]]:
    """Return a ballot's officials with the rater's group, ordered by position."""
    rows = object_session(invitation).scalars(
        select(BallotTarget).where(BallotTarget.invitation_id == invitation.id)
        .order_by(BallotTarget.position)
        .options(joinedload(BallotTarget.cadre).joinedload(Cadre.unit)))
    return [(row.cadre, row.rater_group) for row in rows]


def score_error(definition: dict, score: object) -> str | None:
    """Return why a score is not acceptable, or None."""
    scale = definition["scale"]
    if score is None:
        return None if definition.get("allow_abstain") else "请选择分数"
    if isinstance(score, bool) or not isinstance(score, int):
        return "分数必须是整数"
    if not scale["min"] <= score <= scale["max"]:
        return f"分数必须在 {scale['min']} 到 {scale['max']} 之间"
    return None


def tag_error(definition: dict, tags: tuple) -> str | None:
    """Return why a tag list is not acceptable, or None."""
    allowed = set(definition["tags"]["positive"]) | set(definition["tags"]["negative"])
    if len(tags) > definition["max_tags"]:
        return f"最多选择 {definition['max_tags']} 个标签"
    if len(set(tags)) != len(tags):
        return "标签不能重复"
    unknown = [t for t in tags if not isinstance(t, str) or t not in allowed]
    return f"模板中没有这些标签：{'、'.join(map(str, unknown))}" if unknown else None


def item_errors(definition: dict, rated: RatedTarget) -> dict:
    """Return the field errors of one rated target."""
    errors = {}
    if err := score_error(definition, rated.score):
        errors["score"] = err
    if err := tag_error(definition, tuple(rated.tags)):
        errors["tags"] = err
    if rated.score is None and rated.tags:
        errors["tags"] = "选择“无法评价”时不能选择标签"
    return errors


def coverage_errors(targets: list[Target], ratings: list[RatedTarget]) -> dict:
    """Check that a ballot rates each target exactly once."""
    if len(targets) == 1 and len(ratings) == 1 and ratings[0].target in (None,
                                                                          targets[0].code):
        return {}
    expected = {target.code for target in targets}
    given = [r.target for r in ratings]
    # A repeat is named first: it is the mistake, and the official it crowded out follows.
    repeated = sorted({str(code) for code in given if given.count(code) > 1})
    if repeated:
        return {"ratings": f"同一人员不能评价两次（重复：{'、'.join(repeated)}）"}
    missing = sorted(expected - set(given))
    if missing:
        return {"ratings": f"缺少对以下人员的评价：{'、'.join(missing)}"}
    extra = sorted(set(given) - expected)
    return {"ratings": f"不在本次评价范围内：{'、'.join(map(str, extra))}"} if extra else {}


def extras_errors(definition: dict, submission: Submission) -> dict:
    """Check the comment and follow-up consent against the template."""
    errors = {}
    comment = clean_comment(submission.comment)
    if comment and not definition["comment"]["enabled"]:
        errors["comment"] = "本问卷不收集意见"
    elif comment and len(comment) > definition["comment"]["max_length"]:
        errors["comment"] = f"意见不能超过 {definition['comment']['max_length']} 个字"
    if submission.followup_phone is not None:
        if not definition["followup"]["enabled"]:
            errors["followup"] = "本问卷不提供回访"
        elif normalise_phone(submission.followup_phone) is None:
            errors["followup"] = {"phone": "手机号格式不正确"}
    return errors


def check_submission(definition: dict, targets: list[Target],
                     submission: Submission) -> list[RatingInput]:
    """Validate a submission against its template and targets; return ratings to store."""
    errors = coverage_errors(targets, submission.ratings) | extras_errors(definition, submission)
    per_item = {str(n): e for n, r in enumerate(submission.ratings)
                if (e := item_errors(definition, r))}
    if per_item:
        one = len(targets) == 1 and len(submission.ratings) == 1  # the event form's fields
        errors = errors | (per_item["0"] if one else {"ratings": per_item})
    if errors:
        raise InvalidInput(errors=errors)
    by_code = {r.target or targets[0].code: r for r in submission.ratings}
    return [RatingInput(t.cadre_id, t.group, by_code[t.code].score, tuple(by_code[t.code].tags))
            for t in targets]
