"""A short plain-Chinese reading of an official's results: what the numbers mean."""

from __future__ import annotations

from typing import Any


def headline_sentence(report: dict[str, Any]) -> str:
    """Say what the headline is and where it comes from."""
    head = report["headline"]
    if head["kind"] == "composite":
        parts = "、".join(g["name"] for g in report["groups"] if g["status"] == "ok")
        return (f"本期综合得分 {head['score_100']:.2f} 分（百分制），由{parts}的评价按方案权重"
                "合成；人数不足的评价组不计入。")
    if head["kind"] == "recipient_index":
        group = next(g for g in report["groups"] if g["group"] == "recipient")
        return (f"本期随时评指数 {head['score_100']:.2f} 分（百分制），依据服务对象 {group['n']} "
                f"条有效评价，去掉最高、最低各 {group['k']} 条后取平均再乘以 10。")
    return "本期有效评价未达到最低样本数，暂不给出得分；样本不足的评价组只公布人数。"


def interval_sentence(report: dict[str, Any]) -> str | None:
    """Explain the recipients' interval when there is one."""
    group = next((g for g in report["groups"] if g["group"] == "recipient"), None)
    if not group or group["status"] != "ok" or not group.get("ci95"):
        return None
    low, high = (10 * v for v in group["ci95"])
    return (f"按统计方法估计，服务对象评价的真实水平有 95% 的把握在 {low:.1f}–{high:.1f} 分"
            "之间；评价越多，这个区间越窄。")


def trend_sentence(report: dict[str, Any]) -> str | None:
    """Compare the last two months that both have a headline of the same kind."""
    points = [p for p in report["trend"]["months"] if p["headline"].get("score_100") is not None]
    if len(points) < 2 or points[-1]["headline"]["kind"] != points[-2]["headline"]["kind"]:
        return None
    before, after = points[-2], points[-1]
    change = after["headline"]["score_100"] - before["headline"]["score_100"]
    if abs(change) < 0.005:
        return f"{after['period']} 与 {before['period']} 持平。"
    word = "上升" if change > 0 else "下降"
    return f"{after['period']} 比 {before['period']} {word} {abs(change):.2f} 分。"


def standing_sentence(report: dict[str, Any]) -> str | None:
    """Say where the official stands among comparable peers, as a share only."""
    standing = report["standing"]
    if standing.get("percentile") is None:
        return None
    return (f"在{standing['category_name']}单位的{standing['level']}干部中（{standing['peers']} 人"
            f"可比），得分高于约 {standing['percentile']:.0f}% 的人。")


def problem_sentence(report: dict[str, Any]) -> str:
    """Name the problems raters pointed to most, or say there were none."""
    negative = report["tags"]["negative"]
    if not negative:
        return "本期没有达到样本要求的评价组反映集中问题。"
    listed = "、".join(f"{t['tag']}（{t['count']} 次）" for t in negative[:3])
    return f"评价中反映最多的问题：{listed}，请对照问题清单整改。"


def reading(report: dict[str, Any]) -> list[str]:
    """Return the sentences of the reading, in order."""
    sentences = [headline_sentence(report), interval_sentence(report), trend_sentence(report),
                 standing_sentence(report), problem_sentence(report)]
    sentences += [f"{flag['label']}：{flag['reason']}" for flag in report["flags"]]
    return [s for s in sentences if s]
