"""Running a quarter from the console: campaigns (create, roster, slips, remind, extend, close,
cancel, results) and scores (preview, publish, the push outbox per official, honest status).

Each write is CSRF-protected, audited and refused in Chinese with a 4xx that changes nothing.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from backend import wiring
from backend.extensions import db
from backend.models import (
    AuditEntry,
    Campaign,
    CampaignRater,
    Rating,
    ScoreSnapshot,
    SlipPrint,
)
from backend.services.campaigns.lifecycle import ballot_month
from backend.services.sealing.mac import rating_mac
from tests.conftest import missing
from tests.console.world import csrf_of
from workers.queues import job_queue

ROSTER = ("评价人编码,姓名,手机号,评价人群体,评价对象\n"
          "Q01,欧阳建国,13800138001,同级,\n"
          "Q02,林小红,,上级,C001\n"
          "Q03,周大海,,同级,\n")
BAD_ROSTER = ROSTER + "Q04,陈一,,邻居,\n"


def token(client, path: str = "/console/campaigns/new") -> str:
    """Return a CSRF token from a page with a form."""
    return csrf_of(client.get(path).get_data(as_text=True))


def closing() -> str:
    """Return a closing time a week ahead, as the form's datetime-local value."""
    return (wiring.now() + timedelta(days=7)).astimezone(wiring.timezone()).strftime(
        "%Y-%m-%dT%H:%M")


def new_campaign(client, roster: str = ROSTER, code: str = "2026-Q4-NEW", **changes):
    """Post the new-campaign form with a CSV roster (or the file given as `upload`)."""
    data, name = changes.pop("upload", (roster.encode(), "roster.csv"))
    upload = (io.BytesIO(data), name)
    form = {"csrf_token": token(client), "code": code, "name": "城关镇2026年第4季度民主测评",
            "template": "democratic_appraisal", "period": "2026-Q4", "closes_at": closing(),
            "targets": "C001、C009", "max_reminders": "2",
            "roster": upload, **changes}
    return client.post("/console/campaigns/new", data=form, content_type="multipart/form-data")


def campaign_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Campaign))


def audited(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == action))


def test_org_admin_creates_a_campaign_from_a_roster_and_it_is_audited(signed_in, world):
    client = signed_in("org_admin")
    assert "新建测评" in client.get("/console/campaigns").get_data(as_text=True)
    response = new_campaign(client)
    assert response.status_code == 303, response.get_data(as_text=True)
    campaign = db.session.scalar(select(Campaign).filter_by(code="2026-Q4-NEW"))
    raters = db.session.scalars(select(CampaignRater).filter_by(campaign_id=campaign.id)).all()
    assert sorted(r.code for r in raters) == ["Q01", "Q02", "Q03"]
    assert audited("campaign.create") == 1
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已创建测评 2026-Q4-NEW，共 3 张测评票" in page and "打印测评票" in page
    live = f"/console/api/campaigns/{campaign.id}"
    assert f'data-live-url="{live}"' in page  # the turnout cards refresh from it
    cards = {c["label"]: c["value"] for c in client.get(live).get_json()["cards"]}
    assert (cards["应参评"], cards["已参评"]) == ("3", "0")


def test_a_roster_with_one_bad_row_creates_nothing_and_names_the_row(signed_in, world):
    client = signed_in("org_admin")
    before = campaign_count()
    response = new_campaign(client, BAD_ROSTER)
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "第 5 行" in text and "未知的评价人群体：邻居" in text
    assert campaign_count() == before and audited("campaign.create") == 0


@pytest.mark.parametrize("changes, status, words", [
    ({"closes_at": "明天"}, 422, "时间格式"),
    ({"period": "2026-Q9"}, 422, "期间"),
    ({"code": "含 空格"}, 422, "编码只能包含"),
    ({"template": "service_event"}, 422, "不是测评票模板"),
    ({"max_reminders": "99"}, 422, "提醒轮数"),
    ({"upload": (b"x", "roster.txt")}, 422, "只支持 .csv 和 .xlsx"),
    ({"code": "2026-Q4-T"}, 409, "测评编码已存在"),
])
def test_bad_campaign_forms_are_refused_in_chinese_and_change_nothing(signed_in, world,
                                                                      changes, status, words):
    client = signed_in("org_admin")
    before = campaign_count()
    response = new_campaign(client, **changes)
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert campaign_count() == before


def test_campaign_forms_need_the_csrf_token_and_the_org_role(signed_in, world):
    client = signed_in("org_admin")
    response = client.post("/console/campaigns/new", data={"code": "X1"})
    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)
    town = signed_in("unit_admin")
    assert town.get("/console/campaigns/new").status_code == 403
    assert town.post(f"/console/campaigns/{world.campaign_id}/close",
                     data={"csrf_token": token(town, "/console/campaigns")}).status_code == 403
    assert db.session.get(Campaign, world.campaign_id).status == "open"


