"""Everything one decision does to one complaint, inside the caller's transaction.

The workflow engine says what happened (effects); this module writes it down: the complaint's
columns, the timeline, the task mirror, timers, cards and notices in the outbox. Then the rules
run on the events the change produced, and whatever they decide is carried out the same way.
Nothing here sends anything: the outbox does, after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards.build import outcome_line
from bot.domain.complaint import short_time
from bot.forms import dump_values
from bot.service.card_desk import CardDesk, is_new_complaint
from bot.service.loaded import LoadedComplaint
from bot.service.notices import Notices
from bot.service.runtime import Runtime
from bot.service.timeline import add_entry
from bot.service.views import condition_env, step_name
from bot.workflow import Transition, lifecycle_status
from bot.workflow import effects as fx
from storage.models import Comment, Timer, WorkflowTask

log = logging.getLogger(__name__)

# How a closed task's outcome reads on its cards: the action that closed it.
OUTCOME_ACTIONS = {"done": "submit", "approved": "approve", "rejected": "reject"}
DEFAULT_REASONS = frozenset({"转交", "改派", "接手", "转部门"})
# Rules may change fields that fire rules again; stop after this many rounds.
MAX_RULE_ROUNDS = 3
# session.info key: task-mirror and timer rows added for complaints created in this transaction,
# which have no other rows: looked up here instead of with a query.
ROWS_MADE = "change_rows_made"


@dataclass
class PendingCards:
    """Card work collected during a change and done once at the end."""

    new: dict[str, list[str]] = field(default_factory=dict)  # task_id -> people to send to
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)  # task -> person -> line
    closed: dict[str, str] = field(default_factory=dict)  # task_id -> outcome line for everyone
    touched: set[str] = field(default_factory=set)  # tasks whose cards need a refresh
    # task_id -> outcome line for its escalation cards: a supervisor handled the escalation.
    escalations: dict[str, str] = field(default_factory=dict)
    skip: set[int] = field(default_factory=set)  # card records already updated


class ComplaintChange:
    """Apply transitions and rule effects to one loaded complaint; `finish()` once at the end."""

    def __init__(
        self,
        rt: Runtime,
        session: AsyncSession,
        lc: LoadedComplaint,
        *,
        actor: str,
        now: datetime,
        cards: CardDesk,
        notices: Notices,
    ):
        self.rt = rt
        self.session = session
        self.lc = lc
        self.actor = actor
        self.now = now
        self.cards = cards
        self.notices = notices
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.pending = PendingCards()
        self.survey_requested = False

    # --- helpers ---------------------------------------------------------------------------

    @property
    def complaint(self):  # noqa: ANN201 - storage.models.Complaint
        return self.lc.complaint

    def name(self, person: str | None) -> str:
        return self.rt.config.directory.name_of(person) if person else "系统"

    def note(self, kind: str, summary: str, *, actor: str | None = None, **data: Any) -> None:
        add_entry(
            self.session,
            self.complaint.id,
            at=self.now,
            actor=actor or self.actor,
            kind=kind,
            summary=summary,
            data=data,
        )

    def event(self, name: str, **extra: Any) -> None:
        self.events.append((name, extra))

    def _when(self) -> str:
        return short_time(self.now, self.rt.tz)

    # --- workflow effects ------------------------------------------------------------------

    async def apply(self, transition: Transition) -> None:
        """Record a workflow transition's effects and take over its state."""
        self.lc.state = transition.state
        for effect in transition.effects:
            await self._effect(effect)
        self._sync_complaint()

    async def _effect(self, e: fx.Effect) -> None:  # noqa: C901 - one branch per effect type
        c = self.complaint
        if isinstance(e, fx.StepEntered):
            c.current_step = e.step_id
            if self.lc.flow.step(e.step_id).kind != "exclusive":
                self.note("step", f"进入「{e.step_name}」", actor="system", step=e.step_id)
            self.event("step.entered", step=e.step_name, step_id=e.step_id)
        elif isinstance(e, fx.StepCompleted):
            if self.lc.flow.step(e.step_id).kind == "exclusive":
                self.note("route", f"按条件分流：{e.outcome}", actor="system", step=e.step_id)
            else:
                by = f"person:{e.by}" if e.by else "system"
                self.note("step", f"完成「{e.step_name}」", actor=by, step=e.step_id)
            self.event("step.completed", step=e.step_name, step_id=e.step_id)
        elif isinstance(e, fx.TaskOpened):
            people = [e.assignee] if e.assignee else list(e.candidates)
            self.pending.new.setdefault(e.task_id, []).extend(people)
            await self._mirror_open(e.task_id, e.step_id, list(e.candidates) or people)
        elif isinstance(e, fx.TaskAccepted):
            if c.first_response_at is None:
                c.first_response_at = self.now
                self.notices.customer_later(
                    self.lc, f"您的投诉 {c.number} 已由 {self.name(e.by)} 受理，我们会尽快处理。"
                )
            task = self.lc.state.task(e.task_id)
            step = step_name(self.lc.flow, task.step_id if task else c.current_step)
            self.note("accepted", f"受理了「{step}」", actor=f"person:{e.by}")
            line = outcome_line(self.name(e.by), "accept", self._when())
            others = await self._mirror_taken(e.task_id, e.by)
            self.pending.outcomes.setdefault(e.task_id, {}).update({p: line for p in others})
            self.pending.touched.add(e.task_id)
        elif isinstance(e, fx.TaskClosed):
            action = OUTCOME_ACTIONS.get(e.outcome)
            line = (
                outcome_line(self.name(e.by), action, self._when())
                if action and e.by
                else f"该步骤已结束 · {self._when()}"
            )
            self.pending.closed[e.task_id] = line
            await self._mirror_state(e.task_id, "closed")
            if e.outcome in ("approved", "rejected") and e.by:
                # Each signature of a sign-off is on record, not only the one that ends the step.
                verb = "同意" if e.outcome == "approved" else "驳回"
                step = step_name(self.lc.flow, e.step_id)
                self.note("signed", f"{verb}了「{step}」", actor=f"person:{e.by}")
        elif isinstance(e, fx.AssigneeChanged):
            c.reassigned = (c.reassigned or 0) + 1
            target = self.name(e.new) if e.new else "部门待认领"
            # The engine names the action when nobody gave a reason; only real reasons are shown.
            reason = "" if e.reason in DEFAULT_REASONS or e.reason.startswith("rule:") else e.reason
            self.note(
                "assigned",
                f"将任务转派给 {target}" + (f"（{reason}）" if reason else ""),
                actor=f"person:{e.by}" if e.by and e.by != "system" else e.reason or "system",
            )
            verb = "take_over" if e.new == e.by else "reassign"
            if e.by and e.by != "system":
                self.pending.escalations[e.task_id] = outcome_line(
                    self.name(e.by), verb, self._when()
                )
            if e.previous:
                line = f"已转派给 {target} · {self._when()}"
                self.pending.outcomes.setdefault(e.task_id, {})[e.previous] = line
                await self._mirror_state(e.task_id, "transferred", person=e.previous)
            people = [e.new] if e.new else list(e.candidates)
            self.pending.new.setdefault(e.task_id, []).extend(people)
            await self._mirror_open(e.task_id, None, people)
            self.pending.touched.add(e.task_id)
        elif isinstance(e, fx.DepartmentChanged):
            c.department = e.department
            dept = self.rt.config.directory.department_name(e.department)
            self.note("route", f"分派至 {dept}", actor="system", department=e.department)
        elif isinstance(e, fx.FieldsWritten):
            await self._write_fields(e.values, actor=f"person:{e.by}")
        elif isinstance(e, fx.Commented):
            await self.add_comment(f"person:{e.by}" if e.by != "customer" else "customer", e.text)
        elif isinstance(e, fx.TimerRequested):
            await self._timer(e)
        elif isinstance(e, fx.TimersCancelled):
            await self.session.execute(
                update(Timer)
                .where(Timer.complaint_id == c.id, Timer.subject == self._subject(e.subject))
                .where(Timer.status.in_(("pending", "paused")))
                .values(status="cancelled")
            )
        elif isinstance(e, fx.DeadlineExtended):
            await self._extend(e)
            for task in self.lc.state.tasks:
                if f"{task.step_id}:{task.activation}" == e.subject:
                    line = outcome_line(self.name(e.by), "extend", self._when())
                    self.pending.escalations[task.task_id] = line
                    self.pending.touched.add(task.task_id)
        elif isinstance(e, fx.Reminded):
            task = self.lc.state.task(e.task_id)
            holder = task.assignee if task else None
            self.note("reminded", f"催办 {self.name(holder)}", actor=f"person:{e.by}")
            self.pending.escalations[e.task_id] = outcome_line(
                self.name(e.by), "remind", self._when()
            )
            self.pending.touched.add(e.task_id)
            for person in [holder] if holder else (task.candidates if task else ()):
                where = step_name(self.lc.flow, c.current_step)
                self.notices.person(
                    person,
                    f"{self.name(e.by)} 催办：投诉 {c.number}「{where}」已超时，请尽快处理。",
                    complaint_id=c.id,
                )
        elif isinstance(e, fx.FlowEnded):
            if e.outcome == "cancelled":
                self.note("cancelled", "投诉已撤销", actor=self.actor)
            else:
                self.note("closed", "投诉已关闭", actor=self.actor)
                self.event("complaint.closed")
            c.closed_at = self.now
        elif isinstance(e, fx.Reopened):
            c.reopened = (c.reopened or 0) + 1
            c.closed_at = None
            c.resolved_at = None
            self.note("reopened", "重新打开了投诉", actor=f"person:{e.by}")
            self.event("complaint.reopened")
        elif isinstance(e, fx.ConditionFailed):
            self.note("note", f"条件无法判断（按不成立处理）：{e.message}", actor="system")

    def _sync_complaint(self) -> None:
        c, state = self.complaint, self.lc.state
        c.status = lifecycle_status(self.lc.flow, state)
        c.current_step = state.current[0] if state.current else None
        holders = [t.assignee for t in state.tasks if t.assignee]
        c.assignee = holders[0] if holders else None
        if c.status == "resolved" and c.resolved_at is None:
            c.resolved_at = self.now
        if c.status == "closed" and c.resolved_at is None:
            c.resolved_at = self.now
        c.updated_at = self.now
        self.lc.instance.state = state.to_dict()
        self.lc.instance.revision = (self.lc.instance.revision or 0) + 1
        self.lc.instance.updated_at = self.now

    # --- task mirror ----------------------------------------------------------------------

    def _rows_made(self) -> dict[tuple[str, str], Any] | None:
        """The mirror and timer rows made so far for a complaint created in this transaction
        (it has no others, so no query is needed to find them); None for any other complaint."""
        if not is_new_complaint(self.session, self.complaint):
            return None
        made: dict[int, dict[tuple[str, str], Any]] = self.session.info.setdefault(ROWS_MADE, {})
        return made.setdefault(self.complaint.id, {})

    async def _mirror_open(self, task_id: str, step_id: str | None, people: list[str]) -> None:
        step_id = step_id or (
            self.lc.state.task(task_id).step_id if self.lc.state.task(task_id) else ""
        )
        made = self._rows_made()
        for person in dict.fromkeys(people):
            key = f"{task_id}/{person}"
            if made is not None:
                row = made.get(("task", key))
            else:
                row = await self.session.scalar(
                    select(WorkflowTask).where(
                        WorkflowTask.complaint_id == self.complaint.id,
                        WorkflowTask.task_key == key,
                    )
                )
            if row is None:
                row = WorkflowTask(
                    complaint_id=self.complaint.id,
                    task_key=key,
                    step_id=step_id,
                    assignee=person,
                    state="open",
                    created_at=self.now,
                    updated_at=self.now,
                )
                self.session.add(row)
                if made is not None:
                    made[("task", key)] = row
            else:
                row.state, row.updated_at = "open", self.now

    async def _mirror_state(self, task_id: str, state: str, *, person: str | None = None) -> None:
        stmt = (
            update(WorkflowTask)
            .where(WorkflowTask.complaint_id == self.complaint.id)
            .where(WorkflowTask.task_key.like(f"{task_id}/%"))
            # The holder's own row is "accepted": a closed or transferred task leaves it too.
            .where(WorkflowTask.state.in_(("open", "accepted")))
            .values(state=state, updated_at=self.now)
        )
        if person is not None:
            stmt = stmt.where(WorkflowTask.assignee == person)
        await self.session.execute(stmt)

    async def _mirror_taken(self, task_id: str, by: str) -> list[str]:
        """Mark the other queue members' rows taken; returns who they were."""
        rows = (
            await self.session.scalars(
                select(WorkflowTask)
                .where(WorkflowTask.complaint_id == self.complaint.id)
                .where(WorkflowTask.task_key.like(f"{task_id}/%"))
                .where(WorkflowTask.state == "open")
            )
        ).all()
        others = []
        for row in rows:
            if row.assignee == by:
                row.state = "accepted"
            else:
                row.state = "taken"
                others.append(row.assignee)
            row.updated_at = self.now
        return others

    # --- fields, comments, timers ------------------------------------------------------------

    async def _write_fields(self, values: Mapping[str, Any], *, actor: str) -> None:
        changed = {k: v for k, v in values.items() if self.lc.values.get(k) != v}
        if not changed:
            return
        before = {k: self.lc.values.get(k) for k in changed}
        self.lc.values.update(changed)
        self.complaint.values = dump_values(self.lc.form, self.lc.values)
        if "type" in changed:
            self.complaint.type = str(changed["type"]) if changed["type"] is not None else None
        labels = "、".join(self._label(k) for k in changed)
        self.note("fields", f"填写了 {labels}", actor=actor, keys=list(changed))
        for key, value in changed.items():
            self.event(
                "field.changed",
                changed_field=self._label(key),
                old_value=before[key],
                new_value=value,
            )

    def _label(self, key: str) -> str:
        f = self.lc.form.field(key)
        return f.label if f else key

    async def add_comment(self, actor: str, text: str, *, to_customer: bool = False) -> None:
        self.session.add(
            Comment(
                complaint_id=self.complaint.id,
                author=actor,
                text=text,
                to_customer=to_customer,
                created_at=self.now,
            )
        )
        kind = "reply" if to_customer else "comment"
        self.note(kind, f"{'回复客户' if to_customer else '评论'}：{text}", actor=actor)
        if to_customer:
            self.notices.customer_later(
                self.lc, f"关于投诉 {self.complaint.number} 的回复：{text}", via_note=True
            )
        self.event("comment.added", comment=text)

    def _subject(self, subject: str) -> str:
        return f"{self.complaint.number}:{subject}"

    async def _timer(self, e: fx.TimerRequested) -> None:
        """A due time counted from the step's start; a re-request (after 延期) re-arms the row."""
        subject = self._subject(e.subject)
        step_id, _, activation = e.subject.rpartition(":")
        started = next(
            (
                v.entered_at
                for v in self.lc.state.history
                if v.step_id == step_id and str(v.activation) == activation
            ),
            self.now,
        )
        due = self.rt.calendar.add(started, e.after)
        made = self._rows_made()
        if made is not None:
            timer = made.get(("timer", f"{subject}\x00{e.level}"))
        else:
            timer = await self.session.scalar(
                select(Timer).where(Timer.subject == subject, Timer.level == e.level)
            )
        if timer is None:
            timer = Timer(
                complaint_id=self.complaint.id,
                subject=subject,
                step_id=e.step_id,
                level=e.level,
                due_at=due,
                status="pending",
            )
            self.session.add(timer)
            if made is not None:
                made[("timer", f"{subject}\x00{e.level}")] = timer
        else:
            timer.due_at, timer.status, timer.fired_at = due, "pending", None

    async def _extend(self, e: fx.DeadlineExtended) -> None:
        # The engine re-requests the step's timers shifted by the extension; this is the record.
        from bot.expr import duration_in_chinese

        self.note(
            "extended",
            f"延期 {duration_in_chinese(e.extend_by)}" + (f"：{e.reason}" if e.reason else ""),
            actor=f"person:{e.by}",
        )

    # --- rules -------------------------------------------------------------------------------

    async def run_rules(self, rules_engine: Any, listeners: Sequence[Any] = ()) -> None:
        """Evaluate the collected events (and the events rules cause, a few rounds deep).

        Each `listener(change, event, env)` hears every event after the rules did.
        """
        for _round in range(MAX_RULE_ROUNDS):
            events, self.events = self.events, []
            if not events:
                return
            for name, extra in events:
                env = condition_env(
                    self.rt,
                    self.complaint,
                    self.lc.values,
                    now=self.now,
                    event=name,
                    actor=self.actor,
                    extra=extra,
                )
                await rules_engine.run(self, name, env)
                for listener in listeners:
                    await listener(self, name, env)
        if self.events:
            self.note("note", "规则连锁触发过多，已停止继续执行", actor="system")
            log.warning(
                "complaint %s: rules still firing after %d rounds",
                self.complaint.number,
                MAX_RULE_ROUNDS,
            )
            self.events = []

    # --- finish ------------------------------------------------------------------------------

    async def finish(self) -> None:
        """Send new cards and refresh every card the change touched; queue customer notices."""
        p = self.pending
        for task_id, people in p.new.items():
            for person in dict.fromkeys(people):
                record = await self.cards.send(self.session, self.lc, task_id, person, now=self.now)
                if record is not None:
                    p.skip.add(record.id)
        for task_id, line in p.closed.items():
            await self.cards.refresh_task(
                self.session,
                self.lc,
                task_id,
                now=self.now,
                outcomes=p.outcomes.get(task_id),
                default_outcome=line,
                skip=p.skip,
            )
            p.touched.discard(task_id)
        for task_id in p.touched:
            await self.cards.refresh_task(
                self.session,
                self.lc,
                task_id,
                now=self.now,
                outcomes=p.outcomes.get(task_id),
                skip=p.skip,
                escalation_outcome=p.escalations.get(task_id),
            )
        await self.notices.flush(self.session, self.lc, now=self.now)
