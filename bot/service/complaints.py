"""ComplaintService: the one place that changes complaints.

Channels, the API, the playground and the scheduler all call it with their own session, so the
change, its timeline, its outbox rows and (for platform callbacks) the inbound-event record are
committed together or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ActionRefused, BotError
from bot.forms import FieldProblem, FormContext, defaults, dump_values, validate
from bot.service.card_desk import CardDesk, mark_new_complaint, shared_views
from bot.service.change import ComplaintChange
from bot.service.loaded import LoadedComplaint, load_complaint
from bot.service.notices import Notices
from bot.service.numbers import next_complaint_number
from bot.service.rule_runner import RuleRunner
from bot.service.runtime import Runtime
from bot.service.survey import SurveyDesk
from bot.workflow import Action, ActionKind, WorkflowState, act, start
from storage.models import Complaint, Customer, SurveyAnswer, Timer, WorkflowInstance


class FormRejected(BotError):
    """The values do not fill the form; every problem, each a short Chinese message."""

    def __init__(self, problems: tuple[FieldProblem, ...]):
        self.problems = problems
        super().__init__("；".join(f"{p.label}：{p.message}" for p in problems))


def customer_profile(customer: Customer | None) -> dict[str, Any]:
    """What form defaults of the kind {profile: name} read."""
    if customer is None:
        return {}
    profile = dict(customer.profile or {})
    for key in ("name", "phone", "customer_no"):
        value = getattr(customer, key)
        if value:
            profile[key] = value
    return profile


# Called with (change, event name, rule environment) for every event a change produces, after the
# rules saw it, inside the change's transaction (integrations queue webhooks and jobs here).
EventListener = Callable[[ComplaintChange, str, Mapping[str, Any]], Awaitable[None]]


class ComplaintService:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self.cards = CardDesk(rt)
        self.survey = SurveyDesk(rt)
        self.rules = RuleRunner(rt, self.survey)
        self.listeners: list[EventListener] = []

    def begin(
        self, session: AsyncSession, lc: LoadedComplaint, *, actor: str, now: datetime
    ) -> ComplaintChange:
        return ComplaintChange(
            self.rt, session, lc, actor=actor, now=now, cards=self.cards, notices=Notices(self.rt)
        )

    async def commit_change(self, change: ComplaintChange) -> None:
        """Run the rules on what the change did, then send its cards and notices."""
        await change.run_rules(self.rules, listeners=self.listeners)
        with shared_views(change.session):  # nothing a card shows changes while finishing
            await change.finish()

    # --- intake ------------------------------------------------------------------------------

    async def create(
        self,
        session: AsyncSession,
        *,
        values: Mapping[str, Any],
        channel: str,
        actor: str,
        customer: Customer | None = None,
        flow_key: str | None = None,
        now: datetime | None = None,
    ) -> LoadedComplaint:
        """Validate the form, number the complaint, start its flow; FormRejected on bad values."""
        now = now or self.rt.now()
        flow_key = flow_key or self.rt.config.intake_flow
        flow = self.rt.config.flows[flow_key]
        form = self.rt.config.forms[flow.form]
        ctx = FormContext(now, self.rt.tz, customer_profile(customer), self.rt.config.directory)
        result = validate(form, {**defaults(form, ctx), **values}, ctx)
        if not result.ok:
            raise FormRejected(result.problems)
        local_day = now.astimezone(self.rt.tz).date()
        number = await next_complaint_number(
            session, self.rt.config.organization.number_prefix, local_day
        )
        typed = dict(result.values)
        complaint = Complaint(
            number=number,
            form=flow.form,
            flow=flow_key,
            values=dump_values(form, typed),
            status="new",
            type=str(typed["type"]) if typed.get("type") is not None else None,
            priority=str(typed.get("priority") or "normal"),
            channel=channel,
            customer_id=customer.id if customer is not None else None,
            created_at=now,
            updated_at=now,
            reassigned=0,
            reopened=0,
        )
        session.add(complaint)
        await session.flush()
        mark_new_complaint(session, complaint)
        instance = WorkflowInstance(
            complaint_id=complaint.id, flow=flow_key, state={}, revision=0, updated_at=now
        )
        session.add(instance)
        lc = LoadedComplaint(complaint, instance, flow, form, typed, WorkflowState())
        change = self.begin(session, lc, actor=actor, now=now)
        change.note("created", f"提交了投诉（{self._channel_label(channel)}）")
        change.event("complaint.created")
        await change.apply(start(flow, lc.flow_context(self.rt, now)))
        await self.rules.check_thresholds(change)
        await self.commit_change(change)
        return lc

    def _channel_label(self, channel: str) -> str:
        platform = self.rt.routing.platform_of(channel)
        return {
            "wechat_oa": "微信公众号",
            "playground": "体验台",
            "wecom": "企业微信",
            "dingtalk": "钉钉",
        }.get(platform, channel)

    # --- actions -----------------------------------------------------------------------------

    async def act(
        self,
        session: AsyncSession,
        number: str,
        action: Action,
        *,
        now: datetime | None = None,
        before_finish: Any = None,
    ) -> LoadedComplaint:
        """Take a workflow action; ActionRefused (state untouched) when it is not allowed now."""
        now = now or self.rt.now()
        lc = await load_complaint(session, self.rt, number=number)
        if action.kind == ActionKind.EXTEND:
            action = replace(action, overdue_by=await self._overdue_by(session, lc, action, now))
        transition = act(lc.flow, lc.state, action, lc.flow_context(self.rt, now))
        actor = "customer" if action.actor == "customer" else f"person:{action.actor}"
        change = self.begin(session, lc, actor=actor, now=now)
        await change.apply(transition)
        if before_finish is not None:
            await before_finish(change)
        await self.commit_change(change)
        return lc

    async def _overdue_by(
        self, session: AsyncSession, lc: LoadedComplaint, action: Action, now: datetime
    ) -> timedelta:
        """How far past its limit the task's step is now (working time); zero when in time."""
        task = lc.state.task(action.task_id) if action.task_id else None
        if task is None:
            return timedelta(0)
        activation = lc.state.activations.get(task.step_id)
        due = await session.scalar(
            select(Timer.due_at).where(
                Timer.subject == f"{lc.number}:{task.step_id}:{activation}",
                Timer.level == "breached",
            )
        )
        return self.rt.calendar.elapsed(due, now) if due is not None and due < now else timedelta(0)

    async def comment(
        self,
        session: AsyncSession,
        number: str,
        *,
        actor: str,
        text: str,
        to_customer: bool = False,
        now: datetime | None = None,
    ) -> LoadedComplaint:
        """A comment on the timeline; `to_customer` also sends it to the customer."""
        now = now or self.rt.now()
        lc = await load_complaint(session, self.rt, number=number)
        change = self.begin(session, lc, actor=actor, now=now)
        await change.add_comment(actor, text, to_customer=to_customer)
        lc.complaint.updated_at = now
        await self.commit_change(change)
        return lc

    async def answer_survey(
        self,
        session: AsyncSession,
        number: str,
        *,
        score: int,
        comment: str | None,
        channel: str,
        now: datetime | None = None,
    ) -> SurveyAnswer:
        now = now or self.rt.now()
        lc = await load_complaint(session, self.rt, number=number)
        if lc.complaint.status not in ("closed", "resolved"):
            raise ActionRefused("投诉处理完毕后才能评价")
        change = self.begin(session, lc, actor="customer", now=now)
        answer = await self.survey.record(change, score=score, comment=comment, channel=channel)
        await self.commit_change(change)
        return answer

    async def customer_complaints(
        self, session: AsyncSession, customer_id: int, *, open_only: bool = False
    ) -> list[Complaint]:
        stmt = select(Complaint).where(Complaint.customer_id == customer_id)
        if open_only:
            stmt = stmt.where(Complaint.status.not_in(("closed", "cancelled")))
        return list((await session.scalars(stmt.order_by(Complaint.created_at.desc()))).all())
