"""Carry out what the rule engine decides, as part of the change that triggered it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from bot.errors import ActionRefused
from bot.forms import FormContext, parse_answer
from bot.rules import (
    Assign,
    CallWebhook,
    Escalate,
    Notify,
    RuleEvent,
    RuleFailed,
    SendSurvey,
    SetField,
    evaluate_rules,
    threshold_count,
)
from bot.service.outbox import queue_message
from bot.service.runtime import Runtime
from bot.service.views import condition_env, typed_values
from bot.workflow import Action, ActionKind, act
from bot.workflow.context import SYSTEM
from storage.models import Complaint

if TYPE_CHECKING:
    from bot.service.change import ComplaintChange
    from bot.service.survey import SurveyDesk

log = logging.getLogger(__name__)

# The channel name the outbox uses for outgoing webhooks (bot/integrations/webhooks.py).
WEBHOOK_CHANNEL = "webhooks"


class RuleRunner:
    def __init__(self, rt: Runtime, survey: SurveyDesk):
        self.rt = rt
        self.survey = survey

    async def run(self, change: ComplaintChange, event: str, env: Mapping[str, Any]) -> None:
        outcomes = evaluate_rules(
            self.rt.config.rules,
            RuleEvent(event, env, env.get("rule")),
            directory=self.rt.config.directory,
        )
        for outcome in outcomes:
            try:
                await self._apply(change, outcome, env)
            except ActionRefused as exc:
                change.note(
                    "rule_failed",
                    f"规则「{outcome.rule}」未能执行：{exc.reason}",
                    actor=f"rule:{outcome.rule}",
                )

    async def _apply(self, change: ComplaintChange, outcome: Any, env: Mapping[str, Any]) -> None:
        actor = f"rule:{outcome.rule}"
        c = change.complaint
        if isinstance(outcome, Notify):
            names = self._send(change, outcome.recipients, outcome.message, title="投诉通知")
            change.note("notice", f"通知 {names}：{outcome.message}", actor=actor)
        elif isinstance(outcome, SetField):
            ctx = FormContext(change.now, self.rt.tz, directory=self.rt.config.directory)
            value, problem = parse_answer(change.lc.form, outcome.key, outcome.value, ctx)
            if problem is not None:
                change.note(
                    "rule_failed",
                    f"规则「{outcome.rule}」无法设置 {problem.label}：{problem.message}",
                    actor=actor,
                )
                return
            await change._write_fields({outcome.key: value}, actor=actor)
        elif isinstance(outcome, Assign):
            await self._reassign(change, outcome.person, outcome.department, actor)
        elif isinstance(outcome, Escalate):
            overdue = env.get("overdue_by")
            task = self._open_task(change)
            names = []
            for r in outcome.recipients:
                if r.kind == "person" and task is not None:
                    await change.cards.send(
                        change.session,
                        change.lc,
                        task,
                        r.id,
                        now=change.now,
                        kind="escalation",
                        message=outcome.message,
                        overdue_by=overdue,
                    )
                    names.append(change.name(r.id))
                else:
                    names.append(self._send(change, (r,), outcome.message, title="投诉升级"))
            change.note("escalated", f"升级至 {'、'.join(names)}：{outcome.message}", actor=actor)
            if outcome.reassign_to:
                await self._reassign(change, outcome.reassign_to, None, actor)
        elif isinstance(outcome, CallWebhook):
            await queue_message(
                change.session,
                key=f"webhook:{uuid.uuid4().hex}",
                kind="webhook",
                channel=WEBHOOK_CHANNEL,
                target=outcome.url,
                payload={
                    "method": outcome.method,
                    "headers": dict(outcome.headers),
                    "body": dict(outcome.payload),
                    "rule": outcome.rule,
                },
                now=change.now,
                complaint_id=c.id,
            )
            change.note("webhook", f"调用外部接口 {outcome.url}", actor=actor)
        elif isinstance(outcome, SendSurvey):
            await self.survey.ask(change)
        elif isinstance(outcome, RuleFailed):
            log.warning("rule %s failed on %s: %s", outcome.rule, c.number, outcome.message)
            change.note(
                "rule_failed", f"规则「{outcome.rule}」执行失败：{outcome.message}", actor=actor
            )

    def _send(self, change: ComplaintChange, recipients: Any, text: str, *, title: str) -> str:
        names = []
        for r in recipients:
            if r.kind == "person":
                change.notices.person(r.id, text, complaint_id=change.complaint.id)
                names.append(change.name(r.id))
            elif r.kind == "group":
                change.notices.group(r.id, title, text, complaint_id=change.complaint.id)
                group = self.rt.config.directory.groups.get(r.id)
                names.append(group.name if group else r.id)
            else:
                change.notices.customer_later(change.lc, text)
                names.append("客户")
        return "、".join(names)

    @staticmethod
    def _open_task(change: ComplaintChange) -> str | None:
        tasks = change.lc.state.tasks
        return tasks[0].task_id if tasks else None

    async def _reassign(
        self, change: ComplaintChange, person: str | None, department: str | None, actor: str
    ) -> None:
        """Move the open task (and the complaint's department) as a rule said."""
        task = self._open_task(change)
        ctx = change.lc.flow_context(self.rt, change.now)
        if department:
            if task is None:
                change.complaint.department = department
                return
            action = Action(
                ActionKind.ASSIGN_DEPARTMENT, SYSTEM, task_id=task, target=department, text=actor
            )
            await change.apply(act(change.lc.flow, change.lc.state, action, ctx))
            ctx = change.lc.flow_context(self.rt, change.now)
        if person and task is not None:
            holder = change.lc.state.task(task)
            if holder is not None and holder.assignee == person:
                return
            action = Action(ActionKind.REASSIGN, SYSTEM, task_id=task, target=person, text=actor)
            await change.apply(act(change.lc.flow, change.lc.state, action, ctx))

    async def check_thresholds(self, change: ComplaintChange) -> None:
        """After an intake: fire each threshold rule whose count this complaint reaches."""
        rules = [r for r in self.rt.config.rules if r.threshold is not None and r.enabled]
        if not rules:
            return
        c = change.complaint
        current = condition_env(self.rt, c, change.lc.values, now=change.now, event="threshold")
        # Only a rule this complaint itself counts for can reach its count now; when none does,
        # the window is not loaded at all (it holds every complaint of the last `within`).
        rules = [r for r in rules if _counts_for(r, current)]
        if not rules:
            return
        widest = max(r.threshold.within for r in rules)  # type: ignore[union-attr]
        since = c.created_at - (widest if isinstance(widest, timedelta) else timedelta(days=1))
        stmt = select(Complaint).where(Complaint.created_at >= since, Complaint.id != c.id)
        same_group = _same_group(rules, change.lc.values)
        if same_group is not None:
            stmt = stmt.where(same_group)
        rows = (await change.session.scalars(stmt)).all()
        window = [current] + [
            condition_env(
                self.rt,
                row,
                typed_values(self.rt.config.forms[row.form], row),
                now=change.now,
                event="threshold",
            )
            for row in rows
            if row.form in self.rt.config.forms
        ]
        for rule in rules:
            count = threshold_count(rule, current, window)
            # Fire when the count reaches the threshold, not again for every later complaint.
            if count is not None and count == rule.threshold.count:  # type: ignore[union-attr]
                change.event("threshold", count=count, rule=rule.name)


def _counts_for(rule: Any, current: Mapping[str, Any]) -> bool:
    """Whether `current` matches the rule and has a group: a count of one would reach it."""
    once = replace(rule, threshold=replace(rule.threshold, count=1))
    return threshold_count(once, current, [current]) is not None


def _same_group(rules: list[Any], values: Mapping[str, Any]) -> Any:
    """A SQL condition keeping only complaints in the new one's group(s), when every rule groups
    by a text field (order number, product): only those can share its group. None otherwise."""
    conditions = []
    for rule in rules:
        key = rule.threshold.group_by
        value = values.get(key) if key else None
        if not isinstance(value, str):
            return None
        conditions.append(Complaint.values[key].as_string() == value)
    return or_(*conditions)