def printed_text(pdf: bytes, tmp_path) -> list[str]:
    """Return the lines pdftotext reads from a PDF."""
    if shutil.which("pdftotext") is None:
        missing("poppler-utils", "pdftotext reads the slips back")
    (tmp_path / "slips.pdf").write_bytes(pdf)
    subprocess.run(["pdftotext", "-layout", str(tmp_path / "slips.pdf"),
                    str(tmp_path / "slips.txt")], check=True)
    return (tmp_path / "slips.txt").read_text().splitlines()


def test_printing_slips_reports_progress_and_the_pdf_names_no_rater(signed_in, world, tmp_path):
    client = signed_in("org_admin")
    campaign_id = int(new_campaign(client).headers["Location"].rsplit("/", 1)[1])
    csrf = token(client, f"/console/campaigns/{campaign_id}")
    response = client.post(f"/console/campaigns/{campaign_id}/print",
                           data={"csrf_token": csrf}, headers={"Accept": "application/json"})
    assert response.status_code == 202
    status_url = response.get_json()["status_url"]
    assert client.get(status_url).get_json()["status"] == "queued"  # the job has not run yet
    assert job_queue(client.application).run_due() == 1
    status = client.get(status_url).get_json()
    assert (status["status"], status["done"], status["total"], status["percent"]) == \
        ("done", 3, 3, 100)
    pdf = client.get(status["pdf_url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    lines = printed_text(pdf.data, tmp_path)
    text = "\n".join(lines)
    assert "测评不记名" in text
    for name in ("欧阳建国", "林小红", "周大海"):
        assert name not in text
    stubs = [line for line in lines if "评价人编码" in line]
    assert all("存根" in line for line in stubs)
    assert {c for line in stubs for c in re.findall(r"评价人编码 (Q\d\d)", line)} == \
        {"Q01", "Q02", "Q03"}
    assert audited("campaign.print") == 1 and audited("campaign.slips") == 1


def test_a_print_of_another_campaign_or_unknown_is_404(signed_in, world):
    client = signed_in("org_admin")
    assert client.get(f"/console/campaigns/{world.campaign_id}/prints/999").status_code == 404
    pdf = client.get(f"/console/campaigns/{world.campaign_id}/prints/999/slips.pdf")
    assert pdf.status_code == 404 and "打印任务不存在" in pdf.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(SlipPrint)) == 0


def test_extend_close_and_cancel_from_the_campaign_page(signed_in, world):
    client = signed_in("org_admin")
    campaign_id = int(new_campaign(client).headers["Location"].rsplit("/", 1)[1])
    base = f"/console/campaigns/{campaign_id}"
    csrf = token(client, base)
    bad = client.post(base + "/extend", data={"csrf_token": csrf, "closes_at": "2020-01-01T00:00"})
    assert bad.status_code == 422 and "新的截止时间必须晚于" in bad.get_data(as_text=True)
    later = (wiring.now() + timedelta(days=20)).astimezone(wiring.timezone())
    extended = client.post(base + "/extend", data={"csrf_token": csrf,
                                                   "closes_at": later.strftime("%Y-%m-%dT%H:%M")})
    assert extended.status_code == 303
    assert client.post(base + "/close", data={"csrf_token": csrf}).status_code == 303
    again = client.post(base + "/cancel", data={"csrf_token": csrf})
    assert again.status_code == 409 and "测评已关闭，不能取消" in again.get_data(as_text=True)
    assert db.session.get(Campaign, campaign_id).status == "closed"
    page = client.get(base).get_data(as_text=True)
    assert "测评结果" in page and "样本不足" in page  # nobody answered: counts only
    assert audited("campaign.extend") == 1 and audited("campaign.close") == 1


def test_reminders_go_to_raters_with_phones_and_stop_at_the_limit(signed_in, world):
    client = signed_in("org_admin")
    campaign_id = int(new_campaign(client, max_reminders="1").headers["Location"]
                      .rsplit("/", 1)[1])
    base = f"/console/campaigns/{campaign_id}"
    csrf = token(client, base)
    first = client.post(base + "/remind", data={"csrf_token": csrf})
    assert first.status_code == 303
    assert "1 条短信" in client.get(base).get_data(as_text=True)  # only Q01 has a phone
    second = client.post(base + "/remind", data={"csrf_token": csrf})
    assert second.status_code == 409 and "提醒次数已用完" in second.get_data(as_text=True)


def test_scores_page_is_honest_about_an_unconfigured_core(signed_in, world):
    text = signed_in("org_admin").get("/console/scores").get_data(as_text=True)
    assert "未配置" in text and "ASSESSMENT_CORE_URL" in text and "正常" not in text
    assert "成绩发布" in text and "score.published" not in text
    assert "已等待" in text  # the oldest waiting message's age


def test_old_push_address_redirects_to_the_scores_page(signed_in, world):
    client = signed_in("viewer")
    response = client.get("/console/push?status=dead")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/console/scores?status=dead")
    export = client.get("/console/push/export.csv?fmt=xlsx&_external=1")
    assert export.status_code == 301
    assert export.headers["Location"].endswith("/console/scores/export.csv?fmt=xlsx&_external=1")


def test_preview_then_publish_a_period_and_see_the_officials_push(signed_in, world):
    client = signed_in("org_admin")
    preview = client.get("/console/scores?preview=2026-11").get_data(as_text=True)
    assert "发布预览：2026-11" in preview and "将推送给考核核心系统" in preview
    assert "新增" in preview and "C001" in preview
    csrf = csrf_of(preview)
    response = client.post("/console/scores/publish", data={"csrf_token": csrf,
                                                             "period": "2026-11"})
    assert response.status_code == 303
    job_queue(client.application).run_due()  # the publication job, then the push relay
    assert db.session.scalar(select(func.count()).select_from(ScoreSnapshot)
                             .where(ScoreSnapshot.period == "2026-11")) > 0
    assert audited("scores.publish") == 1
    again = client.get("/console/scores?preview=2026-11").get_data(as_text=True)
    assert "其中 0 名" in again  # nothing changed since
    official = client.get("/console/scores?cadre=C001").get_data(as_text=True)
    assert "干部 C001 的成绩推送" in official and "2026-11" in official
    replayed = client.post("/console/scores/replay", data={"csrf_token": csrf, "cadre": "C001"})
    assert replayed.status_code == 303 and audited("push.replay") == 1


@pytest.mark.parametrize("form, status, words", [
    ({"period": "2099-01"}, 422, "尚未开始"), ({"period": "2026-13"}, 422, "期间"),
    ({}, 422, "请填写要发布的期间"),
])
def test_bad_publications_are_refused_and_publish_nothing(signed_in, world, form, status, words):
    client = signed_in("org_admin")
    response = client.post("/console/scores/publish",
                           data={"csrf_token": token(client, "/console/scores"), **form})
    assert response.status_code == status and words in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ScoreSnapshot)) == 0
    assert audited("scores.publish") == 0


