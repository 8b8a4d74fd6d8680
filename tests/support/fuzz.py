"""Schemathesis run as an outside tester runs it: `st run` with every check and every phase.

The app is served over HTTP; a schemathesis.toml written next to the report gives the API key
to the bearerAuth operations, a mini-program session to the mpSession ones, and real ids to the
operations that need an existing row. Every failure reported must be one EXPLAINED names, for
the reason given there; a server error never is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from backend.extensions import db
from backend.models import Case
from backend.models.clients import SCOPES
from backend.services import cases
from backend.services.accounts.api_clients import create_client
from backend.services.demo.seed import seed
from tests.support.release import release_all

PHASES = "examples,coverage,fuzzing,stateful"
SERVER_ERROR = "ST101"
VALID_REFUSED, INVALID_ACCEPTED = "ST202", "ST201"
# Schema-valid requests that the server refuses for reasons no JSON Schema can state.
NEEDS_ROWS = "names units, officials, templates or raters that must exist (422), or takes a code " \
             "already taken (409)"
EXPLAINED: dict[tuple[str, str], str] = {
    (VALID_REFUSED, "PUT /api/v1/units/{code}"): NEEDS_ROWS + "; a parent must not make a cycle",
    (VALID_REFUSED, "PUT /api/v1/cadres/{code}"): NEEDS_ROWS,
    (VALID_REFUSED, "POST /api/v1/events"): NEEDS_ROWS + "; an SMS or WeChat channel needs the "
                                            "recipient's phone or openid; the event type must be "
                                            "one a template declares",
    (VALID_REFUSED, "POST /api/v1/campaigns"): NEEDS_ROWS + "; groups must be ones the template "
                                               "allows; closes_at must be in the future",
    (VALID_REFUSED, "POST /api/v1/campaigns/{code}/extend"): "closes_at must be later than now "
                                                             "and than the current closing time",
    (VALID_REFUSED, "POST /api/v1/campaigns/{code}/roster"): "the file's rows must name existing "
                                                             "officials and allowed groups",
    (VALID_REFUSED, "POST /api/v1/invitations/{token}/rating"): "scores, tags and targets are "
                                                                "those of the link's own template "
                                                                "and officials",
    (VALID_REFUSED, "POST /api/v1/scores/publish"): "a period that has not begun cannot be "
                                                    "published (422)",
    (VALID_REFUSED, "POST /api/v1/push/replay"): "period and ids exclude each other",
    (VALID_REFUSED, "GET /api/v1/scores"): "cadre_code and after must name existing officials",
    (VALID_REFUSED, "GET /api/v1/cadres/{code}/report"): "the official must exist (404) and the "
                                                         "period must have begun (422)",
    (VALID_REFUSED, "Stateful tests"): "a link used, expired or revoked by an earlier step is "
                                       "409 or 410, as the contract says",
    (INVALID_ACCEPTED, "POST /api/v1/events/batch"): "the contract answers a batch 200 and gives "
                                                     "each invalid item its own 422",
}


@dataclass
class Identifiers:
    """Credentials and ids of existing rows for the run."""

    api_key: str
    mp_token: str
    campaign: str
    token: str
    receipt: str
    case_id: int


@dataclass
class Run:
    """What one `st run` reported."""

    exit_code: int
    report: dict
    output: str
    failures: list[tuple[str, str]] = field(default_factory=list)

    def unexplained(self) -> list[str]:
        """Return the failures EXPLAINED does not name (every server error among them)."""
        return [f"{code} {operation}" for code, operation in self.failures
                if code == SERVER_ERROR or (code, operation) not in EXPLAINED]

    def failing_output(self) -> str:
        """Return the part of the output that describes the failures."""
        start = self.output.find("= FAILURES =")
        return self.output[start:start + 20_000] if start >= 0 else self.output[-5000:]


def prepare(app, wechat) -> Identifiers:
    """Seed the demo county; create an API key, a campaign, a used link and a session."""
    with app.app_context():
        seed(db.session)
        _, key = create_client(db.session, "fuzz", list(SCOPES), ["approval-system", "fuzz"])
        db.session.commit()
    client, auth = app.test_client(), {"Authorization": f"Bearer {key}"}
    closes = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    campaign = client.post("/api/v1/campaigns", headers=auth, json={
        "code": "FUZZ-1", "name": "测评", "template": "democratic_appraisal", "period": "2026-Q4",
        "closes_at": closes, "assignments": [{"rater": {"code": "R1", "name": "评价人"},
                                              "group": "peer", "targets": ["C001"]}]})
    event = client.post("/api/v1/events", headers=auth, json={
        "source": "fuzz", "external_id": "FUZZ-1", "cadre_code": "C001", "event_type": "approval",
        "occurred_at": datetime.now(UTC).isoformat(), "channels": ["qr"]})
    assert campaign.status_code == 201 and event.status_code == 201
    token = event.json["invitation"]["token"]
    receipt = client.post(f"/api/v1/invitations/{issue_token(client, auth)}/rating",
                          json={"score": 2, "comment": "等了很久"}).json["receipt"]
    session = client.post("/api/v1/mp/session",
                          json={"code": wechat.issue_login_code("o_fuzz")}).json
    return Identifiers(key, session["session_token"], "FUZZ-1", token, receipt,
                       closed_case(app))


def closed_case(app) -> int:
    """Release the bad rating and close the case it opens, so the rater can judge it."""
    with app.app_context():
        release_all()
        case = db.session.scalars(select(Case)).one()
        unit = cases.Actor("fuzz-unit", "unit_admin", None)
        org = cases.Actor("fuzz-org", "org_admin")
        now = datetime.now(UTC)
        cases.accept(db.session, case, unit, now)
        cases.submit(db.session, case, unit, now, reply="已整改", measures="已整改",
                     callback="no_consent")
        cases.approve(db.session, case, org, now, cases.CaseRules())
        db.session.commit()
        return case.id


def issue_token(client, auth: dict) -> str:
    """Report one more event; return its link's token."""
    response = client.post("/api/v1/events", headers=auth, json={
        "source": "fuzz", "external_id": "FUZZ-2", "cadre_code": "C002",
        "event_type": "approval", "occurred_at": datetime.now(UTC).isoformat(),
        "channels": ["qr"]})
    return response.json["invitation"]["token"]


