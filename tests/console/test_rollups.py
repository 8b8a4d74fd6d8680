"""The rollups: recomputed from the base tables, idempotent, incremental, and a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from backend.extensions import db
from backend.models import (
    CadreDaily,
    CadreMonthly,
    DayTotal,
    RatingCount,
    RollupState,
    UnitDaily,
    UnitDay,
)
from backend.services.reports.rollups import refresh
from tests.console.test_funnel_opens import unopened_links
from tests.console.world import TZ
from tests.support.release import release_all


def snapshot() -> dict[str, list]:
    """Return the content of every rollup table, sorted."""
    tables = {"daily": CadreDaily, "unit": UnitDaily, "unit_day": UnitDay, "day": DayTotal,
              "monthly": CadreMonthly}
    return {name: sorted(tuple(row) for row in db.session.execute(
        select(*model.__table__.columns))) for name, model in tables.items()}


def test_a_second_run_changes_nothing(world):
    before = snapshot()
    report = refresh(db.session, datetime.now(UTC), TZ)
    assert report.changed == 0 and report.days >= 1
    assert snapshot() == before


def test_rebuilding_from_scratch_gives_the_same_rollups(world):
    before = snapshot()
    for model in (CadreDaily, UnitDaily, UnitDay, DayTotal, CadreMonthly, RollupState):
        db.session.execute(delete(model))
    db.session.commit()
    refresh(db.session, datetime.now(UTC), TZ)
    assert snapshot() == before


def test_unit_and_monthly_rollups_are_sums_of_the_daily_one(world):
    daily = db.session.execute(select(CadreDaily.unit_id, CadreDaily.invited,
                                      CadreDaily.rated)).all()
    units = db.session.execute(select(UnitDaily.unit_id, UnitDaily.invited,
                                      UnitDaily.rated)).all()
    assert sum(r.invited for r in daily) == sum(r.invited for r in units) == 24
    assert sum(r.rated for r in daily) == sum(r.rated for r in units) == 8
    for model in (UnitDay, DayTotal, CadreMonthly):
        assert sum(db.session.scalars(select(model.invited))) == 24
        assert sum(db.session.scalars(select(model.rated))) == 8


def test_a_new_response_is_counted_on_the_next_run(app, world):
    now = datetime.now(UTC)
    token = unopened_links(1)[0]
    rated = app.test_client().post(f"/api/v1/invitations/{token}/rating", json={"score": 7})
    assert rated.status_code == 201
    release_all()
    report = refresh(db.session, now, TZ)
    assert report.changed == 1
    assert sum(db.session.scalars(select(UnitDaily.rated))) == 9
    assert sum(db.session.scalars(select(CadreMonthly.rated))) == 9


def test_valid_ratings_follow_the_count_table(world):
    cadre = world.cadres["C001"]
    db.session.execute(update(RatingCount).where(RatingCount.cadre_id == cadre)
                       .values(count=0))
    db.session.commit()
    refresh(db.session, datetime.now(UTC), TZ)
    assert db.session.scalars(select(CadreMonthly.valid_ratings)
                              .where(CadreMonthly.cadre_id == cadre)).all() == [0]


def test_backfill_advances_a_bounded_number_of_days_per_run(world):
    for model in (CadreDaily, UnitDaily, UnitDay, DayTotal, CadreMonthly, RollupState):
        db.session.execute(delete(model))
    db.session.add(RollupState(name="console", open_from=datetime.now(TZ).date()
                               - timedelta(days=10)))
    db.session.commit()
    report = refresh(db.session, datetime.now(UTC), TZ, max_days=4)
    assert report.days == 4
    state = db.session.get(RollupState, "console")
    assert state.open_from == datetime.now(TZ).date() - timedelta(days=6)


def test_the_periodic_job_refreshes_the_rollups(world):
    from workers.jobs import execute
    from workers.schedule import PERIODIC_JOBS

    job = next(j for j in PERIODIC_JOBS if j.name == "console-rollups")
    assert job.interval == timedelta(minutes=1)
    db.session.execute(delete(UnitDaily))
    db.session.execute(delete(CadreDaily))
    db.session.commit()
    execute(job.func)
    db.session.rollback()
    assert sum(db.session.scalars(select(UnitDaily.invited))) == 24
