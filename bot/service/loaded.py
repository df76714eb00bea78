"""One complaint with all a decision needs, loaded (and locked) in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFound
from bot.forms import FormDefinition, field_names
from bot.service.runtime import Runtime
from bot.service.views import condition_env, typed_values
from bot.workflow import FlowContext, FlowDefinition, WorkflowState
from storage.models import Complaint, WorkflowInstance


@dataclass
class LoadedComplaint:
    complaint: Complaint
    instance: WorkflowInstance
    flow: FlowDefinition
    form: FormDefinition
    values: dict[str, Any]
    state: WorkflowState

    @property
    def number(self) -> str:
        return self.complaint.number

    def flow_context(self, rt: Runtime, now: datetime, **extra: Any) -> FlowContext:
        return FlowContext(
            env=condition_env(rt, self.complaint, self.values, now=now, extra=extra or None),
            department=self.complaint.department,
            directory=rt.config.directory,
            now=now,
            form_fields=field_names(self.form),
        )


async def load_complaint(
    session: AsyncSession,
    rt: Runtime,
    *,
    number: str | None = None,
    complaint_id: int | None = None,
) -> LoadedComplaint:
    """The complaint and its flow state, locked for update on PostgreSQL (SQLite locks on write).

    Two workers acting on one complaint at once then take turns instead of both deciding on the
    same stale state.
    """
    stmt = select(Complaint).with_for_update()
    if number is not None:
        stmt = stmt.where(Complaint.number == number)
    else:
        stmt = stmt.where(Complaint.id == complaint_id)
    complaint = await session.scalar(stmt)
    if complaint is None:
        raise NotFound(f"没有找到投诉 {number or complaint_id}")
    instance = await session.scalar(
        select(WorkflowInstance).where(WorkflowInstance.complaint_id == complaint.id)
    )
    if instance is None:
        raise NotFound(f"投诉 {complaint.number} 没有流程记录")
    flow = rt.config.flows[complaint.flow]
    form = rt.config.forms[complaint.form]
    return LoadedComplaint(
        complaint=complaint,
        instance=instance,
        flow=flow,
        form=form,
        values=typed_values(form, complaint),
        state=WorkflowState.from_dict(instance.state),
    )
