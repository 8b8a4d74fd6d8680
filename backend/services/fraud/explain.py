"""Review items explained in Chinese: what each signal measured and why it stands out.

Evidence holds counts, windows, rates and truncated keyed hashes only (never an address,
openid or rater); this turns it into sentences a reviewer can weigh, and lists the raw
figures beside them with Chinese names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from backend.services.fraud.findings import KIND_LABELS

FIELD_LABELS = {
    "hour": "小时", "day": "日期", "week": "周", "month": "月份", "ratings": "评价数",
    "baseline_median": "平日每小时评价数（中位数）", "baseline_active_hours": "参照小时数",
    "hash": "特征摘要（截断的密钥哈希）", "officials": "涉及干部数", "devices": "设备数",
    "below_seconds": "停留阈值（秒）", "fastest_seconds": "最短停留（秒）",
    "ratings_in_runs": "连续同分的评价数", "runs": "连续同分段", "cells": "各事项类型",
    "unstamped": "无打开凭证的提交", "rated": "提交总数", "share": "占比",
    "usual_share": "通常占比", "z": "偏离程度（z）", "source": "事件来源", "events": "事件数",
    "from_source": "来自该来源", "peer_share": "同类干部占比", "own_share": "本人以往占比",
    "of_official": "该干部本周评价数", "share_elsewhere": "其他干部中的占比",
    "p": "偶然出现的概率（p）", "event_type": "事项类型", "count": "次数", "of": "总数",
    "rate": "比率", "peer_rate": "同类干部比率", "peer_spread": "同类离散度", "peers": "同类干部数",
    "z_peers": "相对同类偏离（z）", "own_rate": "本人以往比率", "z_own": "相对本人以往偏离（z）",
    "top_share": "满分占比检验", "entropy": "评分分布熵", "peer_entropy": "同类干部熵（中位数）",
    "flagged": "是否异常", "score": "分数", "length": "长度",
}


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.0%}"


def _burst(e: Mapping) -> str:
    return (f"{e.get('hour')} 这一小时该干部收到 {e.get('ratings')} 条评价，而其平日活跃小时的"
            f"中位数为 {e.get('baseline_median')} 条（参照 {e.get('baseline_active_hours')} 个"
            "小时）。一个批次小时也含正常评价，故本条不指明评价，只能核查后放行。")


def _shared(e: Mapping) -> str:
    return (f"{e.get('day')} 同一来源（摘要 {e.get('hash')}）提交了 {e.get('ratings')} 条评价，"
            f"涉及 {e.get('officials')} 名干部、{e.get('devices')} 台设备。")


def _fast(e: Mapping) -> str:
    return (f"{e.get('day')} 有 {e.get('ratings')} 条评价在打开页面后不到 "
            f"{e.get('below_seconds')} 秒即提交，最快 {e.get('fastest_seconds')} 秒，"
            "短于阅读页面所需的时间。")


def _runs(e: Mapping) -> str:
    runs = "、".join(f"{r.get('score')} 分连续 {r.get('length')} 次" for r in e.get("runs") or ())
    return f"同一测评按提交顺序出现连续同分：{runs}，共 {e.get('ratings_in_runs')} 条评价。"


def _cells(label: str) -> Callable[[Mapping], str]:
    def explain(e: Mapping) -> str:
        parts = []
        for cell in e.get("cells") or ():
            test = cell.get("top_share") or cell
            if "rate" in test:
                parts.append(f"{cell.get('event_type')}：{label} {_pct(test.get('rate'))}"
                             f"（同类干部 {_pct(test.get('peer_rate'))}，本人以往 "
                             f"{_pct(test.get('own_rate'))}）")
            if isinstance(cell.get("entropy"), Mapping) and cell["entropy"].get("flagged"):
                parts.append(f"{cell.get('event_type')}：评分分布过于集中（熵 "
                             f"{cell['entropy'].get('entropy')}，同类 "
                             f"{cell['entropy'].get('peer_entropy')}）")
        said = "；".join(parts or ["见下列数据"])
        return f"{e.get('week')} 周，{said}。只指向干部与时段，不指明评价。"
    return explain


def _unstamped(e: Mapping) -> str:
    return (f"{e.get('day')} 共 {e.get('rated')} 条提交中 {e.get('unstamped')} 条没有打开页面的"
            f"凭证（{_pct(e.get('share'))}，通常约 {_pct(e.get('usual_share'))}），"
            "可能绕过页面直接调用接口。")


def _source(e: Mapping) -> str:
    return (f"{e.get('month')} 该干部的 {e.get('events')} 个服务事件中 {e.get('from_source')} 个"
            f"来自「{e.get('source')}」（{_pct(e.get('share'))}），同类干部约 "
            f"{_pct(e.get('peer_share'))}，本人以往约 {_pct(e.get('own_share'))}。")


def _cluster(what: str) -> Callable[[Mapping], str]:
    def explain(e: Mapping) -> str:
        return (f"{e.get('week')} 周，该干部的 {e.get('of_official')} 条评价中有 "
                f"{e.get('ratings')} 条来自同一{what}（摘要 {e.get('hash')}），而其他干部的评价中"
                f"该{what}只占 {_pct(e.get('share_elsewhere'))}；偶然如此的概率约 {e.get('p')}。")
    return explain


EXPLAIN: dict[str, Callable[[Mapping], str]] = {
    "burst": _burst, "address": _shared, "openid": _shared, "fast": _fast,
    "campaign_run": _runs, "link_use": _cells("链接使用率"),
    "top_per_link": _cells("每条链接满分率"), "score_shape": _cells("满分占比"),
    "unstamped": _unstamped, "source_share": _source, "network": _cluster("网段"),
    "device": _cluster("设备"),
}


def explain(kind: str, evidence: Mapping[str, Any]) -> str:
    """Return one Chinese sentence saying what the item's signal measured."""
    try:
        return EXPLAIN[kind](evidence or {})
    except (KeyError, TypeError, ValueError, AttributeError):
        return "见下列数据。"


def figures(evidence: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the evidence's top-level figures as (Chinese name, value) pairs."""
    rows = []
    for key, value in (evidence or {}).items():
        if isinstance(value, list | dict):
            value = _nested(value)
        rows.append((FIELD_LABELS.get(key, key), "—" if value is None else str(value)))
    return rows


def _nested(value: Any) -> str:
    if isinstance(value, Mapping):
        return "，".join(f"{FIELD_LABELS.get(k, k)} {_nested(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "；".join(_nested(v) for v in value)
    return "—" if value is None else str(value)


def kind_label(kind: str) -> str:
    """Return the Chinese name of a review item's kind."""
    return KIND_LABELS.get(kind, kind)
