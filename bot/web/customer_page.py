"""The customer's mobile page for one complaint: /c/{token}.

WeChat has no interactive cards, so a customer's complaint card is a news (图文) link to this
page: status, current step, the timeline a customer may see, and what a customer can do
(补充信息 with photos, which also restarts a paused clock; 撤销; 评价). The token in the path is
signed and expiring (bot/service/customer_links.py) and bound to the complaint and the customer,
so only that customer sees that complaint; anything else gets a 403 page in Chinese. CSRF,
uploads and the once-per-form rule are in customer_requests.py; the intake form (/c/form) in
customer_form.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.appkeys import SETTINGS
from bot.domain.complaint import long_time, status_label
from bot.errors import ActionRefused, NotFound
from bot.forms import display_value
from bot.service.customer_links import PAGE_PREFIX, LinkClaims
from bot.service.survey import stars
from bot.service.timeline import CUSTOMER_VISIBLE_KINDS, actor_name
from bot.service.views import step_name, typed_values
from bot.service.wiring import Service
from bot.web import customer_form
from bot.web.customer_requests import (
    MAX_FILES,
    MAX_TEXT,
    PAGE_CHANNEL,
    STATIC,
    attachment_rows,
    claim_post,
    claims_of,
    discard_uploads,
    guard_for,
    guarded,
    page_response,
    read_post,
    refused_page,
    service_of,
    store_uploads,
    take_turn,
)
from bot.workflow import Action, ActionKind
from storage.models import Attachment, Complaint, Customer, SurveyAnswer, TimelineEntry, Timer

log = logging.getLogger(__name__)

TOKEN = r"{token:[A-Za-z0-9_-]{8,400}\.[A-Za-z0-9_-]{20,100}}"
DONE = {
    "more": "已收到您补充的信息，我们会继续处理。",
    "cancel": "您的投诉已撤销。如有需要，可随时重新投诉。",
    "rate": "感谢您的评价！我们会继续改进。",
    "created": "投诉已提交，我们会尽快处理。",
}
NOT_YOURS = "这件投诉不存在，或不属于您。请回到公众号，回复“进度”查看您的投诉。"
STAGES = (
    ("new", "已提交"),
    ("in_progress", "处理中"),
    ("resolved", "待回访"),
    ("closed", "已完成"),
)


@dataclass
class ComplaintPage:
    """Everything the page shows, loaded in one read."""

    complaint: Complaint
    customer: Customer
    step: str | None
    details: list[tuple[str, str]]
    timeline: list[tuple[str, str, str]]  # time, who, what
    photos: list[int]
    survey: SurveyAnswer | None
    waiting_on_customer: bool

    @property
    def status(self) -> str:
        return self.complaint.status

    @property
    def can_add(self) -> bool:
        return self.status not in ("closed", "cancelled")

    @property
    def can_cancel(self) -> bool:
        return self.status in ("new", "in_progress")

    @property
    def can_rate(self) -> bool:
        return self.status in ("resolved", "closed") and self.survey is None


def _who(actor: str, directory: Any) -> str:
    """您 for the customer, staff by name; the system's own steps read on their own."""
    if actor.startswith("rule:"):
        return ""
    name = actor_name(actor, directory)
    return {"客户": "您", "系统": ""}.get(name, name)


async def load_page(session: AsyncSession, service: Service, claims: LinkClaims) -> ComplaintPage:
    """The complaint of `claims`, if it is this customer's; NotFound otherwise."""
    rt = service.rt
    complaint = await session.scalar(select(Complaint).where(Complaint.number == claims.number))
    if complaint is None or complaint.customer_id != claims.customer_id:
        # Same answer whether it does not exist or is someone else's.
        raise NotFound(f"no complaint {claims.number} for customer {claims.customer_id}")
    customer = await session.get(Customer, claims.customer_id)
    if customer is None:
        raise NotFound(f"no customer {claims.customer_id}")
    form = rt.config.forms[complaint.form]
    flow = rt.config.flows[complaint.flow]
    values = typed_values(form, complaint)
    directory = rt.config.directory
    details = [
        (f.label, display_value(f, values.get(f.key), directory=directory))
        for f in form.fields
        if f.asked and f.type not in ("image", "file") and values.get(f.key) not in (None, "", [])
    ]
    entries = (
        await session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.complaint_id == complaint.id)
            .order_by(TimelineEntry.at, TimelineEntry.id)
        )
    ).all()
    timeline = []
    for entry in entries:
        own = entry.actor == "customer" and entry.kind == "comment"
        if entry.kind not in CUSTOMER_VISIBLE_KINDS and not own:
            continue
        what = "补充信息：" + entry.summary.partition("：")[2] if own else entry.summary
        timeline.append((long_time(entry.at, rt.tz)[5:], _who(entry.actor, directory), what))
    photos = list(
        (
            await session.scalars(
                select(Attachment.id)
                .where(Attachment.complaint_id == complaint.id, Attachment.kind == "image")
                .where(Attachment.file_path.is_not(None))
                .order_by(Attachment.id)
            )
        ).all()
    )
    survey = await session.scalar(
        select(SurveyAnswer).where(SurveyAnswer.complaint_id == complaint.id)
    )
    paused = await session.scalar(
        select(func.count())
        .select_from(Timer)
        .where(Timer.complaint_id == complaint.id, Timer.status == "paused")
    )
    return ComplaintPage(
        complaint=complaint,
        customer=customer,
        step=step_name(flow, complaint.current_step),
        details=details,
        timeline=timeline,
        photos=photos,
        survey=survey,
        waiting_on_customer=bool(paused),
    )


