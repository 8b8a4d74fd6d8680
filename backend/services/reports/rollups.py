"""Maintain the console rollups: recompute recent days from the base tables, idempotently.

Each run recomputes the days from the state's `open_from` to today (a backfill advances by at
most `max_days` per run, one transaction per day), compares them with the stored rows and
applies only the difference: changed rows are replaced in the daily table and their deltas
added to the coarser tables (per unit, per day, per month). Running twice changes nothing;
days older than `refresh_days` are final. A lock (advisory on PostgreSQL, the write lock on
SQLite) keeps concurrent runs from adding the same delta twice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sqlalchemy import Table, delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from backend.models import (
    Cadre,
    CadreDaily,
    CadreMonthly,
    DayTotal,
    RatingCount,
    RollupState,
    ServiceEvent,
    UnitDaily,
    UnitDay,
)
from backend.models.rollups import MEASURES, MONTHLY_MEASURES
from backend.scoring.periods import trailing_months
from backend.services.reports.rollup_sources import Key, day_counts
from backend.storage import try_advisory_lock, upsert_insert
from backend.storage.transactions import begin_write

STATE = "console"


def refreshed_at(session: Session) -> datetime | None:
    """Return when the console's rollups were last refreshed (None: never)."""
    state = session.get(RollupState, STATE)
    return state.refreshed_at if state is not None else None
LOCK_KEY = 7_110_002
REFRESH_DAYS = 3
MAX_DAYS = 31
VALID_MONTHS = 6
CHUNK = 1000
DAILY_KEYS = ["day", "cadre_id", "event_type", "channel"]
UNIT_KEYS = ["day", "unit_id", "event_type", "channel"]
MONTHLY_KEYS = ["month", "cadre_id"]
Change = tuple[Key, tuple[int, ...], tuple[int, ...]]


@dataclass
class RefreshReport:
    """What one run did."""

    days: int = 0
    changed: int = 0
    skipped: bool = False


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Return the UTC start and end of a local day."""
    start = datetime.combine(day, time(0), tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def lock(session: Session) -> bool:
    """Begin a write transaction holding the rollup lock; False when another run holds it."""
    begin_write(session)
    return try_advisory_lock(session, LOCK_KEY)


def first_day(session: Session, tz: tzinfo) -> date | None:
    """Return the local day of the first service event, if any."""
    first = session.scalar(select(func.min(ServiceEvent.created_at)))
    return first.astimezone(tz).date() if first else None


def stored_rows(session: Session, day: date) -> dict[Key, tuple[int, ...]]:
    """Return the stored daily rows of a day."""
    rows = session.execute(select(CadreDaily.cadre_id, CadreDaily.event_type,
                                  CadreDaily.channel, CadreDaily.unit_id,
                                  *(getattr(CadreDaily, m) for m in MEASURES))
                           .where(CadreDaily.day == day))
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def differences(old: dict[Key, tuple], new: dict[Key, tuple]) -> Iterator[Change]:
    """Yield (key, old values, new values) for every row that changed."""
    zero = (0,) * len(MEASURES)
    for key in old.keys() | new.keys():
        before, after = old.get(key, zero), new.get(key, zero)
        if before != after:
            yield key, before, after


def upsert(session: Session, table: Table, keys: Sequence[str], rows: list[dict],
           add: Sequence[str] = (), keep: Sequence[str] = ()) -> None:
    """Insert rows; on a key conflict add the `add` columns, keep `keep`, replace the rest."""
    if not rows:
        return
    statement = upsert_insert(session)(table)
    changes = {c: table.c[c] + statement.excluded[c] if c in add else statement.excluded[c]
               for c in rows[0] if c not in keys and c not in keep}
    session.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=changes),
                    rows)


def write_daily(session: Session, day: date, changes: list[Change]) -> None:
    """Replace a day's changed rows in the daily table; drop the rows that became empty."""
    gone = [k[:3] for k, _, after in changes if not any(after)]
    for start in range(0, len(gone), CHUNK):  # bound the statement's parameters
        session.execute(delete(CadreDaily).where(
            CadreDaily.day == day,
            tuple_(CadreDaily.cadre_id, CadreDaily.event_type, CadreDaily.channel)
            .in_(gone[start:start + CHUNK])))
    upsert(session, CadreDaily.__table__, DAILY_KEYS,
           [{"day": day, "cadre_id": k[0], "event_type": k[1], "channel": k[2], "unit_id": k[3],
             **dict(zip(MEASURES, a, strict=True))} for k, _, a in changes if any(a)])


def grouped_deltas(changes: list[Change], key) -> dict[tuple, Counter]:
    """Sum the changes' deltas per key(cadre, event type, channel, unit)."""
    sums: dict[tuple, Counter] = defaultdict(Counter)
    for change_key, before, after in changes:
        sums[key(*change_key)].update(
            {m: a - b for m, b, a in zip(MEASURES, before, after, strict=True)})
    return sums