def config_text(case_id: int) -> str:
    """Return the schemathesis.toml of the run (secrets come from the environment)."""
    operations = [("^/api/v1/campaigns/\\\\{code\\\\}", "path.code", "${SSP_FUZZ_CAMPAIGN}"),
                  ("^/api/v1/invitations/\\\\{token\\\\}", "path.token", "${SSP_FUZZ_TOKEN}"),
                  ("^/api/v1/receipts/", "path.receipt", "${SSP_FUZZ_RECEIPT}"),
                  ("^/api/v1/cases/\\\\{case_id\\\\}", "path.case_id", case_id),
                  ("^/api/v1/templates/", "path.key", "service_event")]
    lines = ['[auth.openapi.bearerAuth]', 'bearer = "${SSP_FUZZ_KEY}"',
             '[auth.openapi.mpSession]', 'bearer = "${SSP_FUZZ_MP}"']
    for path, name, value in operations:
        literal = value if isinstance(value, int) else f'"{value}"'
        lines += ["[[operations]]", f'include-path-regex = "{path}"',
                  f'parameters = {{ "{name}" = {literal} }}']
    return "\n".join(lines) + "\n"


def run_schemathesis(base: str, ids: Identifiers, workdir: Path, *, max_examples: int,
                     seed: int = 1, max_time: int | None = None) -> Run:
    """Run `st run` with every check and phase against a served app; parse its JSON report."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "schemathesis.toml"
    config.write_text(config_text(ids.case_id), encoding="utf-8")
    env = {**os.environ, "SSP_FUZZ_KEY": ids.api_key, "SSP_FUZZ_MP": ids.mp_token,
           "SSP_FUZZ_CAMPAIGN": ids.campaign, "SSP_FUZZ_TOKEN": ids.token,
           "SSP_FUZZ_RECEIPT": ids.receipt}
    command = [str(Path(sys.executable).with_name("st")), "--config-file", str(config),
               "--no-color", "run", f"{base}/api/openapi.json", "--checks", "all",
               "--phases", PHASES, "--max-examples", str(max_examples), "--seed", str(seed),
               "--workers", "1", "--generation-database", "none", "--report", "json",
               "--report-json-path", str(workdir / "report.json")]
    if max_time:
        command += ["--max-time", str(max_time)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    report = json.loads((workdir / "report.json").read_text(encoding="utf-8"))
    failures = [(f["code"], operation) for f in report["failures"] for operation in
                f["operations"]]
    return Run(done.returncode, report, done.stdout + done.stderr, failures)
