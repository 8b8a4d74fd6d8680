"""Results people can act on: the headline, groups, tags, trend, standing, the feedback PDF,
the JSON report, the official's own link, and suppression of groups below their minimum.

Expected numbers are computed here from the raw scores (sorted lists, exact fractions and
scipy's reference trimmed interval), not from the histogram code under test.
"""

from __future__ import annotations

import io
import re
import subprocess
from datetime import UTC, datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from scipy.stats import mstats
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Cadre, Rating, SurveyTemplate, Unit, WebhookMessage
from backend.scoring import shift_month
from backend.services.scores import counts
from backend.services.sealing.mac import rating_mac
from backend.wiring import sealer
from tests.console.world import csrf_of

TZ = ZoneInfo("Asia/Shanghai")
SUBJECT = "C011"  # 徐明, 副镇长 of 城关镇: a township deputy
RECIPIENT_SCORES = [3, 5, 6, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10]
RECIPIENT_TAGS = ["办事高效"] * 6 + ["热情周到"] * 4 + ["推诿扯皮"] * 3 + ["办事拖拉"]
SHOWN_COMMENT = "窗口服务很好，材料一次讲清"
# Below their minimum (representative 3, peer 3): nothing of theirs may appear anywhere.
SECRET_TAGS = ("脱离群众", "独断专行")
SECRET_COMMENTS = ("代表甲的秘密意见XYZ", "同事乙的秘密意见QRS")
PEER_INDEXES = [6, 7, 7, 8, 9, 10]  # each peer: ten recipient ratings of this one score


def month_now() -> str:
    return datetime.now(UTC).astimezone(TZ).strftime("%Y-%m")


def add(cadre_id: int, group: str, score: int, month: str, tags=(), comment=None) -> None:
    """Store one valid rating and count it, as release does."""
    template_id = db.session.scalar(select(SurveyTemplate.id).where(
        SurveyTemplate.key == "service_event").order_by(SurveyTemplate.version.desc()).limit(1))
    year, number = map(int, month.split("-"))
    rating = Rating(cadre_id=cadre_id, rater_group=group, score=score, tags=list(tags),
                    comment=comment, template_id=template_id, event_type="approval",
                    batch_at=datetime(year, number, 2, 4, tzinfo=UTC), month=month,
                    receipt_hash=f"{add.serial:064x}", status="valid")
    add.serial += 1
    rating.mac = rating_mac(sealer(), rating)
    db.session.add(rating)
    counts.add_rating(db.session, cadre_id, month, group, score, tags)


add.serial = 10_000


def township_deputies() -> list[Cadre]:
    """Return the township deputies other than the subject, by code."""
    rows = db.session.scalars(select(Cadre).join(Unit).where(
        Unit.category == "township", Cadre.code != SUBJECT).order_by(Cadre.code))
    return [c for c in rows if "副" in c.position]


@pytest.fixture
def rated(world):
    """Rate the subject this month and last month, and six comparable deputies."""
    month = month_now()
    subject = world.cadres[SUBJECT]
    for n, score in enumerate(RECIPIENT_SCORES):
        tags = [RECIPIENT_TAGS[n]] if n < len(RECIPIENT_TAGS) else []
        add(subject, "recipient", score, month, tags, SHOWN_COMMENT if n == 12 else None)
    add(subject, "representative", 2, month, [SECRET_TAGS[0]], SECRET_COMMENTS[0])
    add(subject, "representative", 3, month, [SECRET_TAGS[0]])
    add(subject, "peer", 4, month, [SECRET_TAGS[1]], SECRET_COMMENTS[1])
    add(subject, "peer", 5, month, [SECRET_TAGS[1]])
    for _ in range(10):
        add(subject, "recipient", 6, shift_month(month, -1))
    for n in range(len(PEER_INDEXES) - len(township_deputies())):  # enough to compare with
        db.session.add(Cadre(code=f"D9{n:02d}", name=f"副职{n}", position="副乡长",
                             unit_id=world.units["XZ102"]))
    db.session.flush()
    deputies = township_deputies()
    assert len(deputies) == len(PEER_INDEXES)
    for cadre, score in zip(deputies, PEER_INDEXES, strict=False):
        for _ in range(10):
            add(cadre.id, "recipient", score, month)
    db.session.commit()
    return month


