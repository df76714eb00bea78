"""Employees in WeCom, DingTalk and the playground: card clicks, chat commands and comments."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards.build import ACTION_LABELS, ACTION_VERBS, CARD_ONLY_ACTIONS, card_ref
from bot.cards.model import card_as_text
from bot.channels.base import CardClick, InboundMessage
from bot.errors import ActionRefused, NotFound
from bot.expr import parse_duration
from bot.forms import FormContext, dump_values, load_values, parse_answer
from bot.service.card_desk import SETTLED_DEFAULT
from bot.service.complaints import ComplaintService
from bot.service.inbound import run_after_commit
from bot.service.loaded import LoadedComplaint, load_complaint
from bot.service.outbox import queue_message
from bot.service.sla import SlaService
from bot.workflow import Action, ActionKind, available_actions
from bot.workflow.assignees import resolve_all
from storage.models import (
    CardMessage,
    Complaint,
    Conversation,
    OutboxMessage,
    Timer,
    WorkflowTask,
)

log = logging.getLogger(__name__)

NUMBER = r"[A-Z]{1,6}\d{8}-\d{4,}"
VERB_ACTIONS = {verb: action for action, verb in ACTION_VERBS.items()}
VERB_ACTIONS.update({label: action for action, (label, _style) in ACTION_LABELS.items()})
COMMAND = re.compile(
    rf"^\s*(?P<verb>{'|'.join(sorted(VERB_ACTIONS, key=len, reverse=True))})"
    rf"\s*(?P<number>{NUMBER})?\s*(?P<rest>.*)$",
    re.S,
)
QUERY = re.compile(rf"^\s*(查询|查看)\s*(?P<number>{NUMBER})\s*$")
TODO = re.compile(r"^\s*(我的待办|待办|我的任务)\s*$")
REPORT = re.compile(r"^\s*(?P<what>本周报表|周报|本月报表|月报)\s*$")
TO_CUSTOMER = re.compile(r"^\s*(回复客户[:：\s]|回复[:：])\s*(?P<text>.+)$", re.S)
FIELD_LINE = re.compile(r"^\s*(?P<name>[^:：\n]{1,20})[:：]\s*(?P<value>.+)$", re.S)

NO_CUSTOMER = "这件投诉没有关联可联系的客户，消息发不到客户。"
READ_ONLY_NOTICE = "您不是当前处理人，仅供查看"
# Inputs that are never form fields: what a click carries besides the step's fields.
NON_FIELD_INPUTS = ("reason", "comment", "question", "extend_by")
# What the customer is asked when the clock stops for them (their answer restarts it).
ASK_CUSTOMER = "为了继续处理，请您补充：{question}。直接回复这条消息即可。"
ASK_CUSTOMER_DEFAULT = (
    "为了继续处理，请您补充相关信息（如照片、订单号、具体经过），直接回复这条消息即可。"
)
REPORTS_FOR_SUPERVISORS = "报表只发给部门负责人和主管；如需查看，请联系您的负责人。"
NOT_YOUR_CARD = "这张卡片不是发给您的，操作未生效。"
UNKNOWN_PERSON = "您还不在投诉处理人员名单中，请联系管理员把您的账号加入配置。"
HELP = (
    "可以这样使用：\n我的待办 —— 查看待处理的投诉\n查询 TS20261123-0001 —— 查看一件投诉\n"
    "解决方案：…… —— 填写当前步骤的字段，点“提交”时一起提交\n回复客户：…… —— 给客户发消息\n"
    "等待客户补充 TS20261123-0001 需要的信息 —— 请客户补充，计时暂停\n"
    "其他文字会作为评论记在最近一张卡片的投诉上。"
)


class StaffDesk:
    def __init__(self, complaints: ComplaintService, sla: SlaService, digests: Any = None):
        self.complaints = complaints
        self.sla = sla
        self.digests = digests
        self.rt = complaints.rt

    def _may_see_reports(self, person: str) -> bool:
        """Reports cover every department: for department heads and the flows' supervisors."""
        directory = self.rt.config.directory
        if any(d.head == person for d in directory.departments.values()):
            return True
        return any(
            person in resolve_all(flow.supervisors or (), directory, None)
            for flow in self.rt.config.flows.values()
        )

    # --- card clicks -------------------------------------------------------------------------

    async def click(self, session: AsyncSession, click: CardClick) -> str | None:
        record = await session.scalar(
            select(CardMessage).where(
                CardMessage.channel == click.channel, CardMessage.card_ref == click.card_ref
            )
        )
        if record is None:
            log.warning("click on unknown card %s on %s", click.card_ref, click.channel)
            return None
        now = self.rt.now()
        person = self.rt.routing.person_for(click.channel, click.sender)
        if person != record.person_id:
            # The card is someone else's (forwarded, or a forged id): their card stays as it is,
            # and the click's single-use ResponseCode is not theirs to keep. Tell the clicker.
            await queue_message(
                session,
                key=f"refused:{click.channel}:{click.dedupe_key}",
                kind="text",
                channel=click.channel,
                target=f"user:{click.sender}",
                payload={"text": NOT_YOUR_CARD},
                now=now,
            )
            return None
        self.complaints.cards.keep_response_code(record, click.response_code, now)
        complaint = await session.get(Complaint, record.complaint_id)
        assert complaint is not None
        try:
            if click.action in CARD_ONLY_ACTIONS:
                await self._card_only(session, record, complaint.number, click, now)
                return None
            action = await self._action_from_click(session, record, complaint.number, click, now)
            await self.complaints.act(
                session,
                complaint.number,
                action,
                now=now,
                before_finish=self._forget_drafts(session, click, record),
            )
        except ActionRefused as exc:
            await self._refuse(session, complaint.number, record, exc.reason, now)
        return None

    async def _card_only(
        self,
        session: AsyncSession,
        record: CardMessage,
        number: str,
        click: CardClick,
        now: datetime,
    ) -> None:
        """评论, 回复客户 and 等待客户补充 from a card: done here, then the card says so."""
        if record.settled:
            raise ActionRefused("这张卡片已处理完毕，请在对话里发“评论 编号 内容”")
        person = record.person_id
        text = (click.inputs.get("comment") or "").strip()
        if click.action == "wait_customer":
            question = click.inputs.get("question") or ""
            lc = await self.wait_for_customer(session, number, person, record.task_id, question)
            await self.complaints.cards.update(
                session, lc, record, now=now, notice="已请客户补充，计时已暂停"
            )
            await self.complaints.cards.refresh_task(
                session, lc, record.task_id, now=now, skip={record.id}
            )
            return
        if click.action == "reply_customer":
            if not text:
                raise ActionRefused("请先写下要回复客户的话")
            lc = await self.reply_to_customer(session, number, person, text)
            notice = "已回复客户"
        else:
            if not text:
                raise ActionRefused("请先写下评论内容")
            lc = await self.complaints.comment(session, number, actor=f"person:{person}", text=text)
            notice = "已记为评论"
        await self.complaints.cards.update(session, lc, record, now=now, notice=notice)

    async def reply_to_customer(
        self, session: AsyncSession, number: str, person: str, text: str
    ) -> LoadedComplaint:
        """A comment sent to the complaint's customer; ActionRefused when nobody can get it."""
        complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
        if complaint is None:
            raise ActionRefused(f"没有找到投诉 {number}")
        if complaint.customer_id is None:
            raise ActionRefused(NO_CUSTOMER)
        return await self.complaints.comment(
            session, number, actor=f"person:{person}", text=text, to_customer=True
        )

    async def wait_for_customer(
        self, session: AsyncSession, number: str, person: str, task_id: str | None, question: str
    ) -> LoadedComplaint:
        """Stop the step's clock and ask the customer; their next message restarts it.

        Only the holder of an accepted task may, and only while the step's clock runs (paused
        timers are what routes the customer's answer back to this complaint).
        """
        lc = await load_complaint(session, self.rt, number=number)
        task = lc.state.task(task_id) if task_id else None
        if task is None:
            task = next((t for t in lc.state.tasks if t.assignee == person and t.accepted), None)
        if task is None or not (task.accepted and task.assignee == person):
            raise ActionRefused("只有已受理的处理人可以请客户补充")
        if lc.complaint.customer_id is None:
            raise ActionRefused(NO_CUSTOMER)
        timers = select(Timer.status).where(Timer.complaint_id == lc.complaint.id)
        statuses = set((await session.scalars(timers)).all())
        if "paused" in statuses:
            raise ActionRefused("已在等待客户补充")
        if "pending" not in statuses:
            raise ActionRefused("这一步没有在计时（没有时限或已超时），可以用“回复客户”询问客户")
        question = question.strip().rstrip("。.")
        await self.sla.pause(session, number, actor=f"person:{person}", reason=question)
        ask = ASK_CUSTOMER.format(question=question) if question else ASK_CUSTOMER_DEFAULT
        return await self.complaints.comment(
            session, number, actor=f"person:{person}", text=ask, to_customer=True
        )

    def _forget_drafts(self, session: AsyncSession, click: CardClick, record: CardMessage) -> Any:
        async def hook(change: Any) -> None:
            if click.action == "submit":
                await self._set_drafts(session, click.channel, click.sender, change.lc.number, None)
            if click.action == "assign_department":
                # When no task follows the department, nothing else refreshes the card: it
                # shows the move (timeline, the new department chosen) all the same.
                change.pending.touched.add(record.task_id)

        return hook

    async def _refuse(
        self, session: AsyncSession, number: str, record: CardMessage, reason: str, now: datetime
    ) -> None:
        """Say why on the clicked card; nothing else changes.

        A card already settled stays settled with the outcome it showed: a stale click on it must
        not bring back buttons (a supervisor could otherwise act from a card that said "done").
        """
        lc = await load_complaint(session, self.rt, number=number)
        outcome = await self._shown_outcome(session, record) if record.settled else None
        await self.complaints.cards.update(
            session, lc, record, now=now, notice=reason, outcome=outcome
        )

    async def _shown_outcome(self, session: AsyncSession, record: CardMessage) -> str:
        """The outcome line the card's latest version shows (from its queued payload)."""
        key = f"card:{record.channel}:{record.card_ref}:v{record.version}"
        payload = await session.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.idempotency_key == key)
        )
        shown = ((payload or {}).get("card") or {}).get("outcome")
        return shown or SETTLED_DEFAULT

    async def _action_from_click(
        self,
        session: AsyncSession,
        record: CardMessage,
        number: str,
        click: CardClick,
        now: datetime,
    ) -> Action:
        kind = _action_kind(click.action)
        target = next(iter(click.selections.get("assignee", ())), None)
        department = next(iter(click.selections.get("department", ())), None)
        values: dict[str, Any] = {}
        text = (click.inputs.get("reason") or click.inputs.get("comment") or "").strip()
        extend_by = None
        if kind == ActionKind.EXTEND:
            raw = click.inputs.get("extend_by", "").strip() or "4h"
            try:
                extend_by = parse_duration(raw)
            except ValueError:
                raise ActionRefused(f"延期时长“{raw}”看不懂，请写成 4h、1d 这样") from None
        if kind == ActionKind.SUBMIT:
            lc = await load_complaint(session, self.rt, number=number)
            drafts = await self._drafts(session, click.channel, click.sender, number, lc)
            inputs = {k: v for k, v in click.inputs.items() if k not in NON_FIELD_INPUTS}
            values = {**drafts, **self._parse_fields(lc, inputs, now)}
        if kind in (ActionKind.TRANSFER, ActionKind.REASSIGN) and not target:
            raise ActionRefused("请先选择要转派给谁")
        if kind == ActionKind.ASSIGN_DEPARTMENT:
            if not department:
                raise ActionRefused("请先选择要转到哪个部门")
            department = self._department_named(department) or department
        return Action(
            kind=kind,
            actor=record.person_id,
            task_id=record.task_id,
            target=department if kind == ActionKind.ASSIGN_DEPARTMENT else target,
            values=values,
            text=text,
            extend_by=extend_by,
        )

    def _parse_fields(
        self, lc: LoadedComplaint, raw: Mapping[str, str], now: datetime
    ) -> dict[str, Any]:
        ctx = FormContext(now, self.rt.tz, directory=self.rt.config.directory)
        out: dict[str, Any] = {}
        for name, text in raw.items():
            if not str(text).strip():
                continue
            field = lc.form.field(name)
            if field is None:
                continue
            value, problem = parse_answer(lc.form, field.key, text, ctx)
            if problem is not None:
                raise ActionRefused(f"{problem.label}：{problem.message}")
            out[field.key] = value
        return out

    # --- drafts: field values typed in chat for the next 提交 ----------------------------------

    async def _conversation(self, session: AsyncSession, channel: str, user: str) -> Conversation:
        row = await session.scalar(
            select(Conversation).where(
                Conversation.channel == channel, Conversation.user_id == user
            )
        )
        if row is None:
            row = Conversation(channel=channel, user_id=user, state={}, updated_at=self.rt.now())
            session.add(row)
        return row

    async def _drafts(
        self, session: AsyncSession, channel: str, user: str, number: str, lc: LoadedComplaint
    ) -> dict[str, Any]:
        row = await self._conversation(session, channel, user)
        stored = (row.state or {}).get("drafts", {}).get(number, {})
        return load_values(lc.form, stored)

    async def _set_drafts(
        self, session: AsyncSession, channel: str, user: str, number: str, values: dict | None
    ) -> None:
        row = await self._conversation(session, channel, user)
        drafts = dict((row.state or {}).get("drafts", {}))
        if values:
            drafts[number] = values
        else:
            drafts.pop(number, None)
        row.state = {**(row.state or {}), "drafts": drafts}
        row.updated_at = self.rt.now()

    # --- chat messages -----------------------------------------------------------------------

    async def message(self, session: AsyncSession, msg: InboundMessage) -> str | None:
        person = self.rt.routing.person_for(msg.channel, msg.sender)
        if person is None:
            return UNKNOWN_PERSON
        text = msg.text.strip()
        if msg.kind != "text" or not text:
            return "目前只能处理文字消息。" + "\n" + HELP
        if text in ("帮助", "help", "?", "？"):
            return HELP
        if TODO.match(text):
            return await self._todo(session, person)
        if m := REPORT.match(text):
            kind = "month" if "月" in m["what"] else "week"
            if self.digests is None:
                return "报表功能未开启。"
            if not self._may_see_reports(person):
                return REPORTS_FOR_SUPERVISORS
            digests = self.digests
            run_after_commit(session, lambda: digests.send_to_person(person, kind))
            return f"正在生成{'本月' if kind == 'month' else '本周'}报表，稍后发给您。"
        if m := QUERY.match(text):
            return await self._query(session, person, m["number"])
        if m := COMMAND.match(text):
            if m["number"] or m["verb"] in ("评论", "等待客户补充"):
                return await self._command(session, msg, person, m)
        latest = await self._latest_card(session, person)
        if latest is None:
            return "您目前没有待处理的投诉卡片。" + "\n" + HELP
        complaint = await session.get(Complaint, latest.complaint_id)
        assert complaint is not None
        if m := TO_CUSTOMER.match(text):
            try:
                await self.reply_to_customer(session, complaint.number, person, m["text"].strip())
            except ActionRefused as exc:
                return f"未能回复客户（投诉 {complaint.number}）：{exc.reason}"
            return f"已回复客户（投诉 {complaint.number}）。"
        if m := FIELD_LINE.match(text):
            saved = await self._draft_field(session, msg, person, complaint.number, m)
            if saved:
                return saved
        await self.complaints.comment(
            session, complaint.number, actor=f"person:{person}", text=text
        )
        return f"已记为投诉 {complaint.number} 的评论。"

    async def _draft_field(
        self, session: AsyncSession, msg: InboundMessage, person: str, number: str, m: re.Match
    ) -> str | None:
        lc = await load_complaint(session, self.rt, number=number)
        field = lc.form.field(m["name"].strip())
        if field is None:
            return None
        writable = {
            lc.form.field(n).key if lc.form.field(n) else n
            for t in lc.state.tasks
            if t.may_take(person)
            for n in getattr(lc.flow.step(t.step_id), "write", [])
        }
        if field.key not in writable:
            return f"当前步骤不能由您填写“{field.label}”。"
        value, problem = parse_answer(
            lc.form,
            field.key,
            m["value"].strip(),
            FormContext(self.rt.now(), self.rt.tz, directory=self.rt.config.directory),
        )
        if problem is not None:
            return f"{problem.label}：{problem.message}"
        drafts = await self._drafts(session, msg.channel, msg.sender, number, lc)
        drafts[field.key] = value
        await self._set_drafts(
            session, msg.channel, msg.sender, number, dump_values(lc.form, drafts)
        )
        return f"已记下“{field.label}”，点卡片上的“提交”时一起提交（投诉 {number}）。"

    async def _command(
        self, session: AsyncSession, msg: InboundMessage, person: str, m: re.Match
    ) -> str:
        action_name = VERB_ACTIONS[m["verb"]]
        rest = (m["rest"] or "").strip().lstrip(":：").strip()
        number = m["number"]
        if number is None:
            latest = await self._latest_card(session, person)
            if latest is None:
                return "请写上投诉编号，例如：评论 TS20261123-0001 已联系客户"
            number = (await session.get(Complaint, latest.complaint_id)).number  # type: ignore[union-attr]
        if action_name in ("comment", "reply_customer") and not rest:
            return f"请写上内容，例如：{m['verb']} {number} 已联系物流加急"
        if action_name == "comment":
            await self.complaints.comment(session, number, actor=f"person:{person}", text=rest)
            return f"已记为投诉 {number} 的评论。"
        if action_name in ("reply_customer", "wait_customer"):
            try:
                if action_name == "reply_customer":
                    await self.reply_to_customer(session, number, person, rest)
                    return f"已回复客户（投诉 {number}）。"
                await self.wait_for_customer(session, number, person, None, rest)
            except ActionRefused as exc:
                return f"未能{ACTION_VERBS[action_name]}：{exc.reason}"
            return f"已请客户补充信息，投诉 {number} 的计时已暂停，客户回复后恢复。"
        try:
            lc = await load_complaint(session, self.rt, number=number)
        except NotFound as exc:
            return str(exc)
        kind = _action_kind(action_name)
        ctx = lc.flow_context(self.rt, self.rt.now())
        options = available_actions(lc.flow, lc.state, person, ctx)
        task_id = next((t for t, acts in options.items() if kind in acts), None)
        if task_id is None and lc.state.tasks:
            task_id = lc.state.tasks[0].task_id
        target, extend_by, values = None, None, {}
        if kind in (ActionKind.TRANSFER, ActionKind.REASSIGN):
            target = self._person_named(rest)
            if target is None:
                return f"没有找到“{rest}”，请写同事的姓名，例如：转派 {number} 李四"
        if kind == ActionKind.ASSIGN_DEPARTMENT:
            target = self._department_named(rest.split()[0] if rest.split() else "")
            if target is None:
                named = f"没有找到部门“{rest}”，" if rest else ""
                return f"{named}请写上部门名称，例如：转部门 {number} 物流部"
        if kind == ActionKind.EXTEND:
            duration, _, rest = rest.partition(" ")
            try:
                extend_by = parse_duration(duration or "4h")
            except ValueError:
                return "延期时长请写成 4h、1d 这样，例如：延期 TS20261123-0001 4h 等待配件"
        if kind == ActionKind.SUBMIT:
            values = await self._drafts(session, msg.channel, msg.sender, number, lc)
        try:
            await self.complaints.act(
                session,
                number,
                Action(
                    kind,
                    person,
                    task_id=task_id,
                    target=target,
                    values=values,
                    text=rest,
                    extend_by=extend_by,
                ),
            )
        except ActionRefused as exc:
            return f"未能{ACTION_VERBS.get(action_name, action_name)}：{exc.reason}"
        if kind == ActionKind.SUBMIT:
            await self._set_drafts(session, msg.channel, msg.sender, number, None)
        return f"已{ACTION_VERBS.get(action_name, action_name)}投诉 {number}。"

    def _person_named(self, text: str) -> str | None:
        words = text.split()
        if not words:
            return None
        for person in self.rt.config.directory.people.values():
            if words[0] in (person.name, person.id):
                return person.id
        return None

    def _department_named(self, text: str) -> str | None:
        """A department id from its id or name (card options may carry either)."""
        departments = self.rt.config.directory.departments
        if text in departments:
            return text
        return next((d.id for d in departments.values() if d.name == text), None)

    async def _latest_card(self, session: AsyncSession, person: str) -> CardMessage | None:
        return await session.scalar(
            select(CardMessage)
            .where(CardMessage.person_id == person)
            .order_by(CardMessage.updated_at.desc(), CardMessage.id.desc())
            .limit(1)
        )

    async def _todo(self, session: AsyncSession, person: str) -> str:
        rows = (
            await session.execute(
                select(Complaint.number, WorkflowTask.task_key)
                .join(Complaint, Complaint.id == WorkflowTask.complaint_id)
                .where(
                    WorkflowTask.assignee == person, WorkflowTask.state.in_(("open", "accepted"))
                )
                .order_by(Complaint.created_at)
            )
        ).all()
        if not rows:
            return "您目前没有待办投诉。"
        now = self.rt.now()
        for number, task_key in rows:
            lc = await load_complaint(session, self.rt, number=number)
            await self.complaints.cards.send(
                session, lc, task_key.rpartition("/")[0], person, now=now
            )
        numbers = "、".join(dict.fromkeys(n for n, _ in rows))
        return f"您有 {len(set(n for n, _ in rows))} 件待办：{numbers}，卡片已发给您。"

    async def _query(self, session: AsyncSession, person: str, number: str) -> str:
        try:
            lc = await load_complaint(session, self.rt, number=number)
        except NotFound as exc:
            return str(exc)
        now = self.rt.now()
        mine = [t.task_id for t in lc.state.tasks if t.may_take(person)]
        if mine:
            await self.complaints.cards.send(session, lc, mine[0], person, now=now)
            return f"投诉 {number} 的卡片已发给您。"
        route = self.rt.routing.person(person)
        # A fresh ref each time: the card is a snapshot with no buttons, never updated later.
        ref = card_ref(route.channel if route else "-", number, f"query:{now.isoformat()}", person)
        card = await self.complaints.cards.build_card(
            session,
            lc,
            ref=ref,
            task_id=lc.state.tasks[0].task_id if lc.state.tasks else "-",
            person=person,
            kind="task",
            now=now,
        )
        card = replace(card, actions=(), selects=(), inputs=())
        if not card.settled:
            card = card.with_notice(READ_ONLY_NOTICE)
        if route is None:
            return card_as_text(card)
        await queue_message(
            session,
            key=f"card:{route.channel}:{ref}:v1",
            kind="card",
            channel=route.channel,
            target=route.target,
            payload={"card": card.to_dict()},
            now=now,
            complaint_id=lc.complaint.id,
        )
        return f"投诉 {number} 的卡片已发给您（仅供查看）。"


def _action_kind(name: str) -> ActionKind:
    try:
        return ActionKind(name)
    except ValueError:
        raise ActionRefused(f"不认识的操作“{name}”") from None
