"""A unit's feedback reports: one PDF of 200 officials' 成绩清单 + 问题清单 on PostgreSQL.

Setup: one unit of 200 officials; each has this quarter's recipient ratings (12 to 60, as the
count tables hold them, with positive and negative tags) and six earlier months for the trend,
and a small peer group below its minimum.
Baseline, same run: reportlab typesetting 200 pages in the same CJK font, each a title and a
table of eight rows, with no data read: what the layout alone costs.
Target: the batch of 200 officials in under 60 s.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import sqlalchemy as sa

from tests.perf.report import Result, median
from tests.perf.support import bench_app, fresh_database, timed

OFFICIALS = 200
TARGET_SECONDS = 60.0
TAGS = ("办事高效", "热情周到", "推诿扯皮", "办事拖拉")


def seed_unit(app, officials: int) -> tuple[int, str]:
    """Create the unit and its officials with counts; return the unit id and the quarter."""
    from backend.extensions import db
    from backend.models import Cadre, RatingCount, RatingTagCount, Unit
    from backend.scoring import current_period, parse_period, shift_month
    from backend.wiring import now, timezone

    rng = random.Random(21)
    with app.app_context():
        quarter = current_period("quarter", now(), timezone())
        months = parse_period(quarter).months
        history = [shift_month(months[0], -n) for n in range(1, 7)]
        db.session.execute(sa.insert(Unit), [{"code": "U1", "name": "城关镇人民政府",
                                              "category": "township"}])
        unit_id = db.session.scalar(sa.select(Unit.id))
        db.session.execute(sa.insert(Cadre), [
            {"code": f"B{n:03d}", "name": f"干部{n}", "unit_id": unit_id,
             "position": "副镇长" if n % 3 else "科长", "active": True}
            for n in range(officials)])
        ids = db.session.scalars(sa.select(Cadre.id).order_by(Cadre.id)).all()
        counts, tags = [], []
        for cadre_id in ids:
            for month in (*months, *history):
                for score in range(1, 11):
                    counts.append({"cadre_id": cadre_id, "month": month,
                                   "rater_group": "recipient", "score": score,
                                   "count": rng.choice((0, 1, 1, 2, 3, 5, 8)) or 1})
                tags.extend({"cadre_id": cadre_id, "month": month, "rater_group": "recipient",
                             "tag": tag, "count": rng.randint(1, 9)} for tag in TAGS)
            counts.append({"cadre_id": cadre_id, "month": months[0], "rater_group": "peer",
                           "score": 4, "count": 2})
        db.session.execute(sa.insert(RatingCount), counts)
        db.session.execute(sa.insert(RatingTagCount), tags)
        db.session.commit()
    return unit_id, quarter


def batch(app, unit_id: int, quarter: str) -> bytes:
    """Run a unit's batch as the job does (start, then build with progress); return the PDF."""
    from backend import wiring
    from backend.extensions import db
    from backend.models import Unit
    from backend.services.reports.printing import run_batch, start_batch
    from workers.jobs.reports import report_font

    with app.app_context():
        unit = db.session.get(Unit, unit_id)
        settings = wiring.report_settings()
        started = start_batch(db.session, unit, quarter, settings, False, True, "bench",
                              datetime.now(UTC))
        db.session.commit()
        done = run_batch(db.session, started.id, settings, report_font(), datetime.now(UTC))
        assert done.done == done.total, (done.done, done.total)
        return done.pdf


def bare_pages(pages: int) -> bytes:
    """Typeset `pages` pages of a title and an eight-row table in the same font."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table

    from backend.services.typesetting.fonts import font_path, register_font

    font = register_font(font_path(None))
    title = ParagraphStyle("title", fontName=font, fontSize=16, leading=22)
    story = []
    for page in range(pages):
        story.append(Paragraph(f"成绩清单与问题清单 干部{page}", title))
        story.append(Table([[f"第 {row} 行", "服务对象", "8.60", "91%"] for row in range(8)],
                           style=[("FONTNAME", (0, 0), (-1, -1), font)]))
        story.append(PageBreak())
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4).build(story)
    return out.getvalue()


def run(quick: bool = False, smoke: bool = False) -> list[Result]:
    """Measure a unit's batch of feedback reports against bare typesetting.

    Smoke: 6 officials, once.
    """
    officials = 6 if smoke else OFFICIALS
    with fresh_database() as url:
        app = bench_app(url)
        unit_id, quarter = seed_unit(app, officials)
        runs, bare = [], []
        for _ in range(1 if quick or smoke else 3):
            runs.append(timed(lambda: batch(app, unit_id, quarter)))
            bare.append(timed(lambda: bare_pages(officials)))
        pdf = batch(app, unit_id, quarter)
        from backend.extensions import db

        with app.app_context():
            db.engine.dispose()
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf
    seconds = median(runs)
    print(f"   {officials} officials' reports in {seconds:.2f} s ({len(pdf) // 1024} KB)",
          flush=True)
    judged = officials == OFFICIALS
    return [Result("reports", f"a unit's feedback reports, one PDF of {officials} officials "
                   "(PostgreSQL)", seconds, "s", baseline=median(bare),
                   baseline_label="bare typesetting of as many pages, s",
                   ratio=seconds / median(bare),
                   target=f"{OFFICIALS} officials < {TARGET_SECONDS:.0f} s" if judged else "",
                   met=seconds < TARGET_SECONDS if judged else None, samples=runs)]