def trimmed(scores: list[int]) -> tuple[int, Fraction]:
    """Return k and the trimmed mean of SCORING.md from the sorted raw scores."""
    ordered, n = sorted(scores), len(scores)
    k = n * 5 // 100  # floor(n * 0.05) in integers
    kept = ordered[k:n - k]
    return k, Fraction(sum(kept), len(kept))


def half_up(value: Fraction) -> str:
    """Round a positive exact value to two decimals, halves up."""
    cents = (value * 100 + Fraction(1, 2)).__floor__()
    return f"{cents // 100}.{cents % 100:02d}"


def results(client, world, period: str) -> dict:
    return client.get(f"/console/api/officials/{world.cadres[SUBJECT]}/results"
                      f"?period={period}").get_json()


def row_named(page: dict, table: str, name: str) -> dict:
    rows = next(t for t in page["tables"] if t["key"] == table)["rows"]
    return next(r for r in rows if r["name"] == name)


def test_each_group_shows_its_numbers_and_a_small_group_only_its_size(signed_in, world, rated):
    page = results(signed_in("viewer"), world, rated)
    k, mean = trimmed(RECIPIENT_SCORES)
    assert (k, mean) == (1, Fraction(142, 18))
    low, high = mstats.trimmed_mean_ci(RECIPIENT_SCORES, limits=(0.05, 0.05), alpha=0.05)
    recipients = row_named(page, "groups", "服务对象")
    assert (recipients["n"], recipients["k"]) == (20, k)
    assert recipients["mean"] == f"{float(mean):.2f}" == "7.89"
    assert recipients["ci"] == f"{low:.2f}–{high:.2f}"
    assert recipients["satisfaction"] == "85.0%"  # 17 of 20 at 7 or more
    assert recipients["dissatisfaction"] == "5.0%"  # one 3
    small = row_named(page, "groups", "两代表一委员")
    assert small["mean"] == "样本不足（n=2，需≥3）"
    assert (small["ci"], small["satisfaction"], small["dissatisfaction"]) == ("—", "—", "—")
    assert "k" not in small
    # 35 of 100 weight is below the composite's coverage: the headline is the index.
    head = page["cards"][0]
    assert (head["label"], head["value"]) == ("随时评指数", half_up(10 * mean)) == (
        "随时评指数", "78.89")


def test_tags_are_those_of_groups_at_their_minimum_split_by_polarity(signed_in, world, rated):
    report = results(signed_in("org_admin"), world, rated)["extra"]["report"]
    assert report["tags"]["positive"] == [{"tag": "办事高效", "count": 6},
                                          {"tag": "热情周到", "count": 4}]
    assert report["tags"]["negative"] == [{"tag": "推诿扯皮", "count": 3},
                                          {"tag": "办事拖拉", "count": 1}]


def test_standing_is_a_percentile_among_township_deputies_and_names_nobody(signed_in, world,
                                                                          rated):
    report = results(signed_in("org_admin"), world, rated)["extra"]["report"]
    mine = 10 * trimmed(RECIPIENT_SCORES)[1]
    below = sum(1 for s in PEER_INDEXES if 10 * s < mine)
    ties = sum(1 for s in PEER_INDEXES if 10 * s == mine)
    assert report["standing"] == {
        "category": "township", "category_name": "乡镇（街道）", "level": "副职",
        "peers": 6, "percentile": round(float(Fraction(2 * below + ties, 12)) * 100, 1)}
    assert report["standing"]["percentile"] == 50.0
    peer_codes = {c.code for c in township_deputies()}
    assert not peer_codes & set(re.findall(r"C\d{3}", str(report["standing"])))


