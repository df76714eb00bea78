"""How the console says things in Chinese: durations, SLA clocks, labels (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from bot.domain.directory import Directory
from bot.workflow.definition import COMPLAINT, AssigneeRule

TIMER_LEVELS = {
    "warning": "即将超时提醒",
    "breached": "处理时限",
    "escalated": "超时升级",
    # The complaint's service targets (bot/service/targets.py), not a step's.
    "first_response": "首次响应目标",
    "resolution": "解决目标",
}
STEP_KINDS = {"task": "任务", "exclusive": "条件分支", "parallel": "会签", "end": "结束"}
ATTACHMENT_KINDS = {
    "image": "图片",
    "voice": "语音",
    "video": "视频",
    "file": "文件",
    "location": "位置",
}
PLATFORMS = {
    "wechat_oa": "微信公众号",
    "wecom": "企业微信",
    "dingtalk": "钉钉",
    "playground": "体验台",
}
FIELD_TYPES = {
    "text": "文本",
    "textarea": "多行文本",
    "number": "数字",
    "money": "金额",
    "phone": "手机号",
    "email": "邮箱",
    "date": "日期",
    "datetime": "日期时间",
    "select": "单选",
    "multiselect": "多选",
    "boolean": "是/否",
    "rating": "评分",
    "image": "图片",
    "file": "文件",
    "location": "位置",
    "person": "人员",
    "department": "部门",
    "order_number": "订单号",
    "url": "网址",
    "computed": "计算字段",
}


def duration_text(value: timedelta) -> str:
    """3天4小时, 5小时20分钟, 12分钟, 不到1分钟: two units at most, rounded down."""
    minutes = int(abs(value.total_seconds()) // 60)
    if minutes < 1:
        return "不到1分钟"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分钟" if minutes else f"{hours}小时"
    return f"{minutes}分钟"


def local_text(at: datetime | None, tz: tzinfo) -> str:
    """2026-11-23 14:05 in the organisation's time zone ('' for None)."""
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M") if at is not None else ""


@dataclass(frozen=True)
class ClockLine:
    """One SLA clock as the complaint page shows it."""

    step: str
    level: str
    due: str
    state: str  # 剩余 3小时20分钟, 已超时 2小时, 已暂停（剩余 1小时）, 已于 … 触发
    tone: str  # ok, warning, danger, muted


def clock_line(
    *,
    step: str,
    level: str,
    status: str,
    due_at: datetime,
    now: datetime,
    tz: tzinfo,
    remaining_seconds: float | None = None,
    running: bool = True,
) -> ClockLine:
    """Describe one timer; `running` is False once its step is over or the complaint closed."""
    label = TIMER_LEVELS.get(level, level)
    due = local_text(due_at, tz)
    if status == "paused":
        left = timedelta(seconds=remaining_seconds or 0)
        return ClockLine(step, label, due, f"已暂停（剩余 {duration_text(left)}）", "muted")
    if status == "pending" and due_at > now:
        tone = "warning" if due_at - now <= timedelta(hours=1) else "ok"
        return ClockLine(step, label, due, f"剩余 {duration_text(due_at - now)}", tone)
    if status in ("pending", "fired") and running:
        tone = "warning" if level == "warning" else "danger"
        return ClockLine(step, label, due, f"已超时 {duration_text(now - due_at)}", tone)
    if status == "fired":
        return ClockLine(step, label, due, "已到期（该步骤已结束）", "muted")
    return ClockLine(step, label, due, "已取消", "muted")


def assignee_text(rule: AssigneeRule, directory: Directory) -> str:
    """Who a step goes to, in words: 角色「客服」, 投诉所在部门负责人, 张三, 产品部（共享队列）."""
    if rule.person is not None:
        return directory.name_of(rule.person) or rule.person
    if rule.role is not None:
        return f"角色「{rule.role}」"
    if rule.department_head is not None:
        if rule.department_head == COMPLAINT:
            return "投诉所在部门负责人"
        return f"{directory.department_name(rule.department_head)}负责人"
    department = rule.department or ""
    if department == COMPLAINT:
        return "投诉所在部门（共享队列）"
    return f"{directory.department_name(department)}（共享队列）"
