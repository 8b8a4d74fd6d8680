"""Nothing live at rest or in logs: a full flow, then every log line and a data-only dump.

gunicorn, the RQ worker and cron run on PostgreSQL and Redis as deployed, with the SMS gateway
and WeChat faked. SMS and mini-program events are reported, rated through the page and the
API (with a mini-program session and a consented follow-up phone), a campaign's ballot is
answered, receipts are checked, and the ratings are released. Then every line the processes
and the commands wrote, and a data-only `pg_dump`, are searched for any working link, scene,
receipt, phone number or openid in clear.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import IN_CI, SEAL_TEST_KEYS, TEST_KEYS, missing, private_postgres_database
from tests.e2e.test_production_smoke import (
    ROOT,
    Stack,
    free_port,
    kill_group,
    run_cli,
    start,
    stop,
    wait_until,
)
from tests.fakes import FakeSmsGateway, FakeWeChat
from tests.support.redis_db import private_redis

REDIS_DB = 6  # a database of its own: this test flushes it
PHONES = ("13812345678", "13887654321", "13955556666", "13911112222", "13933334444")
OPENID = "o_secret_user_0001"

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSmsGateway, FakeWeChat]]:
    with FakeSmsGateway() as sms, FakeWeChat(appid="wx_secrets", secret="secrets") as wechat:
        yield sms, wechat


@pytest.fixture
def stack(redis_url, fakes, tmp_path) -> Iterator[Stack]:
    """Migrate a fresh database and start gunicorn, a worker and cron with JSON logs."""
    try:
        import gunicorn  # noqa: F401
    except ImportError as exc:
        missing("gunicorn", str(exc))
    sms, wechat = fakes
    with private_redis(redis_url, REDIS_DB) as redis, \
            private_postgres_database("ssp_secrets") as database_url:
        port = free_port()
        env = {key: value for key, value in os.environ.items()
               if key not in ("PROMETHEUS_MULTIPROC_DIR", "SMS_GATEWAY_URL", "FLASK_APP")}
        env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "REDIS_URL": redis,
               "SECRET_KEYS": ",".join(TEST_KEYS), "RATING_SEAL_KEYS": ",".join(SEAL_TEST_KEYS),
               "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "SMS_GATEWAY_URL": sms.send_url,
               "WECHAT_API_BASE": wechat.base_url, "WECHAT_APPID": wechat.appid,
               "WECHAT_SECRET": wechat.secret, "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG",
               "RATELIMIT_PUBLIC": "100000/minute", "PYTHONUNBUFFERED": "1",
               "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")})
        stack = Stack(f"http://127.0.0.1:{port}", env, tmp_path)
        stack.cli_output = [run_cli(env, "db", "upgrade")]
        try:
            start(stack, "web", "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                  "-b", f"127.0.0.1:{port}", "-w", "2", "backend:create_app()")
            start(stack, "worker", "-m", "workers")
            start(stack, "cron", "-m", "workers.cron")
            yield stack
        finally:
            for process in stack.processes.values():
                if process.poll() is None:
                    stop(process)
                kill_group(process)


def cli(stack: Stack, *args: str) -> str:
    """Run a command as an operator would; keep its output with the logs."""
    output = run_cli(stack.env, *args)
    stack.cli_output.append(output)
    return output


class Secrets:
    """Everything that must never appear in clear: collected while the flow runs."""

    def __init__(self) -> None:
        self.links: set[str] = set()  # signed link tokens and scenes: working capabilities
        self.raw_tokens: set[str] = set()  # the random part alone (kept in the database)
        self.receipts: set[str] = set()
        self.people = {*PHONES, OPENID}

    def invitation(self, body: dict) -> str:
        token = body["token"]
        self.links |= {token, body["mp_scene"]}
        self.raw_tokens.add(token.split(".")[0])
        return token


def report_events(http: httpx.Client, auth: dict, secrets: Secrets) -> list[str]:
    occurred = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    bodies = [({"phone": PHONES[0]}, ["sms"]), ({"phone": PHONES[1], "openid": OPENID},
                                                ["wechat"]), ({}, ["qr"])]
    tokens = []
    for n, (recipient, channels) in enumerate(bodies):
        response = http.post("/api/v1/events", headers=auth, json={
            "source": "secrets", "external_id": f"S-{n}", "cadre_code": "S1",
            "event_type": "approval", "occurred_at": occurred, "recipient": recipient,
            "channels": channels})
        assert response.status_code == 201, response.text
        tokens.append(secrets.invitation(response.json()["invitation"]))
    return tokens


def create_campaign(http: httpx.Client, auth: dict, secrets: Secrets) -> str:
    raters = [{"rater": {"code": f"R{n}", "name": f"测评人{n}", "phone": phone},
               "group": "subordinate", "targets": ["S1", "S2"]}
              for n, phone in enumerate(PHONES[3:])]
    response = http.post("/api/v1/campaigns", headers=auth, json={
        "code": "SEC-1", "name": "保密测试", "template": "democratic_appraisal",
        "period": datetime.now(UTC).strftime("%Y"),
        "closes_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "assignments": raters})
    assert response.status_code == 201, response.text
    for ballot in response.json()["ballots"]:
        secrets.links.add(ballot["token"])
        secrets.raw_tokens.add(ballot["token"].split(".")[0])
    return response.json()["ballots"][0]["token"]


def rate_everything(http: httpx.Client, wechat: FakeWeChat, tokens: list[str], ballot: str,
                    secrets: Secrets) -> None:
    page = http.get(f"/r/{tokens[0]}").text  # the SMS recipient uses the page
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*?value="([^"]*)"', page))
    thanks = http.post(f"/r/{tokens[0]}", data={**hidden, "score-S1": "3"})
    assert thanks.status_code == 200, thanks.text[:500]
    secrets.receipts.add(re.search(r"/receipt/([0-9a-f]{32})", thanks.text)[1])
    login = http.post("/api/v1/mp/session", json={"code": wechat.issue_login_code(OPENID)})
    session = {"Authorization": f"Bearer {login.json()['session_token']}"}
    scene = next(s for s in secrets.links if s.startswith(tokens[1].split(".")[0] + ".")
                 and len(s.split(".")[1]) == 8)
    assert http.get(f"/api/v1/invitations/{scene}", headers=session).status_code == 200
    for token, body in ((scene, {"score": 9}),
                        (tokens[2], {"score": 2, "followup": {"consent": True,
                                                             "phone": PHONES[2]}}),
                        (ballot, {"ratings": [{"target": "S1", "score": 8},
                                              {"target": "S2", "score": 6}]})):
        response = http.post(f"/api/v1/invitations/{token}/rating", json=body, headers=session)
        assert response.status_code == 201, response.text
        secrets.receipts.add(response.json()["receipt"])
    for receipt in secrets.receipts:
        assert http.get(f"/receipt/{receipt}").status_code == 200
        assert http.get(f"/api/v1/receipts/{receipt}").status_code == 200


def dump(database_url: str) -> str:
    """Return a data-only dump of the database, as a backup reader would hold it."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    return subprocess.run(["pg_dump", "--data-only", "-d", url], capture_output=True,
                          text=True, check=True, timeout=120).stdout