def test_trend_covers_six_months_and_four_quarters_with_the_index_band(signed_in, world, rated):
    report = results(signed_in("org_admin"), world, rated)["extra"]["report"]
    months = report["trend"]["months"]
    assert [p["period"] for p in months][-2:] == [shift_month(rated, -1), rated]
    assert len(months) == 6 and len(report["trend"]["quarters"]) == 4
    last_month, this_month = months[-2], months[-1]
    assert last_month["headline"] == {"kind": "recipient_index", "score_100": 60.0}
    assert last_month["band"] == [60.0, 60.0]  # ten equal scores: no spread
    low, high = mstats.trimmed_mean_ci(RECIPIENT_SCORES, limits=(0.05, 0.05), alpha=0.05)
    assert this_month["band"] == [round(10 * low, 2), round(10 * high, 2)]
    assert this_month["n"] == 24  # 20 recipients, 2 representatives, 2 peers: n is published
    html = signed_in("org_admin").get(f"/console/officials/{world.cadres[SUBJECT]}/results"
                                      f"?period={rated}").get_data(as_text=True)
    assert html.count("<svg") == 4 and "<polygon" in html and "<script" not in html.split(
        "<main")[1].split("</main>")[0]
    assert f"{rated} 比 {shift_month(rated, -1)} 上升 18.89 分" in html


def test_flags_are_explained_in_chinese_with_their_numbers(signed_in, world, rated):
    subject = results(signed_in("org_admin"), world, rated)["extra"]["report"]
    assert subject["flags"] == []  # 85% satisfied, 5% dissatisfied, 34 ratings in six months
    deputy = township_deputies()[0]  # ten 6s: none satisfied, ten ratings in six months
    page = signed_in("org_admin").get(f"/console/api/officials/{deputy.id}/results"
                                      f"?period={rated}").get_json()
    assert page["extra"]["report"]["flags"] == [
        {"code": "not_excellent_eligible", "label": "不能评为优秀",
         "reason": "服务对象满意率 0.0%，低于 75.0%：本期不能评为优秀。"},
        {"code": "low_sample", "label": "有效评价不足",
         "reason": "近6个月有效评价 10 条，少于 30 条：样本偏少，已提醒组织部门。"}]


def test_a_unit_rolls_up_its_officials_with_or_without_the_units_below(signed_in, world, rated):
    client = signed_in("unit_admin")
    town = world.units["XZ100"]
    alone = client.get(f"/console/api/units/{town}/results?period={rated}").get_json()
    both = client.get(f"/console/api/units/{town}/results?period={rated}&sub=1").get_json()
    own = db.session.scalar(select(func.count()).select_from(Cadre).where(
        Cadre.unit_id == town, Cadre.active.is_(True)))
    below = db.session.scalar(select(func.count()).select_from(Cadre).where(
        Cadre.unit_id == world.units["XZ400"], Cadre.active.is_(True)))
    assert alone["extra"]["report"]["officials_count"] == own
    assert both["extra"]["report"]["officials_count"] == own + below
    codes = [o["code"] for o in alone["extra"]["report"]["officials"]]
    assert codes == sorted(codes)  # by code, never ranked by score
    recipients = row_named(alone, "groups", "服务对象")
    # The unit's recipients this month: the subject's 20, C001's 10 (world) and any deputy
    # of 城关镇 rated above, pooled into one histogram.
    pooled = list(RECIPIENT_SCORES) + [8, 7, 6, 5] + [9] * 6
    for cadre, score in zip(township_deputies(), PEER_INDEXES, strict=False):
        if cadre.unit_id == town:
            pooled += [score] * 10
    k, mean = trimmed(pooled)
    assert (recipients["n"], recipients["k"], recipients["mean"]) == (
        len(pooled), k, f"{float(mean):.2f}")


