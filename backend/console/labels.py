"""Chinese names of the codes the console shows."""

from __future__ import annotations

import re

from flask import current_app

from backend import wiring
from backend.services.fraud.findings import KIND_LABELS

REVIEW_KINDS = KIND_LABELS  # the fraud review items' kinds, in Chinese

ROLE_NAMES = {"org_admin": "组织部管理员", "unit_admin": "单位管理员", "auditor": "审计员",
              "viewer": "只读用户", "discipline": "纪检监察"}
CHANNEL_NAMES = {"sms": "短信", "wechat": "微信", "qr": "现场扫码"}
ALERT_TYPES = {
    "delivery_overdue": "邀请超时未送达",
    "low_sample": "有效评价不足（组织提醒）",
    "not_excellent_eligible": "满意度低于 75%",
    "warning_talk": "不满意率超过 20%（诫勉谈话）",
    "reassignment_review": "不满意率超过 50%（调整岗位）",
    "push_endpoint_gone": "评估核心推送地址失效",
    "push_dead_letters": "推送多次失败",
}
SYSTEM_ALERTS = frozenset({"push_endpoint_gone", "push_dead_letters"})  # of no official
ALERT_STATES = {"open": "待处理", "acknowledged": "已确认", "resolved": "已解决"}
PUSH_STATUSES = {"pending": "待推送", "delivered": "已送达", "dead": "失败（死信）"}
PUSH_TYPES = {"score.published": "成绩发布", "alert.raised": "告警", "checkpoint": "每日核对"}
CAMPAIGN_STATUSES = {"open": "进行中", "closed": "已结束", "cancelled": "已取消"}
RATING_STATUSES = {"valid": "有效", "excluded": "已排除"}
DETAIL_NAMES = {
    "overdue": "超时消息", "events": "涉及事件", "late": "迟送达", "channels": "渠道",
    "oldest_due_by": "最早截止", "period": "期间", "score_period": "计分期间",
    "message": "说明", "dead": "死信数", "error": "错误", "status": "状态", "url": "地址",
}
# Shown in columns of their own (type, official, period) or of no use to a reader (digest).
HIDDEN_DETAILS = frozenset({"digest", "cadre_code", "flag", "type", "state", "period"})
QUARTERS = {"1": "一", "2": "二", "3": "三", "4": "四"}
PERIOD_PATTERN = re.compile(r"^(\d{4})(?:-(\d{2})|-Q([1-4])|-H([12]))?$")
AUDIT_ACTIONS = {
    "login": "登录", "login.locked": "账户锁定", "view.comments": "查看评价意见",
    "view.non_responders": "查看未参评名单", "view.audit": "查看查询留痕",
    "unmask.phone": "查看完整手机号", "alert.acknowledge": "确认告警",
    "alert.resolve": "解决告警", "push.replay": "重新推送", "audit.verify": "校验留痕链",
    "ledger.verify": "校验评价账本", "rating.exclude": "排除评价", "rating.include": "恢复评价",
    "view.ledger": "查看评价账本", "user.create": "新建用户", "user.role": "修改角色与单位",
    "user.password": "重置密码", "user.enable": "启用用户", "user.disable": "停用用户",
    "client.create": "新建接口客户端", "client.revoke": "吊销接口密钥",
    "directory.unit.create": "新建单位", "directory.unit.update": "修改单位",
    "directory.cadre.create": "新增干部", "directory.cadre.update": "修改干部",
    "directory.cadre.transfer": "干部调动", "directory.cadre.deactivate": "干部离任",
    "directory.cadre.activate": "干部复任", "directory.import": "导入名册",
    "campaign.create": "创建民主测评",
    "campaign.roster": "导入测评名单", "campaign.print": "打印测评票",
    "campaign.slips": "下载测评票", "campaign.remind": "发送参评提醒",
    "campaign.extend": "测评延期", "campaign.close": "关闭测评", "campaign.cancel": "取消测评",
    "scores.publish": "发布评分",
}


def group_name(code: str) -> str:
    """Return the configured Chinese name of a rater group (settings/rater_groups.yaml)."""
    return wiring.vocabulary().group_name(code)


def event_type_names() -> dict[str, str]:
    """Return the event types the templates declare, with their Chinese names."""
    names: dict[str, str] = {}
    catalogue = current_app.extensions.get("catalogue")
    for loaded in (catalogue.templates.values() if catalogue else ()):
        for code, spec in (loaded.definition.get("event_types") or {}).items():
            names.setdefault(code, (spec or {}).get("name", code))
    return names


def audit_action_name(action: str) -> str:
    """Return the Chinese name of an audited action (exports by page)."""
    if action.startswith("export."):
        return "导出：" + action.split(".", 1)[1]
    return AUDIT_ACTIONS.get(action, action)


def period_name(label: str) -> str:
    """Return a period label in words: 2026-12 -> 2026年12月, 2026-Q4 -> 2026年第四季度."""
    match = PERIOD_PATTERN.match(str(label or ""))
    if match is None:
        return str(label or "—")
    year, month, quarter, half = match.groups()
    if month:
        return f"{year}年{int(month)}月"
    if quarter:
        return f"{year}年第{QUARTERS[quarter]}季度"
    if half:
        return f"{year}年{'上' if half == '1' else '下'}半年"
    return f"{year}年"


def detail_value(key: str, value) -> str:
    """Return one detail's value in words."""
    if isinstance(value, dict):
        return "，".join(f"{CHANNEL_NAMES.get(k, k)} {v}" for k, v in value.items())
    if key in ("period", "score_period"):
        return period_name(value)
    if key == "status":
        return PUSH_STATUSES.get(value, str(value))
    return str(value)


def alert_summary(details: dict | None) -> str:
    """Return an alert's details as one short line in Chinese (unknown keys left out)."""
    parts = [f"{DETAIL_NAMES[key]}：{detail_value(key, value)}"
             for key, value in (details or {}).items()
             if key in DETAIL_NAMES and key not in HIDDEN_DETAILS]
    return "；".join(parts)[:300]
