"""Console pages on real volumes: server time per page on PostgreSQL.

Setup: a fresh database with 10 million ratings and 30 million invitations (quick: a tenth;
BENCH_CONSOLE_RATINGS / BENCH_CONSOLE_INVITATIONS override), 6,000 officials in 600 units,
and the rollups the job maintains, over 400 days (see tests/perf/console_data.py).
Timed: each page through the Flask test client, signed in (server time, no network), median
and 95th percentile of the repetitions after a warm-up. Baseline, same run: an empty Flask
endpoint on the same app and client. Target: every page under 300 ms (95th percentile).
Also timed: one run of the rollup job in steady state (recomputing the last three days).
"""

from __future__ import annotations

import statistics
import time
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.perf.console_data import Sizes, generate
from tests.perf.report import Result, median
from tests.perf.support import bench_app, fresh_database

TARGET_MS = 300.0
PASSWORD = "bench-console-2026"
PAGES = (  # (label, role, path); {unit}, {cadre} and {campaign} are filled in
    ("总览", "org", "/console/"), ("总览（单位管理员）", "town", "/console/"),
    ("总览·按单位筛选", "org", "/console/?unit={unit}"),
    ("按单位 30 天", "org", "/console/units"), ("按单位 7 天", "org", "/console/units?days=7"),
    ("单位详情", "org", "/console/units/{unit}"),
    ("按干部（有效评价升序）", "org", "/console/officials"),
    ("按干部（参评率升序）", "org", "/console/officials?sort=rate"),
    ("按干部（不足30条）", "org", "/console/officials?below=1&page=3"),
    ("干部详情", "org", "/console/officials/{cadre}"),
    ("评价意见与回访", "org", "/console/officials/{cadre}/feedback"),
    ("干部成绩（本季度）", "org", "/console/officials/{cadre}/results"),
    ("单位成绩（含下级）", "org", "/console/units/{unit}/results?sub=1"),
    ("按事项与渠道", "org", "/console/breakdown"), ("送达漏斗", "org", "/console/funnel"),
    ("民主测评", "org", "/console/campaigns"), ("测评详情", "org", "/console/campaigns/{campaign}"),
    ("告警", "org", "/console/alerts"), ("告警（单位管理员）", "town", "/console/alerts?state="),
    ("评分发布与推送", "org", "/console/scores"), ("查询留痕", "audit", "/console/audit"),
    ("JSON 总览", "org", "/console/api/overview"),
    ("干部成绩 JSON（API）", "api", "/api/v1/cadres/{code}/report?period={quarter}"),
)


def add_users(app) -> None:
    """Create the benchmark's users: org admin, unit admin of a county, auditor."""
    from werkzeug.security import generate_password_hash

    from backend.extensions import db
    from backend.models import ConsoleUser

    digest = generate_password_hash(PASSWORD)
    with app.app_context():
        db.session.add_all([ConsoleUser(username="org", role="org_admin", password_hash=digest),
                            ConsoleUser(username="town", role="unit_admin", unit_id=2,
                                        password_hash=digest),
                            ConsoleUser(username="audit", role="auditor", password_hash=digest)])
        db.session.commit()


def fill(app, sizes: Sizes) -> float:
    """Generate the data; return the seconds it took."""
    from backend.extensions import db
    from backend.services.templates.catalogue import register
    from backend.wiring import vault

    started = time.perf_counter()
    with app.app_context():
        catalogue = app.extensions["catalogue"]
        template = register(db.session, catalogue.templates["service_event"])
        scheme = register(db.session, catalogue.schemes["default"])
        phone = vault().encrypt("13800138000")
        db.session.commit()
        ids = template.id, scheme.id
        db.session.close()  # the load alters tables: hold no transaction open meanwhile
        generate(db.engine, sizes, *ids, phone)
    add_users(app)
    return time.perf_counter() - started


def api_client(app):
    """Return a test client that sends a `scores:read` key, as the assessment core would."""
    from backend.extensions import db
    from backend.services.accounts.api_clients import create_client

    with app.app_context():
        _, key = create_client(db.session, "bench-reader", ["scores:read"], [])
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return client


def client_for(app, username: str):
    """Return a test client signed in (https, for the Secure cookie)."""
    import re

    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                   "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def timings(client, path: str, repeat: int, warm: int = 2) -> list[float]:
    """Return the milliseconds of `repeat` requests after `warm` warm-ups."""
    samples = []
    for n in range(repeat + warm):
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, response.status_code)
        if n >= warm:
            samples.append(elapsed)
    return samples


def p95(samples: list[float]) -> float:
    """Return the 95th percentile."""
    return statistics.quantiles(samples, n=20)[-1] if len(samples) > 1 else samples[0]


def page_results(app, repeat: int, sizes: Sizes, warm: int = 2) -> list[Result]:
    """Time every page against the empty endpoint."""
    from backend.extensions import db
    from backend.models import Cadre
    from backend.scoring import current_period
    from backend.wiring import now, timezone

    clients = {name: client_for(app, name) for name in ("org", "town", "audit")}
    clients["api"] = api_client(app)
    baseline = median(timings(clients["org"], "/bench-empty", repeat, warm))
    with app.app_context():
        code, quarter = db.session.get(Cadre, 40).code, current_period("quarter", now(),
                                                                        timezone())
    ids = {"unit": 2, "cadre": 40, "campaign": 1, "code": code, "quarter": quarter}
    scale = f"{sizes.ratings:,} ratings, {sizes.invitations:,} invitations"
    results = []
    for label, role, path in PAGES:
        samples = timings(clients[role], path.format(**ids), repeat, warm)
        tail = p95(samples)
        print(f"  {label:<16} median {median(samples):7.1f} ms  p95 {tail:7.1f} ms", flush=True)
        results.append(Result("console", f"{label} ({path}), {scale}", median(samples), "ms",
                              baseline=baseline, baseline_label="empty Flask endpoint, ms",
                              ratio=median(samples) / baseline if baseline else None,
                              target=f"p95 < {TARGET_MS:.0f} ms (p95 {tail:.1f})",
                              met=tail < TARGET_MS, samples=samples))
    return results


def job_result(app) -> Result:
    """Time one steady-state run of the rollup job (the last three days recomputed)."""
    from backend.extensions import db
    from backend.services.reports.rollups import refresh
    from backend.wiring import now

    tz = ZoneInfo(app.config["TIMEZONE"])
    with app.app_context():
        refresh(db.session, now(), tz)  # replaces the generated last days with computed ones
        started = time.perf_counter()
        report = refresh(db.session, now(), tz)
        elapsed = time.perf_counter() - started
        events = db.session.scalar(sa.select(sa.func.count()).select_from(
            sa.table("service_events")))
    print(f"  rollup job: {elapsed:.2f} s for {report.days} days ({events:,} events)")
    return Result("console", f"rollup job, steady state: {report.days} days recomputed over "
                  f"{events:,} service events", elapsed * 1000, "ms",
                  target="< 60000 ms (runs every minute)", met=elapsed < 60)


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Generate the data, then time the pages and the rollup job (smoke: tiny, once each)."""
    from backend.extensions import db

    sizes = Sizes.from_env(quick, smoke)
    with fresh_database("ssp_bench_console") as url:
        app = bench_app(url, LOG_LEVEL="WARNING")
        app.add_url_rule("/bench-empty", "bench_empty", lambda: "")
        seconds = fill(app, sizes)
        print(f"  generated {sizes} in {seconds:.0f} s", flush=True)
        results = page_results(app, 1 if smoke else 10 if quick else 30, sizes,
                               warm=0 if smoke else 2)
        results.append(job_result(app))
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return results
