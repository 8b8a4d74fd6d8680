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
from backend.services.scores.publication import publish_period
from backend.services.scores.schemes import scheme_book
from tests.support.invitations import issue
from tests.support.release import release_all

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
    release_all()


def publish(session, period=None, recorder=None):
    book = scheme_book(session, current_app.extensions["catalogue"])
    now = datetime.now(UTC)
    return publish_period(session, period or current_period("month", now, TZ), book, now, TZ,
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


def test_a_failing_write_fails_the_publication_and_keeps_nothing(client, session):
    rate_all(client, [9] * 10)

    def broken_queue(session, messages, now):
        raise ConnectionError("outbox unavailable")

    with pytest.raises(ConnectionError, match="outbox unavailable"):
        publish(session, recorder=broken_queue)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ScoreSnapshot)) == 0


@pytest.mark.parametrize("period", ["2026-Q5", "2026-13", "26", "2026-H3"])
def test_unknown_period_is_refused(app, session, period):
    from backend.scoring import PeriodError

    with pytest.raises(PeriodError):
        publish(session, period=period)


WEIGHTS = {"recipient": 35, "representative": 20, "superior": 15, "peer": 15, "subordinate": 15}
MIN_N = {"recipient": 10, "representative": 3, "superior": 1, "peer": 3, "subordinate": 3}


def recompute(samples: dict[str, list[int]], tags: dict[str, dict[str, int]],
              six_month_n: int) -> dict:
    """Recompute a whole document's numbers from sorted scores, as SCORING.md reads."""
    import scipy.stats

    groups, means = {}, {}
    for name in WEIGHTS:
        x = sorted(samples.get(name, []))
        if len(x) < MIN_N[name]:
            groups[name] = {"status": "insufficient", "n": len(x)}
            continue
        expected = reference(x)
        k, n = expected["k"], len(x)
        kept = x[k:n - k]
        means[name] = Fraction(sum(kept), len(kept))
        ci = None
        if n - 2 * k - 1 >= 1:
            wins = [x[k]] * k + kept + [x[n - k - 1]] * k
            mean_w = Fraction(sum(wins), n)
            s_w = float(sum((v - mean_w) ** 2 for v in wins) / (n - 1)) ** 0.5
            half = scipy.stats.t.ppf(0.975, n - 2 * k - 1) * s_w / (0.9 * n ** 0.5)
            ci = [float(means[name]) - half, float(means[name]) + half]
        groups[name] = {**expected, "status": "ok", "ci95": ci,
                        "tags": {t: c for t, c in sorted(tags.get(name, {}).items()) if c}}
    covered = sum(WEIGHTS[name] for name in means)
    composite = {"status": "insufficient", "weights": {}}
    if covered:
        weights = {name: Fraction(WEIGHTS[name], covered) for name in means}
        composite["weights"] = {name: float(w) for name, w in weights.items()}
        if Fraction(covered, 100) >= Fraction(1, 2):
            value = Decimal(10 * sum(w * means[name] for name, w in weights.items()).numerator)
            value /= Decimal(sum(w * means[name] for name, w in weights.items()).denominator)
            composite = {**composite, "status": "ok", "score_100": float(
                value.quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))}
    return {"groups": groups, "composite": composite, "low_sample": six_month_n < 30}


