"""Generate console benchmark data straight in PostgreSQL with generate_series.

Base tables get the real volumes (invitations, ratings and their counts); the rollups are
filled in the same shape the rollup job writes, for every day the base data spans. The two big
tables are loaded without their secondary indexes, unique constraints and foreign keys, which
are rebuilt and validated after the load (tests/perf/support.py:bulk_load).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import sqlalchemy as sa

from tests.perf.support import bulk_load


@dataclass(frozen=True)
class Sizes:
    """How much to generate."""

    ratings: int
    invitations: int
    cadres: int = 6000
    units: int = 600
    days: int = 400
    event_days: int = 3  # service events and deliveries: what the rollup job recomputes
    outbox: int = 50_000
    audit: int = 200_000
    settle: bool = True  # VACUUM ANALYZE and CHECKPOINT after the load

    @classmethod
    def from_env(cls, quick: bool, smoke: bool = False) -> Sizes:
        """Return the sizes: full 10M ratings / 30M invitations, quick a tenth; env wins.

        Smoke: 3,000 ratings, 9,000 invitations, 60 officials in 40 units.
        """
        if smoke:
            return cls(ratings=3000, invitations=9000, cadres=60, units=40, days=40,
                       outbox=500, audit=2000, settle=False)
        env = os.environ.get
        return cls(ratings=int(env("BENCH_CONSOLE_RATINGS", 1_000_000 if quick else 10_000_000)),
                   invitations=int(env("BENCH_CONSOLE_INVITATIONS",
                                       3_000_000 if quick else 30_000_000)),
                   cadres=int(env("BENCH_CONSOLE_CADRES", 6000)),
                   units=int(env("BENCH_CONSOLE_UNITS", 600)))


def directory(conn, s: Sizes) -> None:
    """Create a city: one organisation department, 30 counties/districts, units below."""
    conn.execute(sa.text(
        "INSERT INTO units (id, code, name, category, parent_id, created_at, updated_at) "
        "SELECT g, 'U' || lpad(g::text, 5, '0'), CASE WHEN g = 1 THEN '市委组织部' "
        "WHEN g <= 31 THEN '区县' || g ELSE '单位' || g END, 'department', "
        "CASE WHEN g = 1 THEN NULL WHEN g <= 31 THEN 1 ELSE 2 + g % 30 END, now(), now() "
        "FROM generate_series(1, :n) g"), {"n": s.units})
    conn.execute(sa.text(
        "INSERT INTO cadres (id, code, name, unit_id, position, active, created_at, updated_at)"
        " SELECT g, 'C' || lpad(g::text, 6, '0'), '干部' || g, 32 + g % (:u - 31), '科长', true,"
        " now(), now() FROM generate_series(1, :n) g"), {"n": s.cadres, "u": s.units})
    conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('units', 'id'), :n)"),
                 {"n": s.units})
    conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('cadres', 'id'), :n)"),
                 {"n": s.cadres})


def invitations(conn, s: Sizes, template_id: int) -> None:
    """Insert event invitations spread over the period, newest first by id; 35% used.

    Uses and first openings are keyed tags in sets of their own (nothing on the invitation):
    stand-in tags of the real length for 35% (used) and 50% (opened) of the invitations.
    """
    with bulk_load(conn, "invitations"):
        conn.execute(sa.text(
            "INSERT INTO invitations (id, token, kind, template_id, cadre_id, event_type, "
            "created_at, expires_at) SELECT g, md5(g::text), 'event', :t, "
            "1 + g % :c, (ARRAY['approval','village_visit','enterprise_reception'])[1 + g % 3], "
            "ts, ts + interval '7 days' "
            "FROM (SELECT g, now() - (g::float8 / :n) * (:d * interval '1 day') AS ts "
            "FROM generate_series(1, :n) g) s"),
            {"t": template_id, "c": s.cadres, "n": s.invitations, "d": s.days - 35})
    for kind, share in (("use", 35), ("open", 50)):
        conn.execute(sa.text(
            f"INSERT INTO invitation_{kind}_tags (tag) SELECT tag FROM (SELECT "  # noqa: S608
            "md5(:k || g) || md5(g || :k) AS tag FROM generate_series(1, :n) g "
            "WHERE g % 100 < :share) t ORDER BY tag"),
            {"k": kind, "n": s.invitations, "share": share})


def funnel(conn) -> None:
    """Count openings and ratings per (local day, official, event type, channel), as release
    adds them up, for the invitations above (opened: g % 100 < 50, rated: < 35)."""
    conn.execute(sa.text(
        "INSERT INTO funnel_counts (day, cadre_id, event_type, channel, opened, rated, "
        "unstamped) "
        "SELECT (created_at AT TIME ZONE 'Asia/Shanghai')::date, cadre_id, event_type, "
        "(ARRAY['sms','wechat','qr'])[1 + id % 3], count(*) FILTER (WHERE id % 100 < 50), "
        "count(*) FILTER (WHERE id % 100 < 35), 0 FROM invitations WHERE kind = 'event' "
        "GROUP BY 1, 2, 3, 4"))


def ratings(conn, s: Sizes, template_id: int) -> None:
    """Insert released ratings (a fifth with a comment) and their per-month counts.

    The console never checks a rating's MAC: the MACs are placeholders of the real length
    (tests/perf/bench_ledger_verify.py makes valid ones).
    """
    with bulk_load(conn, "ratings"):
        conn.execute(sa.text(
            "INSERT INTO ratings (id, cadre_id, rater_group, score, tags, comment, template_id,"
            " event_type, batch_at, month, receipt_hash, mac, status) SELECT g, 1 + g % :c, "
            "'recipient', 1 + (g * 7) % 10, '[\"热情周到\"]'::json, CASE WHEN g % 5 = 0 THEN "
            "'窗口服务很好，办事效率高' END, :t, "
            "(ARRAY['approval','village_visit','enterprise_reception'])[1 + g % 3], "
            "date_trunc('hour', ts), to_char(ts AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), "
            "md5(g::text) || md5((-g)::text), 'bnch:' || md5(g::text) || md5((g + 1)::text), "
            "'valid' FROM (SELECT g, now() - (g::float8 / :n)"
            " * (:d * interval '1 day') AS ts FROM generate_series(1, :n) g) s"),
            {"t": template_id, "c": s.cadres, "n": s.ratings, "d": s.days - 35})
    conn.execute(sa.text(
        "SELECT setval(pg_get_serial_sequence('ratings', 'id'), greatest(:n, 1))"),
        {"n": s.ratings})
    conn.execute(sa.text(
        "INSERT INTO rating_counts SELECT cadre_id, month, rater_group, score, count(*) "
        "FROM ratings GROUP BY cadre_id, month, rater_group, score"))
    conn.execute(sa.text(
        "INSERT INTO rating_tag_counts (cadre_id, month, rater_group, tag, count) "
        "SELECT cadre_id, month, rater_group, '热情周到', count(*) FROM ratings "
        "GROUP BY cadre_id, month, rater_group"))


def followups(conn, phone_enc: str) -> None:
    """Give one rating in a thousand a follow-up phone (one ciphertext reused)."""
    conn.execute(sa.text(
        "INSERT INTO followup_contacts (rating_id, phone_enc, created_at) "
        "SELECT id, :p, now() FROM ratings WHERE id % 1000 = 0"), {"p": phone_enc})


def events(conn, s: Sizes) -> None:
    """Give the invitations of the last days their service events and SMS deliveries."""
    recent = int(s.invitations * s.event_days / (s.days - 35)) + 1
    conn.execute(sa.text(
        "INSERT INTO service_events (id, source, external_id, cadre_id, event_type, "
        "occurred_at, channels, content_hash, invitation_id, throttled, created_at) "
        "SELECT id, 'bench', 'E' || id, cadre_id, event_type, created_at - interval '1 hour',"
        " (ARRAY['sms','wechat','qr'])[1 + id % 3], md5(id::text), id, false, created_at "
        "FROM invitations WHERE id <= :r"), {"r": recent})
    conn.execute(sa.text(
        "INSERT INTO deliveries (invitation_id, event_id, channel, status, attempts, "
        "next_attempt_at, due_by, created_at, delivered_at) SELECT id, id, channels, "
        "CASE WHEN id % 20 = 0 THEN 'failed' ELSE 'sent' END, 1, created_at, "
        "occurred_at + interval '24 hours', created_at, CASE WHEN id % 20 <> 0 THEN "
        "created_at + interval '5 minutes' END FROM service_events WHERE channels <> 'qr'"))


def rollups(conn, s: Sizes) -> None:
    """Fill the daily, unit and monthly rollups for every day of the period.

    Columns are named: their order differs between create_all and the migrations.
    """
    # Four (event type, channel) rows per official and day, about 3.5 invitations each.
    conn.execute(sa.text(
        "INSERT INTO rollup_cadre_daily (day, cadre_id, event_type, channel, unit_id, "
        "invited, to_deliver, reached, reached_on_time, opened, rated, messages, "
        "messages_failed) SELECT day, c.id, "
        "(ARRAY['approval','village_visit','enterprise_reception'])[1 + k % 3], "
        "(ARRAY['sms','wechat','qr'])[1 + (c.id + k / 3) % 3], c.unit_id, "
        "1 + (c.id + k + dn) % 6, 1 + (c.id + k + dn) % 6, 1 + (c.id + k + dn) % 6, "
        "(c.id + k + dn) % 6, (c.id + dn) % 2, ((c.id * 7 + k + dn) % 6) / 2, "
        "1 + (c.id + k + dn) % 6, (c.id + dn) % 9 / 8 FROM cadres c, generate_series(0, 3) k,"
        " LATERAL (SELECT d::date AS day, current_date - d::date AS dn FROM generate_series("
        "current_date - :days, current_date, interval '1 day') d) days"), {"days": s.days})
    conn.execute(sa.text(
        "INSERT INTO rollup_unit_daily (day, unit_id, event_type, channel, "
        "invited, to_deliver, reached, reached_on_time, opened, rated, messages, "
        "messages_failed) SELECT day, unit_id, event_type, channel, sum(invited),"
        " sum(to_deliver), sum(reached), sum(reached_on_time), sum(opened), sum(rated), "
        "sum(messages), sum(messages_failed) FROM rollup_cadre_daily "
        "GROUP BY day, unit_id, event_type, channel"))
    conn.execute(sa.text(
        "INSERT INTO rollup_unit_day (day, unit_id, invited, to_deliver, reached, "
        "reached_on_time, opened, rated, messages, messages_failed) "
        "SELECT day, unit_id, sum(invited), sum(to_deliver), "
        "sum(reached), sum(reached_on_time), sum(opened), sum(rated), sum(messages), "
        "sum(messages_failed) FROM rollup_unit_daily GROUP BY day, unit_id"))
    conn.execute(sa.text(
        "INSERT INTO rollup_daily (day, event_type, channel, invited, to_deliver, reached, "
        "reached_on_time, opened, rated, messages, messages_failed) "
        "SELECT day, event_type, channel, sum(invited), "
        "sum(to_deliver), sum(reached), sum(reached_on_time), sum(opened), sum(rated), "
        "sum(messages), sum(messages_failed) FROM rollup_unit_daily "
        "GROUP BY day, event_type, channel"))
    conn.execute(sa.text(
        "INSERT INTO rollup_cadre_monthly (month, cadre_id, unit_id, invited, to_deliver, "
        "reached, reached_on_time, opened, rated, valid_ratings) "
        "SELECT to_char(day, 'YYYY-MM'), cadre_id, "
        "max(unit_id), sum(invited), sum(to_deliver), sum(reached), sum(reached_on_time), "
        "sum(opened), sum(rated), 0 FROM rollup_cadre_daily GROUP BY 1, 2"))
    conn.execute(sa.text(
        "UPDATE rollup_cadre_monthly m SET valid_ratings = v.n FROM (SELECT month, cadre_id, "
        "sum(count) n FROM rating_counts GROUP BY 1, 2) v WHERE v.month = m.month AND "
        "v.cadre_id = m.cadre_id"))
    conn.execute(sa.text("INSERT INTO rollup_state (name, open_from, refreshed_at) "
                         "VALUES ('console', current_date - 2, now())"))


def side_tables(conn, s: Sizes, scheme_id: int) -> None:
    """Add alerts, score snapshots, webhook messages and audit entries at plausible sizes."""
    conn.execute(sa.text(
        "INSERT INTO alerts (key, type, cadre_id, period, state, details, raised_at, "
        "updated_at) SELECT 'a' || g, (ARRAY['delivery_overdue','low_sample'])[1 + g % 2], "
        "1 + g % :c, to_char(now() - (g % 12) * interval '1 month', 'YYYY-MM'), "
        "(ARRAY['open','acknowledged','resolved'])[1 + g % 3], '{\"overdue\": 2}'::json, "
        "now() - g * interval '1 minute', now() FROM generate_series(1, :c * 4) g"),
        {"c": s.cadres})
    conn.execute(sa.text(
        "INSERT INTO score_snapshots (cadre_id, period, scheme_id, digest, document_hash, "
        "document, computed_at) SELECT c.id, p, :s, 'sha256:' || md5(c.id || p), "
        "md5(p || c.id), json_build_object('composite', json_build_object('status', 'ok', "
        "'score_100', 70 + c.id % 30), 'flags', '[]'::json), now() FROM cadres c, "
        "unnest(ARRAY['2026-09','2026-10','2026-Q3']) p"), {"s": scheme_id})
    conn.execute(sa.text(
        "INSERT INTO webhook_outbox (webhook_id, type, period, payload, status, attempts, "
        "next_attempt_at, created_at) SELECT 'msg_' || md5(g::text), 'score.published', "
        "'2026-10', '{}'::json, CASE WHEN g % 500 = 0 THEN 'dead' WHEN g % 50 = 0 THEN "
        "'pending' ELSE 'delivered' END, 1, now(), now() FROM generate_series(1, :n) g"),
        {"n": s.outbox})
    conn.execute(sa.text(
        "INSERT INTO audit_log (at, actor, action, target, details, address, prev_hash, hash)"
        " SELECT now() - g * interval '1 second', 'admin', 'view.comments', 'cadre:C' || g, "
        "'{}'::json, '10.0.0.1', md5((g - 1)::text) || md5(g::text), md5(g::text) || "
        "md5((g + 1)::text) FROM generate_series(1, :n) g"), {"n": s.audit})


def campaigns(conn, template_id: int) -> None:
    """Add twenty campaigns of 500 raters each, rating officials of the first unit."""
    conn.execute(sa.text(
        "INSERT INTO campaigns (id, code, name, template_id, period, status, closes_at, "
        "max_reminders, reminders_sent, created_at) SELECT g, 'CP' || g, '民主测评' || g, :t, "
        "'2026-Q4', 'open', now() + interval '7 days', 2, 0, now() - g * interval '1 day' "
        "FROM generate_series(1, 20) g"), {"t": template_id})
    conn.execute(sa.text(
        "INSERT INTO invitations (id, token, kind, template_id, campaign_id, created_at, "
        "expires_at) SELECT 2000000000 + g, md5('b' || g), 'ballot', :t, "
        "1 + g % 20, now(), now() + interval '7 days' FROM generate_series(1, 10000) g"),
        {"t": template_id})
    # A third answered: their use tags, and the turnout counters release keeps.
    conn.execute(sa.text(
        "INSERT INTO invitation_use_tags (tag) SELECT md5('ballot' || g) || md5(g || 'ballot')"
        " FROM generate_series(1, 10000) g WHERE g % 3 = 0"))
    conn.execute(sa.text(
        "INSERT INTO campaign_turnout (campaign_id, rater_group, day, answered) "
        "SELECT 1 + g % 20, (ARRAY['peer','subordinate','superior'])[1 + g % 3], "
        "(now() AT TIME ZONE 'Asia/Shanghai')::date, count(*) FROM generate_series(1, 10000) g "
        "WHERE g % 3 = 0 GROUP BY 1, 2, 3"))
    conn.execute(sa.text(
        "INSERT INTO campaign_raters (campaign_id, code, name, rater_group, invitation_id) "
        "SELECT 1 + g % 20, 'R' || g, '评价人' || g, (ARRAY['peer',"
        "'subordinate','superior'])[1 + g % 3], 2000000000 + g "
        "FROM generate_series(1, 10000) g"))
    conn.execute(sa.text(
        "INSERT INTO ballot_targets (invitation_id, cadre_id, rater_group, position) "
        "SELECT 2000000000 + g, 32, (ARRAY['peer','subordinate','superior'])[1 + g % 3], 0 "
        "FROM generate_series(1, 10000) g"))


def generate(engine, s: Sizes, template_id: int, scheme_id: int, phone_enc: str) -> None:
    """Fill a fresh database; VACUUM ANALYZE and CHECKPOINT at the end, as time would have."""
    with engine.begin() as conn:
        directory(conn, s)
        invitations(conn, s, template_id)
        funnel(conn)
        ratings(conn, s, template_id)
        followups(conn, phone_enc)
        events(conn, s)
        rollups(conn, s)
        side_tables(conn, s, scheme_id)
        campaigns(conn, template_id)
    if not s.settle:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
        # Write out the gigabytes the load left dirty now, not while pages are being timed.
        conn.execute(sa.text("CHECKPOINT"))
