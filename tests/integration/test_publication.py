"""Publication: known ratings give SCORING.md's numbers exactly; unchanged data stays put."""

import statistics
import uuid
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from backend.models import Alert, ScoreSnapshot
from backend.scoring import current_period
from backend.services.publication import publish_period
from backend.services.templates import register
from tests.support.invitations import issue

TZ = ZoneInfo("Asia/Shanghai")


class Recorder:
    """Stands in for the push outbox: records what publication queued."""

    def __init__(self) -> None:
        self.messages: list[tuple] = []

    def __call__(self, session, messages, now) -> None:
        self.messages.extend(messages)


def rate_all(client, scores, cadre_code="C001", tags=("热情周到",)):
    invitations = issue(len(scores), cadre_code=cadre_code, prefix=uuid.uuid4().hex[:8])
    for invitation, score in zip(invitations, scores, strict=True):
        response = client.post(f"/api/v1/invitations/{invitation['token']}/rating",
                               json={"score": score, "tags": list(tags) if score >= 5 else []})
        assert response.status_code == 201


def publish(session, period=None, recorder=None):
    scheme = register(session, current_app.extensions["catalogue"].schemes["default"])
    now = datetime.now(UTC)
    return publish_period(session, period or current_period("month", now, TZ), scheme, now, TZ,
                          recorder or Recorder())


def reference(scores: list[int], p: Decimal = Decimal("0.05")) -> dict:
    """Recompute SCORING.md's recipient figures directly from the sorted scores."""
    x = sorted(scores)
    k = int((len(x) * p).to_integral_value(rounding=ROUND_FLOOR))
    kept = x[k:len(x) - k]
    return {"n": len(x), "k": k, "trimmed_mean": float(Fraction(sum(kept), len(kept))),
            "satisfaction": float(Fraction(sum(s >= 7 for s in x), len(x))),
            "dissatisfaction": float(Fraction(sum(s <= 4 for s in x), len(x)))}


def current(session, code="C001"):
    from backend.models import Cadre

    return session.scalar(select(ScoreSnapshot.document).join(Cadre)
                          .where(Cadre.code == code, ScoreSnapshot.superseded_at.is_(None)))


def test_published_numbers_equal_an_independent_recomputation(client, session):
    scores = [10, 9, 9, 8, 8, 8, 7, 7, 6, 5, 3, 1, 10, 9, 8, 8, 7, 6, 2, 9, 10, 8]
    rate_all(client, scores)
    publish(session)
    group = current(session)["groups"]["recipient"]
    expected = reference(scores)
    assert group["status"] == "ok"
    for name in ("n", "k", "trimmed_mean", "satisfaction", "dissatisfaction"):
        assert group[name] == expected[name], name
    assert group["tags"] == {"热情周到": sum(s >= 5 for s in scores)}
    lo, hi = group["ci95"]
    assert lo < statistics.mean(sorted(scores)[1:-1]) < hi


def test_composite_is_insufficient_when_coverage_is_too_low(client, session):
    rate_all(client, [8] * 12)
    document = publish(session) and current(session)
    assert document["composite"]["status"] == "insufficient"
    assert document["groups"]["peer"] == {"status": "insufficient", "n": 0}


def test_official_without_ratings_is_insufficient_everywhere(app, session):
    issue(1)
    publish(session)
    document = current(session, "C002")
    assert all(g["status"] == "insufficient" and g["n"] == 0
               for g in document["groups"].values())
    assert document["composite"]["status"] == "insufficient"
    assert "low_sample" in document["flags"]


def test_small_group_publishes_its_count_only(client, session):
    rate_all(client, [9, 9, 9])
    group = current(session) if publish(session) else None
    assert group["groups"]["recipient"] == {"status": "insufficient", "n": 3}


def test_recomputing_unchanged_data_publishes_nothing(client, session):
    rate_all(client, [9] * 10 + [2] * 3)
    first, recorder = publish(session), Recorder()
    again = publish(session, recorder=recorder)
    assert first.changed == first.officials and again.changed == 0
    assert recorder.messages == []
    assert session.scalar(select(func.count()).select_from(ScoreSnapshot)) == first.officials


def test_a_new_rating_publishes_only_that_official(client, session):
    rate_all(client, [9] * 10)
    publish(session)
    rate_all(client, [3], cadre_code="C001")
    recorder = Recorder()
    report = publish(session, recorder=recorder)
    assert report.changed == 1 and report.changed_codes == ["C001"]
    assert [m[0] for m in recorder.messages] == ["score.published"]
    history = session.scalar(select(func.count()).select_from(ScoreSnapshot)
                             .where(ScoreSnapshot.superseded_at.is_not(None)))
    assert history == 1


def test_threshold_flags_raise_one_alert_each_and_are_pushed(client, session):
    rate_all(client, [2] * 6 + [9] * 4)
    recorder = Recorder()
    publish(session, recorder=recorder)
    flags = set(current(session)["flags"])
    assert {"not_excellent_eligible", "warning_talk", "reassignment_review",
            "low_sample"} <= flags
    types = set(session.scalars(select(Alert.type).where(Alert.cadre_id.is_not(None))))
    assert {"warning_talk", "reassignment_review", "not_excellent_eligible"} <= types
    raised = [m for m in recorder.messages if m[0] == "alert.raised"]
    again = Recorder()
    publish(session, recorder=again)
    assert raised and not [m for m in again.messages if m[0] == "alert.raised"]


@pytest.mark.parametrize("period", ["2026-Q5", "2026-13", "26", "2026-H3"])
def test_unknown_period_is_refused(app, session, period):
    from backend.scoring import PeriodError

    with pytest.raises(PeriodError):
        publish(session, period=period)
