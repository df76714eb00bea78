"""Cards on the employees' side: send a task's card, and keep every copy of it up to date.

Every copy of a task's card is recorded (card_messages), so when one person acts, everybody
who holds that task's card sees the outcome and loses the stale buttons. Updates go through the
outbox like everything else; WeCom's single-use ResponseCode is taken from the record the
moment an update is queued with it, so no code is ever used twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards.build import (
    DepartmentOption,
    PersonOption,
    StepInfo,
    build_escalation_card,
    build_task_card,
    card_ref,
)
from bot.cards.model import Card
from bot.forms import field_names
from bot.service.loaded import LoadedComplaint
from bot.service.outbox import queue_message
from bot.service.runtime import Runtime
from bot.service.views import load_view
from bot.workflow import available_actions
from bot.workflow.definition import ParallelStep, TaskStep
from storage.models import CardMessage, Complaint

# WeCom ResponseCodes live 72 h; keep a margin so an update never races the expiry.
RESPONSE_CODE_LIFETIME = timedelta(hours=72) - timedelta(minutes=10)
SETTLED_DEFAULT = "该步骤已处理完毕"
# session.info keys. NEW_COMPLAINTS: id -> complaint, for those created in this transaction (they
# have no card record that was not made here). CARDS_MADE: (channel, card_ref) -> the records made
# for them. VIEWS: while cards share one view per complaint, (id, overdue_by) -> view.
NEW_COMPLAINTS = "new_complaints"
CARDS_MADE = "cards_made"
VIEWS = "card_views"


def mark_new_complaint(session: AsyncSession, complaint: Complaint) -> None:
    """Note that `complaint` was created in this session's transaction (after its flush)."""
    session.info.setdefault(NEW_COMPLAINTS, {})[complaint.id] = complaint


def is_new_complaint(session: AsyncSession, complaint: Complaint) -> bool:
    """Whether `complaint` (this very object: ids can be reused) was created in this transaction."""
    return session.info.get(NEW_COMPLAINTS, {}).get(complaint.id) is complaint


@contextmanager
def shared_views(session: AsyncSession) -> Iterator[None]:
    """Cards built inside share one view per complaint (the caller changes nothing it shows).

    A change's cards are built at its end, after everything they show was written: building the
    view (timeline, customer history) once instead of once per card is the same card.
    """
    outer = session.info.get(VIEWS)
    session.info[VIEWS] = {}
    try:
        yield
    finally:
        if outer is None:
            session.info.pop(VIEWS, None)
        else:
            session.info[VIEWS] = outer


def step_info(lc: LoadedComplaint, step_id: str | None) -> StepInfo | None:
    if step_id is None or not lc.flow.has_step(step_id):
        return None
    step = lc.flow.step(step_id)
    names = field_names(lc.form)
    read = getattr(step, "read", "*")
    readable = None if read == "*" else {names.get(n, n) for n in read}
    write: list[tuple[str, str, bool]] = []
    if isinstance(step, TaskStep):
        required = {names.get(n, n) for n in step.required}
        for name in step.write:
            key = names.get(name, name)
            field = lc.form.field(key)
            write.append((key, field.label if field else key, key in required))
    elif not isinstance(step, ParallelStep):
        readable = set()
    return StepInfo(id=step.id, name=step.name, read=readable, write=tuple(write))


def department_options(rt: Runtime) -> list[DepartmentOption]:
    """Every configured department, by id (a department nobody works in may still take one)."""
    return [DepartmentOption(d.id, d.name) for d in rt.config.directory.departments.values()]


def people_options(rt: Runtime) -> list[PersonOption]:
    directory = rt.config.directory
    return [
        PersonOption(p.id, p.name, directory.department_name(p.department))
        for p in directory.people.values()
    ]


