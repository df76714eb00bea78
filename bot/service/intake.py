"""Customers in chat (WeChat OA, the playground): intake dialog, progress queries, survey answers.

The dialog itself is pure (bot/conversation); this module loads and stores its state, turns
intents into complaints and answers, and keeps the customer's profile so known details are not
asked twice. Everything happens in the inbound event's transaction, so the passive reply is the
one the first delivery computed.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import InboundMessage
from bot.conversation import (
    CustomerInput,
    DialogState,
    DialogStateError,
    ProgressQuery,
    Submit,
    parse_survey_answer,
    step,
    submitted_message,
)
from bot.domain.complaint import long_time, status_label
from bot.errors import ActionRefused
from bot.forms import FormContext
from bot.service.complaints import ComplaintService, FormRejected, customer_profile
from bot.service.customer_links import FORM_LINK_LIFETIME, complaint_news, form_url
from bot.service.outbox import queue_message
from bot.service.sla import SlaService
from bot.service.views import step_name, timeline_lines
from bot.workflow.definition import ParallelStep, TaskStep
from storage.models import Attachment, Complaint, Conversation, Customer

log = logging.getLogger(__name__)

MEDIA_KINDS = ("image", "voice", "video", "file")
PROGRESS_LINES = 8
# Menu click keys (bot/channels/wechat_oa/menu.py) and the words the dialog understands for them.
MENU_WORDS = {"COMPLAIN": "投诉", "PROGRESS": "进度", "HELP": "帮助"}
# 在线填表: WeChat cannot put a per-customer token into a static menu URL (that takes OAuth),
# so the menu button is a click and the answer carries the customer's signed form link.
FORM_KEYS = frozenset({"FORM", "在线填表"})
# Platforms whose customers get a complaint's card as a news (图文) link to its page.
NEWS_PLATFORMS = ("wechat_oa",)
# session.info key: ids of the customers created in this transaction (they have no complaints).
NEW_CUSTOMERS = "new_customers"

_TURN_LOCK = select(func.pg_advisory_xact_lock(bindparam("key", type_=BigInteger())))
_ANCHOR = select(literal(1).label("one")).subquery("anchor")
# The sender and their conversation in one statement, built once; either may be missing.
_CUSTOMER_AND_CONVERSATION = (
    select(Customer, Conversation)
    .select_from(_ANCHOR)
    .outerjoin(
        Customer,
        (Customer.channel == bindparam("channel")) & (Customer.external_id == bindparam("user")),
    )
    .outerjoin(
        Conversation,
        (Conversation.channel == bindparam("channel"))
        & (Conversation.user_id == bindparam("user")),
    )
)


class CustomerIntake:
    def __init__(self, complaints: ComplaintService, sla: SlaService, *, idle_timeout: timedelta):
        self.complaints = complaints
        self.sla = sla
        self.rt = complaints.rt
        self.idle_timeout = idle_timeout

    async def handle(self, session: AsyncSession, msg: InboundMessage) -> str | None:
        """One customer message in; the reply text out (None: nothing to say)."""
        now = self.rt.now()
        if msg.kind in ("subscribe",):
            return "您好，欢迎关注！如需投诉请回复“投诉”，查询进度请回复“进度”。"
        if msg.kind == "unsubscribe":
            return None
        customer, conv = await self._customer_and_conversation(session, msg)
        if msg.kind == "click" and msg.text.strip().upper() in FORM_KEYS:
            return self._form_link(customer, now)
        doc: dict[str, Any] = dict(conv.state or {})
        dialog = self._dialog(doc)
        replies: list[str] = []

        survey_number = doc.get("survey")
        if survey_number and dialog is None and msg.kind == "text":
            answer = parse_survey_answer(msg.text)
            if answer is not None:
                doc.pop("survey", None)
                self._save(conv, doc, None, now)
                return await self._answer_survey(session, survey_number, answer, msg.channel)

        if dialog is None and await self._resume_paused(session, customer, msg):
            return "已收到您补充的信息，我们会继续处理。"

        form = self.rt.config.form_of(self.rt.config.intake_flow)
        ctx = FormContext(now, self.rt.tz, customer_profile(customer), self.rt.config.directory)
        turn = step(
            form, dialog, await self._input(session, msg), ctx, idle_timeout=self.idle_timeout
        )
        replies.extend(turn.replies)
        state = turn.state
        if isinstance(turn.intent, Submit):
            try:
                complaint = await self._submit(session, customer, msg.channel, turn.intent)
                replies.append(submitted_message(complaint.number, self._response_time()))
                await self._queue_card(session, customer, complaint, key=msg.dedupe_key)
            except FormRejected as exc:
                # The dialog validated each answer; this is a form rule across fields.
                replies.append(f"提交未成功：{exc}。请回复“修改”更正后再提交。")
                state = dialog
        elif isinstance(turn.intent, ProgressQuery):
            text, shown = await self._progress(session, customer, turn.intent.number)
            replies.append(text)
            for complaint in shown:
                await self._queue_card(session, customer, complaint, key=msg.dedupe_key)
        self._save(conv, doc, state, now)
        return "\n\n".join(r for r in replies if r) or None

    # --- pieces ------------------------------------------------------------------------------

    async def submit_form(
        self, session: AsyncSession, customer: Customer, values: dict[str, Any], *, dedupe_key: str
    ) -> Complaint:
        """The web intake form's submission: the same complaint, profile update and card as chat.

        Media are attachment references inside `values`. FormRejected when the values do not
        fill the form (the caller's transaction is then rolled back).
        """
        await self.take_turn(session, customer.channel, customer.external_id or "")
        complaint = await self._submit(session, customer, customer.channel, Submit(values=values))
        await self._queue_card(session, customer, complaint, key=dedupe_key)
        # A chat intake left open would ask for what the form just gave: end it.
        conv = await session.scalar(
            select(Conversation).where(
                Conversation.channel == customer.channel,
                Conversation.user_id == customer.external_id,
            )
        )
        if conv is not None and (conv.state or {}).get("dialog"):
            self._save(conv, dict(conv.state), None, self.rt.now())
        return complaint

    async def survey_answered(self, session: AsyncSession, customer: Customer, number: str) -> None:
        """The customer rated `number` elsewhere (their page): their next chat is not a score."""
        await self.take_turn(session, customer.channel, customer.external_id or "")
        conv = await session.scalar(
            select(Conversation).where(
                Conversation.channel == customer.channel,
                Conversation.user_id == customer.external_id,
            )
        )
        if conv is not None and (conv.state or {}).get("survey") == number:
            doc = dict(conv.state)
            doc.pop("survey", None)
            conv.state = doc

    def _form_link(self, customer: Customer, now: Any) -> str:
        url = form_url(
            self.rt.public_base_url, self.rt.link_secret, customer_id=customer.id, now=now
        )
        days = FORM_LINK_LIFETIME.days
        link = f'<a href="{url}">在线填表</a>'
        return f"请点击填写投诉表：{link}\n（链接{days}天内有效，仅限本人使用）"

    async def _queue_card(
        self, session: AsyncSession, customer: Customer, complaint: Complaint, *, key: str
    ) -> None:
        """The complaint's card as a news link to its page, after the reply (WeChat customers)."""
        route = self.rt.routing.customer(customer.channel, customer.external_id or "")
        if route is None or route.platform not in NEWS_PLATFORMS:
            return
        flow = self.rt.config.flows[complaint.flow]
        payload = complaint_news(
            self.rt.public_base_url,
            self.rt.link_secret,
            number=complaint.number,
            customer_id=customer.id,
            status=complaint.status,
            status_text=status_label(complaint.status),
            step=step_name(flow, complaint.current_step),
            now=self.rt.now(),
        )
        await queue_message(
            session,
            key=f"news:{customer.channel}:{key}:{complaint.number}",
            kind="news",
            channel=route.channel,
            target=route.target,
            payload=payload,
            now=self.rt.now(),
            complaint_id=complaint.id,
        )

    async def _customer_and_conversation(
        self, session: AsyncSession, msg: InboundMessage
    ) -> tuple[Customer, Conversation]:
        """The sender and their conversation (created on first contact), read in one query.

        One customer's messages take turns (on PostgreSQL; SQLite has one writer anyway): two
        messages sent close together would otherwise both read the same dialog state, and the
        later commit would silently undo the earlier answer.
        """
        await self.take_turn(session, msg.channel, msg.sender)
        # Both outer-joined to one row of nothing: a conversation may predate the customer record.
        row = (
            await session.execute(
                _CUSTOMER_AND_CONVERSATION, {"channel": msg.channel, "user": msg.sender}
            )
        ).first()
        customer, conv = (row[0], row[1]) if row is not None else (None, None)
        now = self.rt.now()
        if customer is None:
            customer = Customer(
                channel=msg.channel,
                external_id=msg.sender,
                profile={},
                created_at=now,
                updated_at=now,
                name=msg.sender_name or None,
            )
            session.add(customer)
            await session.flush()
            session.info.setdefault(NEW_CUSTOMERS, set()).add(customer.id)
        if conv is None:
            conv = Conversation(channel=msg.channel, user_id=msg.sender, state={}, updated_at=now)
            session.add(conv)
        return customer, conv

    async def take_turn(self, session: AsyncSession, channel: str, user: str) -> None:
        """Wait for this customer's other transactions (PostgreSQL; held until commit)."""
        if self.rt.db.dialect != "postgresql":
            return
        digest = hashlib.blake2b(f"{channel}\x00{user}".encode(), digest_size=8).digest()
        key = int.from_bytes(digest, "big", signed=True)
        await session.execute(_TURN_LOCK, {"key": key})

    def _dialog(self, doc: dict[str, Any]) -> DialogState | None:
        if not doc.get("dialog"):
            return None
        try:
            return DialogState.from_dict(doc["dialog"])
        except DialogStateError as exc:
            log.warning("dropping unreadable dialog state: %s", exc)
            return None

    def _save(
        self, conv: Conversation, doc: dict[str, Any], state: DialogState | None, now: Any
    ) -> None:
        doc["dialog"] = state.to_dict() if state is not None else None
        conv.state = doc
        conv.updated_at = now
        conv.expires_at = now + self.idle_timeout if state is not None else None

    async def _input(self, session: AsyncSession, msg: InboundMessage) -> CustomerInput:
        attachment_id = None
        if msg.kind in MEDIA_KINDS and msg.media_id:
            attachment = Attachment(
                channel=msg.channel,
                media_id=msg.media_id,
                kind=msg.kind,
                meta={"recognition": msg.text} if msg.kind == "voice" and msg.text else {},
                created_at=self.rt.now(),
            )
            session.add(attachment)
            await session.flush()
            attachment_id = str(attachment.id)
        location = None
        if msg.location is not None:
            location = {
                "lat": msg.location.latitude,
                "lng": msg.location.longitude,
                "label": msg.location.label,
            }
        kind = (
            msg.kind
            if msg.kind in ("text", "image", "voice", "video", "location", "file", "click")
            else "text"
        )
        text = msg.text if msg.kind != "voice" else ""
        if msg.kind == "click":
            text = MENU_WORDS.get(text.strip().upper(), text)
        return CustomerInput(
            kind=kind,  # type: ignore[arg-type]
            text=text,
            media_id=msg.media_id,
            attachment_id=attachment_id,
            location=location,
            recognition=msg.text if msg.kind == "voice" else None,
        )

    async def _submit(
        self, session: AsyncSession, customer: Customer, channel: str, intent: Submit
    ) -> Complaint:
        lc = await self.complaints.create(
            session, values=intent.values, channel=channel, actor="customer", customer=customer
        )
        ids = _attachment_ids(intent)
        if ids:
            for attachment in (
                await session.scalars(select(Attachment).where(Attachment.id.in_(ids)))
            ).all():
                attachment.complaint_id = lc.complaint.id
        values = lc.values
        customer.name = str(values.get("customer_name") or customer.name or "") or None
        customer.phone = str(values.get("phone") or customer.phone or "") or None
        customer.customer_no = str(values.get("customer_no") or customer.customer_no or "") or None
        customer.updated_at = self.rt.now()
        return lc.complaint

    def _response_time(self) -> timedelta | None:
        """The first human step's time limit: what we promise the customer."""
        flow = self.rt.config.flows[self.rt.config.intake_flow]
        for s in flow.steps:
            if isinstance(s, TaskStep | ParallelStep) and s.time_limit:
                return s.durations()[0]
        return None

    async def progress(self, session: AsyncSession, customer: Customer, number: str | None) -> str:
        """Open complaints with status and step, or one complaint's story in plain words."""
        return (await self._progress(session, customer, number))[0]

    async def _progress(
        self, session: AsyncSession, customer: Customer, number: str | None
    ) -> tuple[str, list[Complaint]]:
        """The progress answer, and the complaints whose card goes with it."""
        if number is not None:
            complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
            if complaint is None or complaint.customer_id != customer.id:
                return f"没有找到您的投诉 {number}，请核对编号。", []
            flow = self.rt.config.flows[complaint.flow]
            ongoing = complaint.status not in ("closed", "cancelled")
            lines = [
                f"投诉 {number}：{status_label(complaint.status)}"
                + (
                    f"（{step_name(flow, complaint.current_step)}）"
                    if complaint.current_step and ongoing
                    else ""
                )
            ]
            story = await timeline_lines(session, self.rt, complaint.id, customer_only=True)
            for line in story[-PROGRESS_LINES:]:
                # The system's steps read on their own ("进入「客服受理」"), people by name.
                who = {"客户": "您", "系统": ""}.get(line.actor, line.actor)
                lines.append(f"{long_time(line.at, self.rt.tz)[5:]} {who}{line.summary}")
            return "\n".join(lines), [complaint]
        rows = await self.complaints.customer_complaints(session, customer.id, open_only=True)
        if not rows:
            return "您目前没有处理中的投诉。如需投诉，请回复“投诉”。", []
        lines = [f"您有 {len(rows)} 件处理中的投诉："]
        for c in rows[:10]:
            flow = self.rt.config.flows[c.flow]
            where = step_name(flow, c.current_step) or ""
            lines.append(
                f"{c.number} {c.type or ''} · {status_label(c.status)}"
                + (f"（{where}）" if where else "")
            )
        lines.append("发送编号可查看详细进展。")
        # One card per answer: WeChat allows few messages per window, and several would bury it.
        return "\n".join(lines), rows[:1] if len(rows) == 1 else []

    async def _answer_survey(
        self, session: AsyncSession, number: str, answer: tuple[int, str], channel: str
    ) -> str:
        from bot.service.survey import SURVEY_THANKS, stars

        score, comment = answer
        try:
            await self.complaints.answer_survey(
                session, number, score=score, comment=comment or None, channel=channel
            )
        except ActionRefused as exc:
            return exc.reason
        return SURVEY_THANKS.format(stars=stars(score))

    async def _resume_paused(
        self, session: AsyncSession, customer: Customer, msg: InboundMessage
    ) -> bool:
        """A customer answering while we wait on them: their message is added, the clock runs."""
        from storage.models import Timer

        if msg.kind != "text" or not msg.text.strip():
            return False
        if customer.id in session.info.get(NEW_CUSTOMERS, ()):
            return False  # created just now: no complaint of theirs can be waiting
        paused = await session.scalar(
            select(Complaint.number)
            .join(Timer, Timer.complaint_id == Complaint.id)
            .where(Complaint.customer_id == customer.id, Timer.status == "paused")
            .limit(1)
        )
        if paused is None:
            return False
        await self.complaints.comment(session, paused, actor="customer", text=msg.text.strip())
        await self.sla.resume(session, paused, actor="customer")
        return True


def _attachment_ids(intent: Submit) -> list[int]:
    ids: list[int] = []
    refs = list(intent.attachments)
    for value in intent.values.values():
        items = value if isinstance(value, list) else [value]
        refs.extend(v for v in items if isinstance(v, dict))
    for ref in refs:
        raw = ref.get("attachment_id")
        if raw and str(raw).isdigit():
            ids.append(int(raw))
    return ids