def add_coarser(session: Session, day: date, changes: list[Change]) -> None:
    """Add the deltas to the unit-daily, unit-day and day-total rollups."""
    for model, names, key in (
            (UnitDaily, UNIT_KEYS, lambda c, e, ch, u: (u, e, ch)),
            (UnitDay, ["day", "unit_id"], lambda c, e, ch, u: (u,)),
            (DayTotal, ["day", "event_type", "channel"], lambda c, e, ch, u: (e, ch))):
        rows = [{"day": day, **dict(zip(names[1:], k, strict=True)),
                 **{m: d[m] for m in MEASURES}}
                for k, d in grouped_deltas(changes, key).items()]
        upsert(session, model.__table__, names, rows, add=MEASURES)


def add_monthly(session: Session, day: date, changes: list[Change]) -> None:
    """Add the deltas to the monthly rollup (a moved official's row follows the new unit)."""
    unit_of: dict[int, int] = {}
    for (cadre, _, _, unit), _, after in changes:
        if any(after) or cadre not in unit_of:
            unit_of[cadre] = unit
    month = day.strftime("%Y-%m")
    upsert(session, CadreMonthly.__table__, MONTHLY_KEYS,
           [{"month": month, "cadre_id": cadre, "unit_id": unit_of[cadre], "valid_ratings": 0,
             **{m: d[m] for m in MONTHLY_MEASURES}}
            for (cadre,), d in grouped_deltas(changes, lambda c, e, ch, u: (c,)).items()],
           add=MONTHLY_MEASURES, keep=("valid_ratings",))


def refresh_day(session: Session, day: date, tz: tzinfo) -> int:
    """Recompute one day in the open transaction; return how many rows changed."""
    start, end = day_bounds(day, tz)
    changes = list(differences(stored_rows(session, day), day_counts(session, day, start, end)))
    write_daily(session, day, changes)
    add_coarser(session, day, changes)
    add_monthly(session, day, changes)
    return len(changes)


def days_between(first: date, last: date) -> Iterable[date]:
    """Yield the days from first to last inclusive."""
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


def pending_days(session: Session, today: date, tz: tzinfo, max_days: int) -> list[date]:
    """Return the days this run recomputes: from the first open day, at most max_days."""
    state = session.get(RollupState, STATE)
    first = (state.open_from if state and state.open_from else None) or first_day(
        session, tz) or today
    return list(days_between(first, min(first + timedelta(days=max_days - 1), today)))


def refresh(session: Session, now: datetime, tz: tzinfo, refresh_days: int = REFRESH_DAYS,
            max_days: int = MAX_DAYS) -> RefreshReport:
    """Bring the rollups up to date, one committed transaction per day."""
    report, today = RefreshReport(), now.astimezone(tz).date()
    if not lock(session):
        session.rollback()
        return RefreshReport(skipped=True)
    days = pending_days(session, today, tz, max_days)
    session.commit()
    for day in days:
        if not lock(session):
            session.rollback()
            report.skipped = True
            return report
        report.changed += refresh_day(session, day, tz)
        report.days += 1
        save_state(session, min(day + timedelta(days=1),
                                today - timedelta(days=refresh_days - 1)), now)
        session.commit()
    refresh_valid(session, now, tz)
    return report


def save_state(session: Session, open_from: date, now: datetime) -> None:
    """Record the first day that later runs must still recompute (it only moves forward)."""
    state = session.get(RollupState, STATE)
    if state is None:
        state = RollupState(name=STATE)
        session.add(state)
    if state.open_from is None or open_from > state.open_from:
        state.open_from = open_from
    state.refreshed_at = now


def refresh_valid(session: Session, now: datetime, tz: tzinfo) -> None:
    """Copy valid ratings per official and month of the trailing months from the counts."""
    if not lock(session):
        session.rollback()
        return
    months = trailing_months(now.astimezone(tz).strftime("%Y-%m"), VALID_MONTHS)
    fresh = {(m, c): int(n) for m, c, n in session.execute(
        select(RatingCount.month, RatingCount.cadre_id, func.sum(RatingCount.count))
        .where(RatingCount.month.in_(months))
        .group_by(RatingCount.month, RatingCount.cadre_id))}
    stored = {(m, c): v for m, c, v in session.execute(
        select(CadreMonthly.month, CadreMonthly.cadre_id, CadreMonthly.valid_ratings)
        .where(CadreMonthly.month.in_(months)))}
    write_valid(session, {k: v for k, v in fresh.items() if stored.get(k) != v},
                [k for k, v in stored.items() if v and k not in fresh])
    session.commit()


def write_valid(session: Session, changed: dict[tuple[str, int], int],
                emptied: list[tuple[str, int]]) -> None:
    """Set changed valid-rating counts (creating rows as needed) and zero emptied ones."""
    for start in range(0, len(emptied), CHUNK):
        session.execute(update(CadreMonthly).where(
            tuple_(CadreMonthly.month, CadreMonthly.cadre_id).in_(emptied[start:start + CHUNK]))
            .values(valid_ratings=0).execution_options(synchronize_session=False))
    if not changed:
        return
    units = dict(session.execute(select(Cadre.id, Cadre.unit_id).where(
        Cadre.id.in_({c for _, c in changed}))).all())
    upsert(session, CadreMonthly.__table__, MONTHLY_KEYS,
           [{"month": m, "cadre_id": c, "unit_id": units[c], "valid_ratings": n,
             **dict.fromkeys(MONTHLY_MEASURES, 0)} for (m, c), n in changed.items()
            if c in units], keep=MONTHLY_MEASURES)
