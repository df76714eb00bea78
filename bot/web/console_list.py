"""Console pages over complaints: the filtered list and one complaint's page."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import CONFIG, DATABASE, SERVICE, SETTINGS
from bot.config.loader import LoadedConfig
from bot.domain.complaint import STATUS_LABELS, STATUS_TONES, status_label
from bot.errors import BotError
from bot.service.runtime import Runtime
from bot.service.targets import TARGET_STEP
from bot.service.views import load_view
from bot.web.api_read import BadQuery, filtered
from bot.web.console import not_found, page
from bot.web.console_format import ATTACHMENT_KINDS, clock_line, local_text
from bot.web.flow_diagram import render_flow_svg
from bot.workflow.state import WorkflowState
from storage.models import Attachment, Complaint, Customer, Timer, WorkflowInstance

routes = web.RouteTableDef()

PAGE_SIZE = 50
FILTER_KEYS = ("status", "type", "department", "assignee", "overdue", "q")
CLOSED = ("closed", "cancelled")
SNIPPET = 40


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        return int(base64.urlsafe_b64decode(raw.encode() + b"==").decode())
    except (ValueError, UnicodeDecodeError):
        raise BadQuery("cursor", "翻页参数无效，请从第一页重新开始") from None


FILTER_LABELS = {
    "status": "状态",
    "type": "类型",
    "department": "部门",
    "assignee": "处理人",
    "overdue": "只看超时",
    "q": "搜索",
    "cursor": "翻页",
}


def _bad_query_message(exc: BadQuery, query: Any) -> str:
    """「状态」的值「nope」无效（the API's own message, for whoever wrote the URL）."""
    try:
        error = json.loads(exc.text or "{}")["errors"][0]
        field, message = str(error["field"]), str(error["message"])
    except (ValueError, KeyError, IndexError):
        return "筛选条件无效"
    name = field.split(".")[0]
    label = FILTER_LABELS.get(name, name)
    value = query.get(name, "")
    return f"「{label}」的值「{value}」无效（{message}）"


def type_options(config: LoadedConfig) -> list[str]:
    """Complaint types offered by the forms' `type` select fields, in their order."""
    out: list[str] = []
    for form in config.forms.values():
        field = form.field("type")
        for option in (field.options or []) if field is not None else []:
            if option not in out:
                out.append(option)
    return out


async def _overdue_ids(session: AsyncSession, ids: Sequence[int]) -> set[int]:
    """Of `ids`, the open complaints whose current step ran past its limit."""
    if not ids:
        return set()
    stmt = select(Complaint.id).where(
        Complaint.id.in_(ids),
        Complaint.status.not_in(CLOSED),
        exists().where(
            Timer.complaint_id == Complaint.id,
            Timer.step_id == Complaint.current_step,
            Timer.level == "breached",
            Timer.status == "fired",
        ),
    )
    return set((await session.scalars(stmt)).all())


async def _customer_names(session: AsyncSession, rows: Sequence[Complaint]) -> dict[int, str]:
    ids = {c.customer_id for c in rows if c.customer_id is not None}
    if not ids:
        return {}
    result = await session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    return {cid: name or "" for cid, name in result.all()}


def _row(c: Complaint, rt: Runtime, customers: dict[int, str], overdue: set[int]) -> dict[str, Any]:
    config = rt.config
    values = c.values or {}
    customer = customers.get(c.customer_id or -1) or str(values.get("customer_name") or "")
    flow = config.flows.get(c.flow)
    step = c.current_step
    step_name = flow.step(step).name if flow is not None and step and flow.has_step(step) else step
    description = str(values.get("description") or "")
    return {
        "number": c.number,
        "status": c.status,
        "status_text": status_label(c.status),
        "tone": STATUS_TONES.get(c.status, "muted"),
        "type": c.type or "",
        "customer": customer,
        "department": config.directory.department_name(c.department),
        "assignee": config.directory.name_of(c.assignee),
        "step": step_name or "",
        "created": local_text(c.created_at, rt.tz),
        "overdue": c.id in overdue,
        "snippet": description[:SNIPPET] + ("…" if len(description) > SNIPPET else ""),
    }


