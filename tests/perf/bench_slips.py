"""Printed ballot slips: a PDF of 500 slips (a campaign of 500 raters) on PostgreSQL.

Baseline, same run: drawing the same 500 short links as bare QR PNGs
(backend.services.invitations.qr, cache bypassed), the cheapest way to get 500 printable
codes without any layout or PDF.
Target: 500 slips in under 10 s.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tests.perf.report import Result, median
from tests.perf.support import bench_app, fresh_database, timed

RATERS = 500
TEAM = 9
TARGET_SECONDS = 10.0
TZ = ZoneInfo("Asia/Shanghai")


def seed_campaign(app, raters_count: int = RATERS) -> str:
    """Create a nine-person team and a campaign of 500 raters; return its code."""
    from backend.extensions import db
    from backend.models import Cadre, Unit
    from backend.services.campaigns.lifecycle import CampaignContext, create_campaign
    from backend.services.campaigns.rules import AssignmentInput, CampaignInput, RaterInput
    from backend.wiring import token_codec, vault

    with app.app_context():
        db.session.execute(sa.insert(Unit), [{"code": "U1", "name": "城关镇人民政府",
                                              "category": "township"}])
        unit_id = db.session.scalar(sa.select(Unit.id))
        db.session.execute(sa.insert(Cadre), [{"code": f"L{n}", "name": f"干部{n}",
                                               "unit_id": unit_id, "position": "副镇长",
                                               "active": True} for n in range(TEAM)])
        db.session.commit()
        targets = tuple(f"L{n}" for n in range(TEAM))
        raters = [AssignmentInput(RaterInput(f"R{n:04d}", f"评价人{n}", f"139{n:08d}"),
                                  "subordinate", targets) for n in range(raters_count)]
        ctx = CampaignContext(token_codec(app), vault(app), app.extensions["catalogue"],
                              app.config["PUBLIC_BASE_URL"], TZ, datetime.now(UTC))
        create_campaign(db.session, ctx, CampaignInput(
            "BENCH-1", "示范县2026年第四季度领导班子民主测评", "democratic_appraisal", "2026-Q4",
            datetime.now(UTC) + timedelta(days=10), raters))
    return "BENCH-1"


def render(app, code: str) -> bytes:
    """Produce the slips PDF exactly as the API does (query, QR codes, layout, fonts)."""
    from backend.extensions import db
    from backend.services.campaigns.lifecycle import find_campaign
    from backend.services.campaigns.slips import campaign_slips
    from backend.wiring import sealer, token_codec, vocabulary

    with app.app_context():
        campaign = find_campaign(db.session, code)
        return campaign_slips(db.session, sealer(app), campaign, token_codec(app),
                              app.config["PUBLIC_BASE_URL"], TZ, vocabulary(app))


def short_links(app, code: str) -> list[str]:
    """Return the 500 short links the slips carry."""
    from backend.extensions import db
    from backend.models import CampaignRater, Invitation
    from backend.services.campaigns.slips import short_link
    from backend.wiring import token_codec

    with app.app_context():
        tokens = db.session.scalars(sa.select(Invitation.token).join(CampaignRater)).all()
    return [short_link(app.config["PUBLIC_BASE_URL"], token_codec(app), t) for t in tokens]


def bare_pngs(urls: list[str]) -> None:
    """Draw each URL as a QR PNG without the cache."""
    from backend.services.invitations.qr import qr_png

    for url in urls:
        qr_png.__wrapped__(url)


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Measure the slips PDF against drawing the same QR codes as bare PNGs.

    Smoke: a campaign of 12 raters, once.
    """
    raters = 12 if smoke else RATERS
    with fresh_database() as url:
        app = bench_app(url)
        code = seed_campaign(app, raters)
        urls = short_links(app, code)
        slips, pngs = [], []
        for _ in range(1 if quick or smoke else 3):
            slips.append(timed(lambda: render(app, code)))
            pngs.append(timed(lambda: bare_pngs(urls)))
        pdf = render(app, code)
        from backend.extensions import db

        with app.app_context():
            db.engine.dispose()
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf
    seconds, rate, bare_rate = median(slips), raters / median(slips), raters / median(pngs)
    print(f"   {raters} slips in {seconds:.2f} s ({len(pdf) // 1024} KB)", flush=True)
    judged = raters == RATERS
    return [Result("slips", f"PDF of {raters} ballot slips (PostgreSQL)", rate, "slips/s",
                   baseline=bare_rate, baseline_label="bare QR PNGs, codes/s",
                   ratio=rate / bare_rate,
                   target=f"{RATERS} slips < {TARGET_SECONDS:.0f} s" if judged else "",
                   met=seconds < TARGET_SECONDS if judged else None, samples=slips)]
