"""Schemathesis over /api/openapi.json with every check and every phase.

Examples, coverage, fuzzing and stateful phases run as `st run` against the app served on the
test database, with the API key for bearerAuth operations and a mini-program session for
mpSession ones (tests/support/fuzz.py). Every failure must be one that tests/support/fuzz.py
EXPLAINED names: data the schema cannot describe. A longer run: `make bench BENCH_ARGS="--only
fuzz"`.
"""

import pytest

from backend.schemas.events import PHONE_PATTERN
from backend.schemas.scores import PERIOD_PATTERN
from tests.fakes import FakeWeChat
from tests.support.browser import serving
from tests.support.fuzz import EXPLAINED, prepare, run_schemathesis

pytestmark = pytest.mark.slow
EXAMPLES = 12


@pytest.fixture
def wechat():
    with FakeWeChat(appid="wx_fuzz", secret="fuzz-secret") as fake:
        yield fake


def test_schemathesis_finds_nothing_the_document_does_not_explain(make_app, wechat, tmp_path):
    app = make_app(WECHAT_API_BASE=wechat.base_url, WECHAT_APPID=wechat.appid,
                   WECHAT_SECRET=wechat.secret)
    ids = prepare(app, wechat)
    with serving(app) as base:
        run = run_schemathesis(base, ids, tmp_path, max_examples=EXAMPLES)
    report = run.report
    assert report["complete"] and report["operations"]["tested"] >= 25, run.output[-3000:]
    assert {p: s["status"] for p, s in report["phases"].items()}.keys() == {
        "examples", "coverage", "fuzzing", "stateful"}
    assert all(s["status"] != "skipped" for s in report["phases"].values()), report["phases"]
    assert run.unexplained() == [], run.failing_output()
    warnings = {k: v for k, v in report["warnings"].items() if v}
    assert warnings == {}, warnings


def test_every_explanation_names_an_operation_of_the_document(client):
    document = client.get("/api/openapi.json").json
    operations = {f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops
                  if m != "parameters"} | {"Stateful tests"}
    assert {operation for _, operation in EXPLAINED} <= operations


def test_every_operation_has_an_id_and_the_public_ones_only_the_session_scheme(client):
    document = client.get("/api/openapi.json").json
    ids = [op["operationId"] for ops in document["paths"].values()
           for m, op in ops.items() if m != "parameters"]
    assert len(ids) == len(set(ids)) >= 25
    invitation = document["paths"]["/api/v1/invitations/{token}"]["get"]
    rating = document["paths"]["/api/v1/invitations/{token}/rating"]["post"]
    for operation in (invitation, rating):
        schemes = {name for requirement in operation["security"] for name in requirement}
        assert schemes == {"mpSession"}


def test_periods_and_phones_carry_the_patterns_the_server_checks(client):
    document = client.get("/api/openapi.json").json
    schemas = document["components"]["schemas"]
    periods = [schemas[s]["properties"]["period"] for s in ("Publish", "CampaignCreate", "Replay")]
    phones = [schemas[s]["properties"]["phone"] for s in ("Recipient", "Rater", "Followup")]
    for path in ("/api/v1/scores", "/api/v1/push/outbox"):
        parameters = document["paths"][path]["get"]["parameters"]
        periods += [p["schema"] for p in parameters if p["name"] == "period"]
    assert len(periods) == 5 and {p["pattern"] for p in periods} == {PERIOD_PATTERN}
    assert {p["pattern"] for p in phones} == {PHONE_PATTERN}
    batch = schemas["EventBatch"]["properties"]["events"]["items"]
    assert batch["allOf"] == [{"$ref": "#/components/schemas/Event"}]  # each item an Event