def test_the_json_report_needs_scores_read_and_refuses_bad_input(client, make_key, world, rated):
    reader = make_key("scores:read")
    response = client.get(f"/api/v1/cadres/{SUBJECT}/report?period={rated}", headers=reader)
    assert response.status_code == 200
    body = response.json
    assert body["headline"] == {"kind": "recipient_index", "score_100": 78.89}
    assert body["score"]["headline"] == body["headline"]
    assert body["score"]["groups"]["representative"] == {"status": "insufficient", "n": 2}
    assert body["standing"]["percentile"] == 50.0 and body["reading"]
    assert client.get(f"/api/v1/cadres/{SUBJECT}/report?period={rated}",
                      headers=make_key("events:write")).status_code == 403
    assert client.get(f"/api/v1/cadres/{SUBJECT}/report?period={rated}").status_code == 401
    assert client.get(f"/api/v1/cadres/NOPE/report?period={rated}",
                      headers=reader).status_code == 404
    for bad in ("2026-Q5", "9999", "", "2026-1"):
        answer = client.get(f"/api/v1/cadres/{SUBJECT}/report?period={bad}", headers=reader)
        assert answer.status_code == 422 and answer.json["message"], bad


def pdf_text(pdf: bytes) -> str:
    """Return a PDF's text as pdftotext reads it."""
    assert pdf.startswith(b"%PDF")
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()