def _stages(status: str) -> list[dict[str, Any]]:
    order = [key for key, _ in STAGES]
    reached = order.index(status) if status in order else -1
    return [
        {
            "label": label,
            "done": i < reached or status == "closed",
            "current": i == reached and status != "closed",
        }
        for i, (key, label) in enumerate(STAGES)
    ]


async def _render_page(
    request: web.Request,
    token: str,
    *,
    errors: Mapping[str, str] | None = None,
    entered: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    claims = claims_of(request, token, "complaint")
    service = service_of(request)
    try:
        async with service.rt.db.read() as session:
            page = await load_page(session, service, claims)
    except NotFound as exc:
        log.info("customer page: %s", exc)
        return refused_page(403, NOT_YOURS, "无法查看这件投诉")
    done = request.query.get("done", "")
    shown = {
        "score": page.can_rate,
        "comment": page.can_rate,
        "text": page.can_add,
        "photos": page.can_add,
        "cancel": page.can_cancel,
    }
    context = {
        "token": token,
        "page": page,
        "number": page.complaint.number,
        "status_text": status_label(page.status),
        "stages": _stages(page.status),
        "done": DONE.get(done, ""),
        "errors": dict(errors or {}),
        # Errors of a form the page no longer shows (a stale page) go to the top.
        "alerts": [m for k, m in (errors or {}).items() if not shown.get(k, False)],
        "entered": dict(entered or {}),
        "survey_stars": stars(page.survey.score) if page.survey else "",
        "max_files": MAX_FILES,
    }
    return page_response(
        request, "customer_complaint.html", context, guard_for(request, token), status=status
    )


async def complaint_page(request: web.Request) -> web.Response:
    """GET /c/{token}: the complaint as its customer sees it."""
    return await _render_page(request, request.match_info["token"])


def _back(token: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(
        f"{PAGE_PREFIX}/{token}?done={done}", headers={"Cache-Control": "no-store"}
    )


async def add_information(request: web.Request) -> web.StreamResponse:
    """POST /c/{token}/more: text and photos from the customer; a paused clock runs again."""
    token = request.match_info["token"]
    claims = claims_of(request, token, "complaint")
    posted = await read_post(request, token)
    text = posted.text("text")[: MAX_TEXT + 1]
    photos = [u for u in posted.files.get("photos", []) if u.kind == "image"]
    errors = {}
    if posted.rejected:
        errors["photos"] = (
            f"只能上传图片（最多{MAX_FILES}张，每张不超过10MB）：{'、'.join(posted.rejected)}"
        )
    elif len(text) > MAX_TEXT:
        errors["text"] = f"补充说明请不要超过{MAX_TEXT}个字"
    elif not text and not photos:
        errors["text"] = "请填写补充说明或上传图片"
    if errors:
        return await _render_page(request, token, errors=errors, entered={"text": text}, status=400)
    service = service_of(request)
    stored = await store_uploads(request, photos)
    try:
        async with service.rt.db.write() as session:
            if await claim_post(session, f"more:{posted.form_id}", service.rt.now()):
                await take_turn(session, service, claims)
                page = await load_page(session, service, claims)
                if not page.can_add:
                    raise ActionRefused("投诉已结束，无法再补充信息")
                number = page.complaint.number
                note = text or f"上传了{len(photos)}张图片"
                await service.complaints.comment(session, number, actor="customer", text=note)
                session.add_all(
                    attachment_rows(
                        stored,
                        channel=page.complaint.channel,
                        complaint_id=page.complaint.id,
                        now=service.rt.now(),
                    )
                )
                await service.sla.resume(session, number, actor="customer")
            else:
                await discard_uploads(request, stored)
    except ActionRefused as exc:
        await discard_uploads(request, stored)
        return await _render_page(request, token, errors={"text": exc.reason}, status=409)
    except NotFound:
        await discard_uploads(request, stored)
        return refused_page(403, NOT_YOURS, "无法查看这件投诉")
    except BaseException:
        await discard_uploads(request, stored)
        raise
    raise _back(token, "more")


async def withdraw(request: web.Request) -> web.StreamResponse:
    """POST /c/{token}/cancel: the customer withdraws the complaint."""
    token = request.match_info["token"]
    claims = claims_of(request, token, "complaint")
    posted = await read_post(request, token)
    reason = posted.text("reason")[:200]
    if posted.text("confirm") != "yes":
        return await _render_page(
            request,
            token,
            errors={"cancel": "请勾选“确认撤销”后再提交"},
            entered={"reason": reason},
            status=400,
        )
    service = service_of(request)
    try:
        async with service.rt.db.write() as session:
            if await claim_post(session, f"cancel:{posted.form_id}", service.rt.now()):
                await take_turn(session, service, claims)
                page = await load_page(session, service, claims)
                action = Action(
                    ActionKind.CANCEL,
                    actor="customer",
                    text=f"撤销原因：{reason}" if reason else "",
                )
                await service.complaints.act(session, page.complaint.number, action)
    except ActionRefused as exc:
        return await _render_page(request, token, errors={"cancel": exc.reason}, status=409)
    except NotFound:
        return refused_page(403, NOT_YOURS, "无法查看这件投诉")
    raise _back(token, "cancel")


async def rate(request: web.Request) -> web.StreamResponse:
    """POST /c/{token}/rate: 1-5 stars and a comment, stored once (survey.answered)."""
    token = request.match_info["token"]
    claims = claims_of(request, token, "complaint")
    posted = await read_post(request, token)
    raw, comment = posted.text("score"), posted.text("comment")[: MAX_TEXT + 1]
    errors = {}
    if raw not in ("1", "2", "3", "4", "5"):
        errors["score"] = "请选择 1 到 5 颗星"
    if len(comment) > MAX_TEXT:
        errors["comment"] = f"评价请不要超过{MAX_TEXT}个字"
    if errors:
        return await _render_page(
            request, token, errors=errors, entered={"comment": comment}, status=400
        )
    service = service_of(request)
    try:
        async with service.rt.db.write() as session:
            if await claim_post(session, f"rate:{posted.form_id}", service.rt.now()):
                await take_turn(session, service, claims)
                page = await load_page(session, service, claims)
                number = page.complaint.number
                await service.complaints.answer_survey(
                    session, number, score=int(raw), comment=comment or None, channel=PAGE_CHANNEL
                )
                await service.intake.survey_answered(session, page.customer, number)
    except ActionRefused as exc:
        return await _render_page(request, token, errors={"score": exc.reason}, status=409)
    except NotFound:
        return refused_page(403, NOT_YOURS, "无法查看这件投诉")
    raise _back(token, "rate")


async def photo(request: web.Request) -> web.StreamResponse:
    """GET /c/{token}/photos/{id}: a picture the customer added to this complaint."""
    token = request.match_info["token"]
    claims = claims_of(request, token, "complaint")
    service = service_of(request)
    async with service.rt.db.read() as session:
        row = await session.scalar(
            select(Attachment)
            .join(Complaint, Complaint.id == Attachment.complaint_id)
            .where(Attachment.id == int(request.match_info["id"]))
            .where(Complaint.number == claims.number, Complaint.customer_id == claims.customer_id)
        )
    root = request.app[SETTINGS].data_dir.resolve()
    path = (root / row.file_path).resolve() if row is not None and row.file_path else None
    if path is None or not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound(text="no such photo")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": row.content_type or "application/octet-stream",  # type: ignore[union-attr]
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def routes() -> web.RouteTableDef:
    """The customer pages' routes, the fixed paths before the token ones."""
    table = web.RouteTableDef()
    table.get(PAGE_PREFIX + "/static/{name}")(STATIC.serve)
    table.get(PAGE_PREFIX + "/form")(guarded(customer_form.form_page))
    table.post(PAGE_PREFIX + "/form")(guarded(customer_form.submit_form))
    table.get(f"{PAGE_PREFIX}/{TOKEN}")(guarded(complaint_page))
    table.post(f"{PAGE_PREFIX}/{TOKEN}/more")(guarded(add_information))
    table.post(f"{PAGE_PREFIX}/{TOKEN}/cancel")(guarded(withdraw))
    table.post(f"{PAGE_PREFIX}/{TOKEN}/rate")(guarded(rate))
    table.get(PAGE_PREFIX + "/" + TOKEN + r"/photos/{id:\d{1,12}}")(guarded(photo))
    return table
