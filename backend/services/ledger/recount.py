"""Recount the count tables from the valid ratings and name the first difference.

Scores are published from `rating_counts` and tags from `rating_tag_counts`, so an edited
count would bend a score without touching a rating. The recount runs in the database (one
grouped scan of `ratings` per table) and compares both ways: a stored count that differs, a
stored count with no ratings behind it, and ratings that no stored count holds.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from backend.storage import STORAGES, storage_of

# Counts of the valid ratings against a count table's stored counts, both ways; the first
# difference with both figures. {recount} and {stored} yield (cadre_id, month, rater_group,
# item, n).
COMPARE = """
WITH recount AS ({recount}), stored AS ({stored}),
missing AS (SELECT * FROM recount EXCEPT SELECT * FROM stored),
extra AS (SELECT * FROM stored EXCEPT SELECT * FROM recount),
differ AS (SELECT * FROM missing UNION SELECT * FROM extra)
SELECT d.cadre_id, d.month, d.rater_group, CAST(d.item AS TEXT),
       (SELECT n FROM stored s WHERE s.cadre_id = d.cadre_id AND s.month = d.month
          AND s.rater_group = d.rater_group AND s.item = d.item),
       (SELECT n FROM recount r WHERE r.cadre_id = d.cadre_id AND r.month = d.month
          AND r.rater_group = d.rater_group AND r.item = d.item)
FROM differ AS d ORDER BY 1, 2, 3, 4 LIMIT 1
"""
SCORES = COMPARE.format(
    recount="SELECT cadre_id, month, rater_group, score AS item, count(*) AS n FROM ratings "
            "WHERE status = 'valid' GROUP BY cadre_id, month, rater_group, score",
    stored="SELECT cadre_id, month, rater_group, score AS item, count AS n "
           "FROM rating_counts WHERE count <> 0")
# The SQL is built from the constants above and each storage's own, once, at import.
TAGS = {kind: COMPARE.format(
    recount="SELECT cadre_id, month, rater_group, t.value AS item, count(*) AS n "
            "FROM ratings " + storage.json_elements.format(column="ratings.tags") +
            " WHERE status = 'valid' "
            "GROUP BY cadre_id, month, rater_group, t.value",
    stored="SELECT cadre_id, month, rater_group, tag AS item, count AS n "
           "FROM rating_tag_counts WHERE count <> 0")
    for kind, storage in STORAGES.items()}


def first_mismatch(session: Session) -> str | None:
    """Return the first count that differs from a recount of the valid ratings, described."""
    checks = (("rating_counts", "分数", SCORES),
              ("rating_tag_counts", "标签", TAGS[storage_of(session).kind]))
    for table, label, sql in checks:
        row = session.execute(text(sql)).first()
        if row is not None:
            cadre_id, month, group, item, stored, recounted = row
            return (f"表 {table}，干部 #{cadre_id}，月份 {month}，评价群体 {group}，"
                    f"{label} {item}：记录为 {stored or 0}，重新计数为 {recounted or 0}")
    return None