def test_the_feedback_pdf_lists_results_problems_and_shown_comments(signed_in, world, rated):
    response = signed_in("org_admin").get(
        f"/console/officials/{world.cadres[SUBJECT]}/report.pdf?period={rated}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "成绩清单与问题清单" in text and "随时评指数：78.89" in text
    assert "推诿扯皮" in text and "样本不足（n=2，需≥3）" in text
    assert SHOWN_COMMENT[:6] in text
    fonts = subprocess.run(["pdffonts", "-"], input=response.data, capture_output=True)
    assert fonts.returncode != 0 or b"yes" in fonts.stdout  # embedded (pdffonts: emb = yes)
    viewer = signed_in("viewer").get(
        f"/console/officials/{world.cadres[SUBJECT]}/report.pdf?period={rated}")
    assert SHOWN_COMMENT[:6] not in pdf_text(viewer.data)  # comments: org admins only


def test_a_units_batch_prints_one_page_per_official_with_progress(app, signed_in, world, rated):
    client = signed_in("org_admin")
    town = world.units["XZ100"]
    token = csrf_of(client.get(f"/console/units/{town}/results?period={rated}")
                    .get_data(as_text=True))
    start = client.post(f"/console/units/{town}/report-batches",
                        data={"csrf_token": token, "period": rated, "sub": "1"})
    assert start.status_code == 303
    status_url = start.headers["Location"]
    waiting = client.get(status_url).get_data(as_text=True)
    assert "排队中" in waiting and 'http-equiv="refresh"' in waiting
    app.extensions["jobs"].run_due()
    done = client.get(status_url).get_data(as_text=True)
    officials = db.session.scalar(select(func.count()).select_from(Cadre).where(
        Cadre.unit_id.in_([town, world.units["XZ400"]]), Cadre.active.is_(True)))
    assert "已完成" in done and f"{officials} / {officials}" in done
    pdf = client.get(status_url + "/report.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert text.count("成绩清单与问题清单 · ") == officials
    bad = client.post(f"/console/units/{town}/report-batches",
                      data={"csrf_token": token, "period": "2026-Q9"})
    assert bad.status_code == 422


def own_link(client, world, period: str) -> str:
    """Issue an own-report link as an org admin; return its path."""
    cadre = world.cadres[SUBJECT]
    token = csrf_of(client.get(f"/console/officials/{cadre}/results?period={period}")
                    .get_data(as_text=True))
    page = client.post(f"/console/officials/{cadre}/own-link",
                       data={"csrf_token": token, "period": period}).get_data(as_text=True)
    return re.search(r"https?://[^/\s]+(/o/[A-Za-z0-9._-]+)", page).group(1)


def test_the_officials_own_link_shows_aggregates_only_and_expires(app, client, signed_in, world,
                                                                 rated, monkeypatch):
    path = own_link(signed_in("org_admin"), world, rated)
    page = client.get(path)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert "随时评指数：78.89" in text and "推诿扯皮" in text and "样本不足" in text
    assert SHOWN_COMMENT not in text  # no comment at all in the official's own view
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # nothing finer than the month
    assert client.get(path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")).status_code \
        == 404
    import itsdangerous.timed

    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() - 31 * 86400)
    with app.test_request_context():
        from backend import wiring

        old = wiring.own_link_codec().issue(SUBJECT, rated, datetime.now(UTC))
    monkeypatch.undo()
    assert client.get(f"/o/{old.token}").status_code == 410


def suppressed_outputs(client, make_key, world, rated) -> dict[str, str]:
    """Return every output that could carry the subject's small groups, as text."""
    org = client
    cadre, town = world.cadres[SUBJECT], world.units["XZ100"]
    pages = {
        "results": f"/console/officials/{cadre}/results?period={rated}",
        "results.json": f"/console/api/officials/{cadre}/results?period={rated}",
        "results.csv": f"/console/officials/{cadre}/results/export.csv?period={rated}",
        "unit": f"/console/units/{town}/results?period={rated}&sub=1",
        "unit.json": f"/console/api/units/{town}/results?period={rated}&sub=1",
        "feedback": f"/console/officials/{cadre}/feedback",
        "feedback.json": f"/console/api/officials/{cadre}/feedback",
        "feedback.csv": f"/console/officials/{cadre}/feedback/export.csv",
        "official": f"/console/officials/{cadre}",
    }
    texts = {name: org.get(url).get_data(as_text=True) for name, url in pages.items()}
    for name, url in (("results.xlsx", pages["results.csv"].replace(".csv", ".xlsx")),
                      ("feedback.xlsx", pages["feedback.csv"].replace(".csv", ".xlsx"))):
        book = load_workbook(io.BytesIO(org.get(url).data), read_only=True)
        texts[name] = " ".join(str(c) for ws in book for row in ws.iter_rows(values_only=True)
                               for c in row if c is not None)
    texts["pdf"] = pdf_text(org.get(f"/console/officials/{cadre}/report.pdf?period={rated}").data)
    texts["api"] = org.get(f"/api/v1/cadres/{SUBJECT}/report?period={rated}",
                           headers=make_key("scores:read")).get_data(as_text=True)
    texts["own"] = org.get(own_link(org, world, rated)).get_data(as_text=True)
    return texts


def test_nothing_from_a_group_below_its_minimum_reaches_any_output(signed_in, make_key, world,
                                                                  rated):
    texts = suppressed_outputs(signed_in("org_admin"), make_key, world, rated)
    assert SHOWN_COMMENT in texts["feedback"] and "推诿扯皮" in texts["pdf"]  # not vacuous
    for name, text in texts.items():
        for secret in (*SECRET_TAGS, *SECRET_COMMENTS):
            assert secret not in text, (name, secret)
        # The small groups' scores (2, 3 and 4, 5) would give means 2.50 and 4.50.
        assert "2.50" not in text and "4.50" not in text, name
    report = signed_in("org_admin").get(f"/console/api/officials/{world.cadres[SUBJECT]}"
                                        f"/results?period={rated}").get_json()["extra"]["report"]
    small = {g["group"]: g for g in report["groups"] if g["status"] != "ok"}
    assert set(small["representative"]) == {"group", "name", "min_n", "status", "n", "text"}
    assert set(small["peer"]) == {"group", "name", "min_n", "status", "n", "text"}


def test_a_case_shows_its_rating_once_the_group_reached_its_minimum(signed_in, world):
    # C001's recipients this month are ten (tests/console/world.py): the case shows it all.
    page = signed_in("unit_admin").get(f"/console/cases/{world.case_id}").get_data(as_text=True)
    assert "评分：5 分" in page and "不予显示" not in page


def test_a_publication_pushes_the_same_headline_the_report_shows(app, runner, world, rated):
    assert runner.invoke(args=["scores", "publish", rated]).exit_code == 0
    db.session.commit()  # read after the command's commit
    pushed = [m.payload for m in db.session.scalars(select(WebhookMessage).where(
        WebhookMessage.type == "score.published"))]
    data = next(body["data"] for body in pushed if body["data"].get("cadre_code") == SUBJECT)
    assert data["headline"] == {"kind": "recipient_index", "score_100": 78.89}


def test_the_cli_issues_an_own_link_and_writes_a_pdf(runner, client, world, rated, tmp_path):
    issued = runner.invoke(args=["reports", "own-link", SUBJECT, "--period", rated,
                                 "--days", "7"])
    assert issued.exit_code == 0, issued.output
    path = "/o/" + issued.output.strip().splitlines()[-1].rsplit("/o/", 1)[1]
    assert client.get(path).status_code == 200
    unknown = runner.invoke(args=["reports", "own-link", "NOPE", "--period", rated])
    assert unknown.exit_code == 1 and "干部不存在" in unknown.output
    out = tmp_path / "report.pdf"
    written = runner.invoke(args=["reports", "pdf", SUBJECT, "--period", rated, "--out",
                                  str(out)])
    assert written.exit_code == 0, written.output
    assert "随时评指数：78.89" in pdf_text(out.read_bytes())
    late = runner.invoke(args=["reports", "pdf", SUBJECT, "--period", "9999", "--out",
                               str(out)])
    assert late.exit_code == 1 and "尚未开始" in late.output


def test_standing_follows_newly_released_ratings_of_peers(signed_in, world, rated):
    client = signed_in("org_admin")
    assert results(client, world, rated)["extra"]["report"]["standing"]["percentile"] == 50.0
    lowest = township_deputies()[0]  # ten 6s: index 60, below the subject's 78.89
    for _ in range(10):
        add(lowest.id, "recipient", 10, rated)  # now nine 6s and nine 10s kept: index 80
    db.session.commit()
    standing = results(client, world, rated)["extra"]["report"]["standing"]
    assert standing["percentile"] == round(float(Fraction(2 * 2, 12)) * 100, 1) == 33.3


def test_an_own_link_never_reaches_a_log_line():
    from backend.observability.masking import mask_secrets

    line = 'GET /o/eyJjIjoiQzAxMSIsInAiOiIyMDI2LTEyIiwiZCI6MzB9.aVN1bg.c2lnbmF0dXJl HTTP/1.1'
    assert mask_secrets(line) == "GET /o/*** HTTP/1.1"


def test_the_report_follows_the_scheme_rule_of_the_officials_category_and_level(
        app, client, make_key, world, rated, monkeypatch):
    from dataclasses import replace

    from backend.scoring.vocabulary import SchemeRule

    catalogue = app.extensions["catalogue"]
    rule = SchemeRule("one_plus_five_n", frozenset({"township"}), frozenset({"deputy"}))
    monkeypatch.setitem(app.extensions, "catalogue", replace(
        catalogue, vocabulary=replace(catalogue.vocabulary, rules=(rule,))))
    assert db.session.get(Cadre, world.cadres[SUBJECT]).level == "deputy"
    body = client.get(f"/api/v1/cadres/{SUBJECT}/report?period={rated}",
                      headers=make_key("scores:read")).json
    assert body["scheme"]["id"] == "one_plus_five_n"
    assert set(body["score"]["groups"]) == {"org_department", "superior", "peer", "recipient",
                                            "third_party", "media"}
    # Recipients carry 35 of 105: no composite, the index as before; peers share the scheme.
    assert body["headline"] == {"kind": "recipient_index", "score_100": 78.89}
    assert body["standing"]["percentile"] == 50.0
    text = str(body)
    assert not any(secret in text for secret in (*SECRET_TAGS, *SECRET_COMMENTS))