class CardDesk:
    def __init__(self, rt: Runtime):
        self.rt = rt

    async def build_card(
        self,
        session: AsyncSession,
        lc: LoadedComplaint,
        *,
        ref: str,
        task_id: str,
        person: str,
        kind: str,
        now: datetime,
        outcome: str | None = None,
        notice: str | None = None,
        message: str = "",
        overdue_by: str | None = None,
    ) -> Card:
        """The card `person` should see now for `task_id` (settled when they can do nothing)."""
        views = session.info.get(VIEWS)
        view = views.get((lc.complaint.id, overdue_by)) if views is not None else None
        if view is None:
            view = await load_view(session, self.rt, lc.complaint, overdue_by=overdue_by)
            if views is not None:
                views[(lc.complaint.id, overdue_by)] = view
        ctx = lc.flow_context(self.rt, now)
        allowed = [
            str(a) for a in available_actions(lc.flow, lc.state, person, ctx).get(task_id, ())
        ]
        task = lc.state.task(task_id)
        if kind == "escalation":
            allowed = [a for a in allowed if a in ("remind", "reassign", "take_over", "extend")]
        if outcome is None and not allowed:
            outcome = SETTLED_DEFAULT if task is None else None
        common = dict(
            ref=ref,
            task_id=task_id,
            viewer=person,
            actions=allowed,
            people=people_options(self.rt),
            departments=department_options(self.rt),
            tz=self.rt.tz,
            outcome=outcome,
            notice=notice,
        )
        if kind == "escalation":
            return build_escalation_card(view, message=message, **common)  # type: ignore[arg-type]
        step = step_info(lc, task.step_id if task else lc.complaint.current_step)
        return build_task_card(view, step=step, **common)  # type: ignore[arg-type]

    async def send(
        self,
        session: AsyncSession,
        lc: LoadedComplaint,
        task_id: str,
        person: str,
        *,
        now: datetime,
        kind: str = "task",
        message: str = "",
        overdue_by: str | None = None,
    ) -> CardMessage | None:
        """Send `person` the card of `task_id`; None when they cannot be reached anywhere."""
        route = self.rt.routing.person(person)
        if route is None:
            return None
        ref = card_ref(route.channel, lc.number, f"{kind}:{task_id}", person)
        made: dict[tuple[str, str], CardMessage] | None = None
        if is_new_complaint(session, lc.complaint):
            made = session.info.setdefault(CARDS_MADE, {})
            existing = made.get((route.channel, ref))  # every card it has was made here
        else:
            existing = await session.scalar(
                select(CardMessage).where(
                    CardMessage.channel == route.channel, CardMessage.card_ref == ref
                )
            )
        if existing is not None:
            # The same card again (a task offered anew): refresh the copy the person holds.
            await self.update(session, lc, existing, now=now, message=message)
            return existing
        card = await self.build_card(
            session,
            lc,
            ref=ref,
            task_id=task_id,
            person=person,
            kind=kind,
            now=now,
            message=message,
            overdue_by=overdue_by,
        )
        record = CardMessage(
            channel=route.channel,
            card_ref=ref,
            complaint_id=lc.complaint.id,
            task_id=task_id,
            person_id=person,
            kind=kind,
            target=route.target,
            settled=card.settled,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(record)
        if made is not None:
            made[(route.channel, ref)] = record
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
        return record

    async def update(
        self,
        session: AsyncSession,
        lc: LoadedComplaint,
        record: CardMessage,
        *,
        now: datetime,
        outcome: str | None = None,
        notice: str | None = None,
        message: str = "",
    ) -> Card:
        """Queue an update of one delivered card, using (and spending) its stored ResponseCode."""
        card = await self.build_card(
            session,
            lc,
            ref=record.card_ref,
            task_id=record.task_id,
            person=record.person_id,
            kind=record.kind,
            now=now,
            outcome=outcome,
            notice=notice,
            message=message,
        )
        record.version += 1
        record.settled = card.settled
        record.updated_at = now
        code = None
        if record.response_code and (
            record.response_code_expires_at is None or record.response_code_expires_at > now
        ):
            code = record.response_code
        record.response_code = None
        record.response_code_expires_at = None
        await queue_message(
            session,
            key=f"card:{record.channel}:{record.card_ref}:v{record.version}",
            kind="card_update",
            channel=record.channel,
            target=record.target,
            payload={"card": card.to_dict(), "response_code": code},
            now=now,
            complaint_id=lc.complaint.id,
        )
        return card

    async def copies_of(
        self, session: AsyncSession, complaint_id: int, task_id: str | None = None
    ) -> list[CardMessage]:
        """Every unsettled card of the complaint (of one task, when given)."""
        stmt = select(CardMessage).where(
            CardMessage.complaint_id == complaint_id, CardMessage.settled.is_(False)
        )
        if task_id is not None:
            stmt = stmt.where(CardMessage.task_id == task_id)
        return list((await session.scalars(stmt.order_by(CardMessage.id))).all())

    async def refresh_task(
        self,
        session: AsyncSession,
        lc: LoadedComplaint,
        task_id: str,
        *,
        now: datetime,
        outcomes: Mapping[str, str] | None = None,
        default_outcome: str | None = None,
        skip: set[int] | None = None,
        escalation_outcome: str | None = None,
    ) -> int:
        """Update every open copy of a task's card; people in `outcomes` see their outcome line.

        Escalation cards settle with `escalation_outcome` once a supervisor has handled them.
        """
        count = 0
        for record in await self.copies_of(session, lc.complaint.id, task_id):
            if skip and record.id in skip:
                continue
            outcome = (outcomes or {}).get(record.person_id, default_outcome)
            if record.kind == "escalation" and outcome is None:
                outcome = escalation_outcome
            await self.update(session, lc, record, now=now, outcome=outcome)
            count += 1
        return count

    @staticmethod
    def keep_response_code(record: CardMessage, code: str | None, now: datetime) -> None:
        """Store the ResponseCode of a click on this card (WeCom), for its next update."""
        if code:
            record.response_code = code
            record.response_code_expires_at = now + RESPONSE_CODE_LIFETIME