def test_every_published_number_equals_a_recomputation_for_many_officials(app, session,
                                                                          monkeypatch):
    import hashlib
    import json
    import random

    from backend.models import Cadre, RatingCount, RatingTagCount, Unit

    rng, unit = random.Random(7), Unit(code="U9", name="单位", category="township")
    officials, months = [], ["2026-07", "2026-08", "2026-09"]
    for i in range(40):
        cadre = Cadre(code=f"S{i:03d}", name=f"干部{i}", unit=unit, position="科长")
        session.add(cadre)
        session.flush()
        samples = {g: [rng.choice([1, 3, 5, 6, 7, 7, 8, 9, 10]) for _ in
                       range(rng.choice([0, 1, 2, 3, 9, 10, 19, 20, 21, 57, 180]))]
                   for g in [*WEIGHTS, "visitors"]}
        tags = {g: {"热情周到": len(s) // 2, "态度生硬": len(s) // 5} for g, s in samples.items()}
        for group, scores in samples.items():
            for month in months:  # each month holds a share; the period sums them
                share = [s for j, s in enumerate(scores) if j % 3 == months.index(month)]
                for score in set(share):
                    session.add(RatingCount(cadre_id=cadre.id, month=month, rater_group=group,
                                            score=score, count=share.count(score)))
            for tag, count in tags[group].items():
                session.add(RatingTagCount(cadre_id=cadre.id, month="2026-08",
                                           rater_group=group, tag=tag, count=count))
        officials.append((cadre, samples, tags))
    session.commit()
    book = scheme_book(session, current_app.extensions["catalogue"])
    # Read in ranges of 7 officials (and 7 rows ahead), so 40 officials take several queries.
    monkeypatch.setattr("backend.services.scores.score_counts.PIVOT_CHUNK", 7)
    monkeypatch.setattr("backend.services.scores.publication.PIVOT_CHUNK", 7)
    report = publish_period(session, "2026-Q3", book, datetime(2026, 10, 5, tzinfo=UTC), TZ,
                            Recorder())
    assert report.officials >= len(officials)
    for cadre, samples, tags in officials:
        document = current(session, cadre.code)
        expected = recompute(samples, tags, sum(len(s) for s in samples.values()))
        for name, group in expected["groups"].items():
            ci = group.pop("ci95", None)
            published = dict(document["groups"][name])
            # The t quantile is ours (pure Python), not scipy's: equal to 1e-13, not to the bit.
            assert published.pop("ci95", None) == (ci and pytest.approx(ci, rel=1e-12)), name
            assert published == group, (cadre.code, name)
        assert document["composite"] == expected["composite"], cadre.code
        assert ("low_sample" in document["flags"]) == expected["low_sample"]
        canonical = json.dumps({g: {str(s): x.count(s) for s in set(x)}
                                for g, x in samples.items() if x},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert document["digest"] == "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def alert_of(session, type, code="C001"):
    from backend.models import Cadre

    session.expire_all()
    return session.scalar(select(Alert).join(Cadre, Cadre.id == Alert.cadre_id)
                          .where(Cadre.code == code, Alert.type == type))


def test_alerts_resolve_on_their_own_when_their_condition_clears(client, session):
    rate_all(client, [2] * 6 + [9] * 4)
    publish(session)
    assert alert_of(session, "low_sample").state == "open"
    assert alert_of(session, "warning_talk").state == "open"
    untouched = alert_of(session, "low_sample", "C002")
    rate_all(client, [9] * 40)  # 50 ratings, 12% dissatisfied: neither flag holds any more
    report = publish(session)
    for type in ("low_sample", "warning_talk", "reassignment_review"):
        alert = alert_of(session, type)
        assert (alert.state, alert.resolved_by) == ("resolved", "系统"), type
        assert alert.note.startswith("自动解除"), type
    assert report.alerts_resolved >= 3
    assert alert_of(session, "low_sample", "C002").state == untouched.state == "open"


def test_a_flag_that_still_holds_keeps_its_alert_open(client, session):
    rate_all(client, [2] * 6 + [9] * 4)
    publish(session)
    rate_all(client, [2] * 3)
    publish(session)
    assert alert_of(session, "warning_talk").state == "open"
    assert alert_of(session, "low_sample").state == "open"


ONE_PLUS_FIVE_N = {"org_department": 20, "superior": 15, "peer": 15, "recipient": 35,
                   "third_party": 15, "media": 5}
DEFAULT_WEIGHTS = {"recipient": 35, "representative": 20, "superior": 15, "peer": 15,
                   "subordinate": 15}
SAMPLES = {"org_department": [8, 9], "superior": [7], "peer": [6, 8, 9],
           "recipient": [9, 8, 10, 7, 9, 9, 8, 10, 6, 9], "third_party": [5, 7, 6],
           "media": [4], "subordinate": [9, 9, 8], "representative": [7, 8, 6]}


def composite_of(weights: dict[str, int]) -> float:
    """Recompute a composite by hand: every group here is ok and untrimmed (n < 20)."""
    total = sum(Fraction(w) * Fraction(sum(SAMPLES[g]), len(SAMPLES[g]))
                for g, w in weights.items()) / sum(weights.values())
    return float((Decimal(10 * total.numerator) / Decimal(total.denominator))
                 .quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))


def with_rules(*rules):
    """Return the app's catalogue with scheme rules, as settings/scheme_rules.yaml gives them."""
    from dataclasses import replace

    catalogue = current_app.extensions["catalogue"]
    return replace(catalogue, vocabulary=replace(catalogue.vocabulary, rules=tuple(rules)))


def test_each_official_is_scored_under_the_first_rule_that_matches(app, session):
    from backend.models import Cadre, RatingCount, SurveyTemplate, Unit
    from backend.scoring.vocabulary import SchemeRule

    unit = Unit(code="U5", name="县发改局", category="dept_economy")
    chief = Cadre(code="P001", name="局长", unit=unit, position="局长", level="principal")
    deputy = Cadre(code="P002", name="副局长", unit=unit, position="副局长", level="deputy")
    session.add_all([chief, deputy])
    session.flush()
    for cadre in (chief, deputy):
        for group, scores in SAMPLES.items():
            for score in set(scores):
                session.add(RatingCount(cadre_id=cadre.id, month="2026-08", rater_group=group,
                                        score=score, count=scores.count(score)))
    session.commit()
    rules = (SchemeRule("one_plus_five_n", frozenset({"town_ecology"})),  # not this unit
             SchemeRule("one_plus_five_n", frozenset({"dept_economy"}), frozenset({"principal"})),
             SchemeRule("default", frozenset({"dept_economy"})))
    recorder = Recorder()
    book = scheme_book(session, with_rules(*rules))
    publish_period(session, "2026-Q3", book, datetime(2026, 10, 5, tzinfo=UTC), TZ, recorder)

    chief_doc, deputy_doc = current(session, "P001"), current(session, "P002")
    assert chief_doc["scheme"]["id"] == "one_plus_five_n"
    composite = chief_doc["composite"]
    assert (composite["status"], composite["score_100"]) == ("ok", composite_of(ONE_PLUS_FIVE_N))
    # The documents' weights sum to 105: each is renormalised over the ok groups.
    assert composite["weights"]["org_department"] == float(Fraction(20, 105))
    assert set(chief_doc["groups"]) == set(ONE_PLUS_FIVE_N)
    assert deputy_doc["scheme"]["id"] == "default"
    assert deputy_doc["composite"]["score_100"] == composite_of(DEFAULT_WEIGHTS)
    stored = dict(session.execute(
        select(Cadre.code, SurveyTemplate.key)
        .join(ScoreSnapshot, ScoreSnapshot.cadre_id == Cadre.id)
        .join(SurveyTemplate, ScoreSnapshot.scheme_id == SurveyTemplate.id)
        .where(Cadre.code.in_(["P001", "P002"]))).all())
    assert stored == {"P001": "one_plus_five_n", "P002": "default"}
    pushed = {m[2].split(":")[0]: m[2].split(":")[2] for m in recorder.messages
              if m[0] == "score.published" and m[2].startswith("P00")}
    assert pushed == {"P001": "one_plus_five_n", "P002": "default"}


def test_an_official_moved_to_another_scheme_gets_one_new_current_score(app, session):
    from backend.models import Cadre, RatingCount, Unit
    from backend.scoring.vocabulary import SchemeRule

    unit = Unit(code="U6", name="县审批局", category="dept_public_service")
    chief = Cadre(code="Q001", name="局长", unit=unit, position="局长", level="principal")
    session.add(chief)
    session.flush()
    for group, scores in SAMPLES.items():
        for score in set(scores):
            session.add(RatingCount(cadre_id=chief.id, month="2026-08", rater_group=group,
                                    score=score, count=scores.count(score)))
    session.commit()
    when = datetime(2026, 10, 5, tzinfo=UTC)
    publish_period(session, "2026-Q3", scheme_book(session, with_rules()), when, TZ, Recorder())
    moved = with_rules(SchemeRule("one_plus_five_n", levels=frozenset({"principal"})))
    recorder = Recorder()
    report = publish_period(session, "2026-Q3", scheme_book(session, moved), when, TZ, recorder)
    assert report.changed_codes == ["Q001"]
    rows = session.execute(select(ScoreSnapshot.superseded_at, ScoreSnapshot.document)
                           .where(ScoreSnapshot.cadre_id == chief.id)).all()
    assert len(rows) == 2
    assert [doc["scheme"]["id"] for at, doc in rows if at is None] == ["one_plus_five_n"]
    again = publish_period(session, "2026-Q3", scheme_book(session, moved), when, TZ, Recorder())
    assert again.changed == 0