@routes.get("/console/complaints")
async def complaint_list(request: web.Request) -> web.Response:
    """Newest first, filtered by status, type, department, assignee, overdue and search text."""
    service = request.app[SERVICE]
    rt = service.rt
    config = request.app[CONFIG]
    query = request.query
    error = None
    items: list[dict[str, Any]] = []
    next_cursor = None
    try:
        stmt = filtered(query, rt.now())
        after = decode_cursor(query.get("cursor"))
    except BadQuery as exc:
        error = _bad_query_message(exc, query)
    else:
        if after is not None:
            stmt = stmt.where(Complaint.id < after)
        stmt = stmt.order_by(Complaint.id.desc()).limit(PAGE_SIZE + 1)
        async with request.app[DATABASE].read() as session:
            rows = list((await session.scalars(stmt)).unique().all())
            shown = rows[:PAGE_SIZE]
            customers = await _customer_names(session, shown)
            overdue = await _overdue_ids(session, [c.id for c in shown])
        items = [_row(c, rt, customers, overdue) for c in shown]
        if len(rows) > PAGE_SIZE and shown:
            next_cursor = encode_cursor(shown[-1].id)
    chosen = {key: query.get(key, "") for key in FILTER_KEYS}
    kept = {k: v for k, v in chosen.items() if v}
    directory = config.directory
    return page(
        request,
        "console_list.html",
        title="投诉列表",
        section="complaints",
        status=400 if error else 200,
        error=error,
        items=items,
        filters=chosen,
        filtering=bool(kept),
        next_url=f"?{urlencode({**kept, 'cursor': next_cursor})}" if next_cursor else None,
        first_url=f"?{urlencode(kept)}" if query.get("cursor") else None,
        statuses=list(STATUS_LABELS.items()),
        types=type_options(config),
        departments=[(d.id, d.name) for d in directory.departments.values()],
        people=[(p.id, p.name) for p in directory.people.values()],
    )


def _attachment(a: Attachment, tz: Any) -> dict[str, Any]:
    meta = a.meta or {}
    name = meta.get("name") or meta.get("filename") or meta.get("label")
    if not name and a.file_path:
        name = PurePosixPath(a.file_path).name
    return {
        "id": a.id,
        "kind": ATTACHMENT_KINDS.get(a.kind, a.kind),
        "name": str(name or ""),
        "media_id": a.media_id or "",
        "size": _size_text(a.size),
        "stored": bool(a.file_path),
        "created": local_text(a.created_at, tz),
    }