def test_no_live_link_receipt_phone_or_openid_is_in_a_log_line_or_the_dump(stack, fakes):
    if shutil.which("pg_dump") is None:
        if IN_CI:
            pytest.fail("pg_dump is missing")
        pytest.skip("pg_dump is missing")
    sms, wechat = fakes
    secrets = Secrets()
    with httpx.Client(base_url=stack.base_url, timeout=15) as http:
        assert wait_until(lambda: http.get("/readyz").status_code == 200, 30), \
            stack.output("web")
        key = cli(stack, "api-client", "create", "secrets", "--scopes",
                  "events:write,directory:write,campaigns:write").strip().splitlines()[-1]
        auth = {"Authorization": f"Bearer {key}"}
        assert http.put("/api/v1/units/SU", headers=auth,
                        json={"name": "保密测试局", "category": "department"}).is_success
        for code in ("S1", "S2"):
            assert http.put(f"/api/v1/cadres/{code}", headers=auth, json={
                "name": f"干部{code}", "unit_code": "SU", "position": "科长"}).is_success
        tokens = report_events(http, auth, secrets)
        ballot = create_campaign(http, auth, secrets)
        assert wait_until(lambda: len(sms.messages) >= 2, 60), stack.output("worker")
        rate_everything(http, wechat, tokens, ballot, secrets)
        cli(stack, "ratings", "release")
    codes = {name: stop(process) for name, process in stack.processes.items()}
    assert codes == {"web": 0, "worker": 0, "cron": 0}, codes
    written = [(stack.logs / f"{name}.log").read_text(encoding="utf-8")
               for name in ("web", "worker", "cron")]
    logs = "\n".join([*written, *stack.cli_output])
    assert '"path": "/r/***"' in logs and "/receipt/***" in logs  # the requests were logged
    at_rest = dump(stack.env["DATABASE_URL"])
    assert "invitation_use_tags" in at_rest and "pending_items" in at_rest
    for secret in sorted(secrets.links | secrets.receipts | secrets.people):
        assert secret not in logs, f"{secret[:6]}… in a log line"
        assert secret not in at_rest, f"{secret[:6]}… in the database dump"
    for raw in secrets.raw_tokens:  # the database holds these; no log line may
        assert raw not in logs, f"{raw[:6]}… in a log line"
