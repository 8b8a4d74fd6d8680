"""The Chinese words of results: headline kinds, flags, position levels (group and category
names are the settings', in the report settings' vocabulary)."""

from __future__ import annotations

from backend.scoring.vocabulary import POSITION_LEVELS

HEADLINE_LABELS = {"composite": "综合得分", "recipient_index": "随时评指数",
                   "insufficient": "样本不足"}
FLAG_LABELS = {"not_excellent_eligible": "不能评为优秀", "warning_talk": "诫勉谈话提示",
               "reassignment_review": "调整岗位提示", "low_sample": "有效评价不足"}
LEVELS = ("正职", "副职", "中层", "一般干部")
_CHIEF_WORDS = ("书记", "局长", "镇长", "乡长", "主任", "部长", "主席", "院长", "县长", "站长",
                "所长", "支书", "主持工作")
_MIDDLE_WORDS = ("科长", "股长", "负责人", "组长", "中层")


def official_level(level: str | None, position: str) -> str:
    """Return an official's level in Chinese: the directory's when recorded, else the guess
    from the position's words (position_level)."""
    return POSITION_LEVELS.get(level or "") or position_level(position)


def position_level(position: str) -> str:
    """Return the level of a free-text position: 正职, 副职, 中层 or 一般干部.

    For officials whose level the directory does not record: the words of the common titles
    decide: 副 first (副镇长 is a deputy), then a unit's chief titles, then the middle-level
    ones.
    """
    text = (position or "").strip()
    if "副" in text:
        return "副职"
    if any(word in text for word in _MIDDLE_WORDS):
        return "中层"
    if any(word in text for word in _CHIEF_WORDS):
        return "正职"
    return "一般干部"


def insufficient_text(n: int, min_n: int) -> str:
    """Return how an insufficient group reads: 样本不足（n=2，需≥3）."""
    return f"样本不足（n={n}，需≥{min_n}）"


def percent(value: float | None) -> str:
    """Return a share as a percentage with one decimal."""
    return "—" if value is None else f"{value * 100:.1f}%"
