"""The digest's text: a short Chinese markdown summary (pure functions over a KpiReport)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.domain.directory import Directory
from bot.reports.kpi_model import KpiReport, OverdueComplaint, Problem
from bot.reports.stats import Change, DurationStats, Rate


def format_duration(value: timedelta) -> str:
    """12 分钟, 3.5 小时, 2.1 天: the unit a person would say."""
    seconds = value.total_seconds()
    if seconds < 3600:
        return f"{max(seconds / 60, 0):.0f} 分钟"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"


def format_share(value: float) -> str:
    return f"{value * 100:.0f}%"


def format_change(change: Change | None, *, unit: str = "") -> str:
    """（↑12%） for counts and times, （↓3.0个百分点） for rates; "" when not comparable."""
    if change is None or change.delta is None:
        return ""
    arrow = "↑" if change.delta > 0 else "↓"
    if change.is_rate:
        points = abs(change.delta) * 100
        return "（持平）" if round(points, 1) == 0 else f"（{arrow}{points:.1f}个百分点）"
    if unit:
        return (
            "（持平）"
            if round(change.delta, 1) == 0
            else f"（{arrow}{abs(change.delta):.1f}{unit}）"
        )
    if change.delta == 0:
        return "（持平）"
    if change.relative is None:
        return "（上期为 0）"
    if round(abs(change.relative) * 100) == 0:
        return "（持平）"  # a change that rounds to 0% reads as noise
    return f"（{arrow}{abs(change.relative):.0%}）"


def _duration_line(
    label: str, stats: DurationStats, working: DurationStats | None, change: Change | None
) -> str:
    if stats.median is None or stats.p90 is None:
        return f"- {label}：本期无数据"
    line = f"- {label}中位 **{format_duration(stats.median)}**{format_change(change)}"
    line += f"，90% 在 {format_duration(stats.p90)}内"
    if working is not None and working.median is not None:
        line += f"（工作时间中位 {format_duration(working.median)}）"
    return line


def _rate_line(label: str, rate: Rate, change: Change | None, empty: str) -> str:
    if rate.value is None:
        return f"- {label}：{empty}"
    return f"- {label} **{format_share(rate.value)}**{format_change(change)}"


def _problem_line(index: int, problem: Problem, received: int) -> str:
    share = f"，占 {problem.count / received:.0%}" if received else ""
    change = format_change(Change(float(problem.count), float(problem.previous)))
    line = f"{index}. {problem.label}：{problem.count} 起{share}{change}"
    if problem.product:
        line += f"，集中在{problem.product}（{problem.product_count} 起）"
    return line


def _overdue_line(item: OverdueComplaint, now: datetime, directory: Directory | None) -> str:
    where = directory.department_name(item.department) if directory else item.department
    late = format_duration(now - item.breached_at) if now > item.breached_at else "刚刚"
    parts = [p for p in (where, item.type) if p]
    detail = "·".join(parts)
    return f"- {item.number}（{detail + '，' if detail else ''}已超时 {late}）"


def render_digest_markdown(
    kpis: KpiReport,
    problems: Sequence[Problem],
    overdue: Sequence[OverdueComplaint],
    *,
    title: str,
    overdue_total: int | None = None,
    directory: Directory | None = None,
    overdue_cap: int = 5,
) -> str:
    """The digest summary: headline KPIs with change, the largest problems, overdue complaints."""
    now_figures = kpis.current
    change = kpis.change
    period = kpis.period
    total_overdue = len(overdue) if overdue_total is None else overdue_total
    lines = [f"## {title}｜{period.label}", f"{period.describe()}", ""]
    lines.append(
        f"- 新增投诉 **{now_figures.received}** 起{format_change(change.get('received'))}，"
        f"关闭 **{now_figures.closed}** 起{format_change(change.get('closed'))}"
    )
    lines.append(f"- 当前未结 **{kpis.open_now}** 起，其中超时 **{kpis.current_breaches}** 起")
    lines.append(
        _duration_line(
            "首次响应",
            now_figures.first_response,
            now_figures.first_response_working,
            change.get("first_response_median"),
        )
    )
    lines.append(
        _duration_line(
            "解决用时",
            now_figures.resolution,
            now_figures.resolution_working,
            change.get("resolution_median"),
        )
    )
    lines.append(
        _rate_line(
            "一次解决率",
            now_figures.first_contact_resolution,
            change.get("first_contact_resolution"),
            "本期无关闭投诉",
        )
    )
    satisfied = now_figures.csat_satisfied
    if satisfied.value is None or now_figures.csat_average is None:
        lines.append("- 满意度：本期暂无评价")
    else:
        lines.append(
            f"- 满意率 **{format_share(satisfied.value)}**"
            f"{format_change(change.get('csat_satisfied'))}，"
            f"平均 **{now_figures.csat_average:.1f}** 分"
            f"{format_change(change.get('csat_average'), unit='分')}，"
            f"共 {satisfied.denominator} 份评价"
        )
    lines.append(
        _rate_line(
            "时限达成率",
            now_figures.sla_compliance,
            change.get("sla_compliance"),
            "本期无解决投诉",
        )
    )
    if problems:
        lines += ["", f"**主要问题（前 {len(problems)}）**"]
        lines += [
            _problem_line(i, problem, now_figures.received)
            for i, problem in enumerate(problems, start=1)
        ]
    lines.append("")
    if total_overdue == 0:
        lines.append("**超时未结**：无")
    else:
        lines.append(f"**超时未结 {total_overdue} 起**")
        shown = list(overdue)[:overdue_cap]
        lines += [_overdue_line(item, kpis.now, directory) for item in shown]
        if total_overdue > len(shown):
            lines.append(f"- …等 {total_overdue} 起")
    return "\n".join(lines) + "\n"