def _size_text(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _flow_state(
    instance: WorkflowInstance | None, complaint: Complaint
) -> tuple[set[str], set[str]]:
    """(current steps, visited steps) from the stored engine state, or the complaint's step."""
    current = {complaint.current_step} if complaint.current_step else set()
    if instance is None or not instance.state:
        return current, set()
    try:
        state = WorkflowState.from_dict(instance.state)
    except BotError:  # an unreadable state still shows the complaint, without the history
        return current, set()
    visited = {v.step_id for v in state.history}
    return set(state.current) or current, visited


@routes.get("/console/complaints/{number}")
async def complaint_page(request: web.Request) -> web.Response:
    """Form values, attachments, timeline, SLA clocks and the flow diagram of one complaint."""
    rt = request.app[SERVICE].rt
    config = request.app[CONFIG]
    number = request.match_info["number"]
    now = rt.now()
    async with request.app[DATABASE].read() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
        if complaint is None:
            return not_found(request, f"没有编号为 {number} 的投诉", section="complaints")
        known = complaint.form in config.forms and complaint.flow in config.flows
        view = await load_view(session, rt, complaint) if known else None
        timers = (
            await session.scalars(
                select(Timer)
                .where(Timer.complaint_id == complaint.id, Timer.status != "cancelled")
                .order_by(Timer.due_at, Timer.id)
            )
        ).all()
        attachments = (
            await session.scalars(
                select(Attachment)
                .where(Attachment.complaint_id == complaint.id)
                .order_by(Attachment.id)
            )
        ).all()
        instance = await session.scalar(
            select(WorkflowInstance).where(WorkflowInstance.complaint_id == complaint.id)
        )
        overdue = complaint.id in await _overdue_ids(session, [complaint.id])
    current, visited = _flow_state(instance, complaint)
    flow = config.flows.get(complaint.flow)
    open_now = complaint.status not in CLOSED
    step_names = {s.id: s.name for s in flow.steps} if flow is not None else {}
    step_names[TARGET_STEP] = "服务目标"
    clocks = [
        clock_line(
            step=step_names.get(t.step_id, t.step_id),
            level=t.level,
            status=t.status,
            due_at=t.due_at,
            now=now,
            tz=rt.tz,
            remaining_seconds=t.remaining_seconds,
            # A target runs for the whole complaint; a step's timer only while its step does.
            running=open_now and (t.step_id in current or t.step_id == TARGET_STEP),
        )
        for t in timers
    ]
    diagram = (
        render_flow_svg(
            flow,
            current=current,
            visited=visited | current,
            directory=config.directory,
            id_prefix="complaint",
        )
        if flow is not None
        else None
    )
    values = (
        [(v.label, v.text) for v in view.values]
        if view is not None
        else [(k, str(v)) for k, v in (complaint.values or {}).items()]
    )
    timeline = (
        [
            {
                "at": local_text(line.at, rt.tz),
                "actor": line.actor,
                "summary": line.summary,
                "internal": not line.customer_visible,
            }
            for line in view.timeline
        ]
        if view is not None
        else []
    )
    return page(
        request,
        "console_complaint.html",
        title=f"投诉 {complaint.number}",
        section="complaints",
        c=_summary(complaint, rt, view, overdue),
        values=values,
        attachments=[_attachment(a, rt.tz) for a in attachments],
        timeline=timeline,
        clocks=clocks,
        diagram=diagram,
        now=local_text(now, rt.tz),
    )


def _summary(complaint: Complaint, rt: Runtime, view: Any, overdue: bool) -> dict[str, Any]:
    directory = rt.config.directory
    return {
        "number": complaint.number,
        "status": complaint.status,
        "status_text": status_label(complaint.status),
        "tone": STATUS_TONES.get(complaint.status, "muted"),
        "type": complaint.type or "",
        "customer": view.customer_name if view is not None else "",
        "history": (view.history_note or "") if view is not None else "",
        "step": (view.step_name or "") if view is not None else (complaint.current_step or ""),
        "department": directory.department_name(complaint.department),
        "assignee": directory.name_of(complaint.assignee),
        "channel": complaint.channel,
        "priority": complaint.priority,
        "created": local_text(complaint.created_at, rt.tz),
        "first_response": local_text(complaint.first_response_at, rt.tz),
        "resolved": local_text(complaint.resolved_at, rt.tz),
        "closed": local_text(complaint.closed_at, rt.tz),
        "overdue": overdue,
    }


@routes.get("/console/complaints/{number}/flow.svg")
async def complaint_flow_svg(request: web.Request) -> web.Response:
    """The complaint's flow diagram alone (image/svg+xml), current step highlighted."""
    config = request.app[CONFIG]
    number = request.match_info["number"]
    async with request.app[DATABASE].read() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
        instance = (
            await session.scalar(
                select(WorkflowInstance).where(WorkflowInstance.complaint_id == complaint.id)
            )
            if complaint is not None
            else None
        )
    if complaint is None or complaint.flow not in config.flows:
        raise web.HTTPNotFound(text=f"no complaint {number}")
    current, visited = _flow_state(instance, complaint)
    svg = render_flow_svg(
        config.flows[complaint.flow],
        current=current,
        visited=visited | current,
        directory=config.directory,
    )
    return web.Response(
        text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@routes.get(r"/console/attachments/{id:\d{1,18}}")
async def attachment_file(request: web.Request) -> web.StreamResponse:
    """A stored attachment, for a signed-in console user (the API's download needs a token)."""
    async with request.app[DATABASE].read() as session:
        row = await session.get(Attachment, int(request.match_info["id"]))
    if row is None or not row.file_path:
        raise web.HTTPNotFound(text="no such file")
    root = request.app[SETTINGS].data_dir.resolve()
    path = (root / row.file_path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound(text="the file is missing on this server")
    meta = row.meta or {}
    name = str(meta.get("filename") or meta.get("name") or f"attachment-{row.id}")
    name = "".join(ch for ch in name.replace("\\", "/").rsplit("/", 1)[-1] if ch.isprintable())
    disposition = f"attachment; filename*=UTF-8''{quote(name or 'file', safe='')}"
    return web.FileResponse(
        path,
        headers={
            "Content-Type": row.content_type or "application/octet-stream",
            "Content-Disposition": disposition,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
