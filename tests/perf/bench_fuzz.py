"""A long schemathesis run: every check and phase for a time budget, on PostgreSQL.

`make test` runs the same (tests/api/test_openapi_fuzz.py) with a dozen examples per
operation; here fuzzing and stateful testing repeat until the budget is spent (15 minutes,
3 with --quick). The target: no failure that tests/support/fuzz.py does not explain.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from tests.fakes import FakeWeChat
from tests.perf.report import Result
from tests.perf.support import bench_app, fresh_database
from tests.support.browser import serving
from tests.support.fuzz import prepare, run_schemathesis

SECONDS, QUICK_SECONDS, SMOKE_SECONDS = 900, 180, 3
EXAMPLES = 200


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Run schemathesis for the budget; report test cases, failures and unexplained ones.

    Smoke: one example per operation, at most a few seconds.
    """
    budget = SMOKE_SECONDS if smoke else QUICK_SECONDS if quick else SECONDS
    with fresh_database("ssp_fuzz") as uri, FakeWeChat(appid="wx_bench",
                                                      secret="bench-secret") as wechat:
        app = bench_app(uri, WECHAT_API_BASE=wechat.base_url, WECHAT_APPID=wechat.appid,
                        WECHAT_SECRET=wechat.secret, RATELIMIT_PUBLIC="1000000/minute",
                        PUBLIC_BASE_URL="http://127.0.0.1")
        ids = prepare(app, wechat)
        with serving(app) as base, tempfile.TemporaryDirectory() as workdir:
            found = run_schemathesis(base, ids, Path(workdir),
                                     max_examples=1 if smoke else EXAMPLES, max_time=budget)
    unexplained = found.unexplained()
    if unexplained:
        print(found.failing_output())
    cases = found.report["test_cases"]["generated"]
    return [Result("fuzz", "test cases generated", float(cases), "cases"),
            Result("fuzz", "failures reported", float(len(found.failures)), "failures"),
            Result("fuzz", "failures not explained", float(len(unexplained)), "failures",
                   target="0 unexplained", met=not unexplained)]
