"""What connector jobs need from the running service: read a complaint, change it, note on it.

Every change goes through ComplaintService in one write transaction (actor
"integration:<system>"), so written fields fire field.changed rules like any other edit.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from bot.forms import FieldProblem, FormContext, field_names, parse_answer
from bot.service.loaded import load_complaint
from bot.service.outbox import queue_message
from bot.service.timeline import add_entry
from bot.service.views import condition_env, typed_values
from storage.models import Complaint, Customer

if TYPE_CHECKING:
    from bot.service.change import ComplaintChange
    from bot.service.wiring import Service

INTEGRATIONS_CHANNEL = "integrations"
SYSTEM_LABELS = {"crm": "CRM", "erp": "ERP", "qms": "QMS"}
JOB_TEXT = {
    "crm.lookup": "CRM 查询",
    "crm.push": "CRM 回写",
    "erp.lookup": "ERP 查询",
    "qms.open": "QMS 质量改进项创建",
}


def actor_of(system: str) -> str:
    return f"integration:{system}"


async def queue_job(change: ComplaintChange, job: str, **data: Any) -> None:
    """A connector job for this complaint, run by the integrations adapter after the commit.

    Rows carry the complaint number, not its id: a failed job is noted by our own hook
    (bot/integrations/__init__.py), not by the generic "message not delivered" one.
    """
    number = change.complaint.number
    await queue_message(
        change.session,
        key=f"job:{job}:{number}:{uuid.uuid4().hex[:16]}",
        kind="integration",
        channel=INTEGRATIONS_CHANNEL,
        target=f"{job}:{number}",
        payload={"job": job, "complaint": number, **data},
        now=change.now,
    )


@dataclass(frozen=True)
class Snapshot:
    """A complaint read for a request: its template names and its customer."""

    complaint: Complaint
    customer: Customer | None
    env: dict[str, Any]


class Desk:
    def __init__(self, service: Service):
        self.service = service
        self.rt = service.rt
        self.complaints = service.complaints

    async def snapshot(self, number: str, **extra: Any) -> Snapshot | None:
        """The complaint's names for templates (fields, reserved names, customer_*), or None."""
        async with self.rt.db.read() as session:
            complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
            if complaint is None:
                return None
            customer = (
                await session.get(Customer, complaint.customer_id)
                if complaint.customer_id is not None
                else None
            )
        form = self.rt.config.forms[complaint.form]
        env = condition_env(self.rt, complaint, typed_values(form, complaint), now=self.rt.now())
        env["customer_name"] = (customer.name if customer else None) or env.get("customer_name")
        env["customer_phone"] = (customer.phone if customer else None) or env.get("phone")
        env["customer_no"] = env.get("customer_no") or (customer.customer_no if customer else None)
        env.update(extra)
        return Snapshot(complaint, customer, env)

    @asynccontextmanager
    async def change(self, number: str, system: str) -> AsyncIterator[ComplaintChange]:
        """One change to the complaint as the integration; committed with its rules and cards."""
        async with self.rt.db.write() as session:
            lc = await load_complaint(session, self.rt, number=number)
            change = self.complaints.begin(session, lc, actor=actor_of(system), now=self.rt.now())
            yield change
            await self.complaints.commit_change(change)

    async def note(
        self, number: str, system: str, summary: str, *, kind: str = "integration"
    ) -> None:
        """A timeline line only (a failed or empty lookup changes nothing else)."""
        async with self.rt.db.write() as session:
            complaint_id = await session.scalar(
                select(Complaint.id).where(Complaint.number == number)
            )
            if complaint_id is None:
                return
            add_entry(
                session,
                complaint_id,
                at=self.rt.now(),
                actor=actor_of(system),
                kind=kind,
                summary=summary,
            )


async def write_fields(
    change: ComplaintChange, raw: Mapping[str, Any], *, actor: str
) -> tuple[list[str], list[FieldProblem]]:
    """Parse answers from another system like API input and write the good ones.

    Returns the labels written and the problems of the values that were refused. The cards of
    the open tasks are refreshed so people see the new values.
    """
    form = change.lc.form
    ctx = FormContext(change.now, change.rt.tz, directory=change.rt.config.directory)
    names = field_names(form)
    typed: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, value in raw.items():
        key = names.get(name)
        if key is None:
            continue
        parsed, problem = parse_answer(form, key, value, ctx)
        if problem is not None:
            problems.append(problem)
        elif parsed is not None:
            typed[key] = parsed
    changed = {k: v for k, v in typed.items() if change.lc.values.get(k) != v}
    if changed:
        await change._write_fields(changed, actor=actor)
        change.pending.touched.update(task.task_id for task in change.lc.state.tasks)
    labels = [form.require(k).label for k in changed]
    return labels, problems