def test_bad_preview_period_or_cadre_is_422_in_chinese(signed_in, world):
    client = signed_in("org_admin")
    assert client.get("/console/scores?preview=2099-01").status_code == 422
    assert client.get("/console/scores?cadre=C0%27;--").status_code == 422
    response = client.post("/console/scores/replay", data={
        "csrf_token": token(client, "/console/scores"), "cadre": "NOPE"})
    assert response.status_code == 404 and "没有成绩推送" in response.get_data(as_text=True)


def test_viewer_reads_the_scores_page_but_cannot_publish(signed_in, world):
    client = signed_in("viewer")
    text = client.get("/console/scores").get_data(as_text=True)
    assert "评分发布与推送" in text and "publish-form" not in text
    response = client.post("/console/scores/publish", data={
        "csrf_token": csrf_of(text), "period": "2026-11"})
    assert response.status_code == 403


def add_ballot_ratings(campaign: Campaign, cadre_id: int, group: str, scores: list[int]) -> None:
    """Store released ballot ratings of a campaign's month for one official and group."""
    month = ballot_month(campaign, wiring.timezone())
    for n, score in enumerate(scores):
        rating = Rating(cadre_id=cadre_id, rater_group=group, score=score, tags=["敢于担当"],
                        template_id=campaign.template_id, batch_at=wiring.now(), month=month,
                        receipt_hash=f"{group}{cadre_id}{n}".ljust(64, "0"), status="valid")
        rating.mac = rating_mac(wiring.sealer(), rating)
        db.session.add(rating)
    db.session.commit()


def test_results_after_closing_show_numbers_only_for_groups_at_their_minimum(signed_in, world):
    client = signed_in("org_admin")
    campaign_id = int(new_campaign(client).headers["Location"].rsplit("/", 1)[1])
    campaign = db.session.get(Campaign, campaign_id)
    add_ballot_ratings(campaign, world.cadres["C001"], "superior", [9])  # min_n 1
    add_ballot_ratings(campaign, world.cadres["C001"], "peer", [10, 2])  # min_n 3
    base = f"/console/campaigns/{campaign_id}"
    assert "测评结果" not in client.get(base).get_data(as_text=True)  # not while open
    assert client.post(base + "/close", data={"csrf_token": token(client, base)}).status_code \
        == 303
    tables = client.get(f"/console/api/campaigns/{campaign_id}").get_json()["tables"]
    rows = {(r["cadre_code"], r["group"]): r for r in tables[-1]["rows"]}
    superior, peer = rows[("C001", "superior")], rows[("C001", "peer")]
    assert (superior["n"], superior["result"], superior["top_tags"]) == (1, "9.00", ["敢于担当"])
    assert peer["n"] == 2 and peer["result"].startswith("样本不足")
    assert "trimmed_mean" not in peer and "satisfaction" not in peer and "top_tags" not in peer


def test_a_stored_print_holds_no_working_link_in_clear(signed_in, world):
    client = signed_in("org_admin")
    campaign_id = int(new_campaign(client).headers["Location"].rsplit("/", 1)[1])
    client.post(f"/console/campaigns/{campaign_id}/print",
                data={"csrf_token": token(client, f"/console/campaigns/{campaign_id}")})
    job_queue(client.application).run_due()
    stored = db.session.scalar(select(SlipPrint.pdf).where(SlipPrint.campaign_id == campaign_id))
    assert stored and b"%PDF" not in stored and b"/r/" not in stored  # sealed
