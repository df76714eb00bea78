"""The intake form for customers who prefer a form to a chat: /c/form?t=<signed customer token>.

Built from the same form engine as the chat (bot/forms): the fields the chat would ask, their
labels, questions and help, the customer's known name and phone filled in, and on submit the
same `validate` with every problem shown at its field in Chinese. A submission becomes a
complaint exactly as a chat intake does (CustomerIntake.submit_form: number, profile, card).

Fields shown only under a condition on one choice field (订单号 for 产品质量/物流问题) carry the
choices that show them, so a small script can hide them; without the script they are all shown,
and the server, which is the authority, ignores hidden fields' answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from bot.forms import (
    FieldDefinition,
    FormContext,
    FormDefinition,
    defaults,
    dump_value,
    field_names,
    question_for,
    validate,
    visibility,
)
from bot.forms.engine import compiled
from bot.service.complaints import FormRejected, customer_profile
from bot.service.customer_links import PAGE_PREFIX, make_token
from bot.web.customer_requests import (
    PAGE_CHANNEL,
    Posted,
    Refused,
    attachment_rows,
    claim_post,
    claims_of,
    discard_uploads,
    guard_for,
    page_response,
    read_post,
    refused_page,
    service_of,
    store_uploads,
    take_turn,
)
from storage.models import Customer
from storage.models import InboundEvent as InboundRecord

MEDIA_TYPES = ("image", "file")
INPUT_TYPES = {
    "phone": "tel",
    "email": "email",
    "url": "url",
    "date": "date",
    "datetime": "datetime-local",
}
INPUT_MODES = {"number": "decimal", "money": "decimal", "order_number": "numeric", "phone": "tel"}
RADIO_LIMIT = 6  # more choices than this become a drop-down


@dataclass
class FieldView:
    """One field as the page draws it."""

    key: str
    label: str
    widget: str  # text, textarea, radio, select, checkbox, file, rating, boolean
    required: bool
    hint: str
    input_type: str = "text"
    input_mode: str = ""
    options: list[str] = field(default_factory=list)
    value: str = ""
    values: list[str] = field(default_factory=list)
    error: str = ""
    accept: str = ""
    max_length: int | None = None
    show_when: str = ""  # key of the choice field this field depends on
    show_values: list[str] = field(default_factory=list)
    conditional: bool = False


def _widget(f: FieldDefinition) -> str:
    if f.type == "textarea":
        return "textarea"
    if f.type == "select":
        return "radio" if len(f.options or []) <= RADIO_LIMIT else "select"
    if f.type == "multiselect":
        return "checkbox"
    if f.type in MEDIA_TYPES:
        return "file"
    if f.type in ("rating", "boolean"):
        return f.type
    return "text"


def _hint(f: FieldDefinition) -> str:
    """What the chat's question says beyond "请输入<label>": the expected shape, then the help."""
    if f.type in (
        "select",
        "multiselect",
        "image",
        "file",
        "rating",
        "boolean",
        "date",
        "datetime",
    ):
        return f.help or ""  # the page shows the choices themselves
    first, _, rest = question_for(f).partition("\n")
    shape = first.removeprefix(f"请输入{f.label}").strip()
    if shape.startswith("（") and shape.endswith("）"):
        shape = shape[1:-1]
    return "\n".join(part for part in (shape, rest) if part)


def _condition(form: FormDefinition, f: FieldDefinition) -> tuple[str, list[str]]:
    """(choice field key, choices that show `f`) when `f` depends on one single-choice field."""
    expression = compiled(f.visible_if) if f.visible_if else None
    if expression is None:
        return "", []
    names = field_names(form)
    keys = {names[n] for n in expression.names if n in names}
    if len(keys) != 1:
        return "", []
    source = form.field(next(iter(keys)))
    if source is None or source.type != "select":
        return "", []
    shown = [o for o in source.options or [] if visibility(form, {source.key: o})[f.key]]
    return source.key, shown


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    dumped = dump_value(value)
    return dumped if isinstance(dumped, str) else str(dumped)


def field_views(
    form: FormDefinition,
    initial: dict[str, Any],
    entered: dict[str, Any] | None,
    errors: dict[str, str],
) -> list[FieldView]:
    """The asked fields, with what was entered (or the defaults) and each field's error."""
    views = []
    for f in form.fields:
        if not f.asked:
            continue
        source = entered if entered is not None else initial
        raw = source.get(f.key)
        show_when, show_values = _condition(form, f)
        views.append(
            FieldView(
                key=f.key,
                label=f.label,
                widget=_widget(f),
                required=f.required,
                hint=_hint(f),
                input_type=INPUT_TYPES.get(f.type, "text"),
                input_mode=INPUT_MODES.get(f.type, ""),
                options=list(f.options or []),
                value="" if isinstance(raw, list) else _text(raw),
                values=[_text(v) for v in raw] if isinstance(raw, list) else [],
                error=errors.get(f.key, ""),
                accept=",".join(
                    {"image": "image/*", "video": "video/*"}.get(k, "")
                    for k in f.accepted_kinds()
                    if k in ("image", "video")
                )
                if f.type in MEDIA_TYPES
                else "",
                max_length=f.max_length,
                show_when=show_when,
                show_values=show_values,
                conditional=bool(f.visible_if),
            )
        )
    return views


def _form_context(request: web.Request, customer: Customer) -> tuple[FormDefinition, FormContext]:
    rt = service_of(request).rt
    form = rt.config.form_of(rt.config.intake_flow)
    ctx = FormContext(rt.now(), rt.tz, customer_profile(customer), rt.config.directory)
    return form, ctx


async def _customer(request: web.Request, customer_id: int) -> Customer:
    async with service_of(request).rt.db.read() as session:
        customer = await session.get(Customer, customer_id)
    if customer is None:
        raise Refused(refused_page(403))
    return customer


def _render(
    request: web.Request,
    token: str,
    form: FormDefinition,
    views: list[FieldView],
    *,
    general: list[str],
    status: int = 200,
) -> web.Response:
    context = {"token": token, "title": form.title, "fields": views, "general": general}
    return page_response(
        request, "customer_form.html", context, guard_for(request, token), status=status
    )


async def form_page(request: web.Request) -> web.StreamResponse:
    """GET /c/form?t=…: the empty form, known details filled in."""
    token = request.query.get("t", "")
    claims = claims_of(request, token, "form")
    customer = await _customer(request, claims.customer_id)
    form, ctx = _form_context(request, customer)
    views = field_views(form, defaults(form, ctx), None, {})
    return _render(request, token, form, views, general=[])


def _answers(form: FormDefinition, posted: Posted) -> tuple[dict[str, Any], dict[str, str]]:
    """The posted answers by field key (media as references to-be), and upload problems."""
    raw: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for f in form.fields:
        if not f.asked:
            continue
        if f.type in MEDIA_TYPES:
            uploads = posted.files.get(f.key, [])
            wanted = f.accepted_kinds()
            refs = [
                {"attachment_id": f"new-{i}", "kind": u.kind, "name": u.filename}
                for i, u in enumerate(uploads)
                if u.kind in wanted
            ]
            if posted.rejected or len(refs) < len(uploads):
                problems[f.key] = "只能上传图片或视频（每个不超过10MB）"
            if refs:
                raw[f.key] = refs if f.multiple else refs[0]
        elif f.type == "multiselect":
            chosen = [v for v in posted.fields.get(f.key, []) if v.strip()]
            if chosen:
                raw[f.key] = chosen
        else:
            text = posted.text(f.key)
            if f.type == "datetime":
                text = text.replace("T", " ")
            if text:
                raw[f.key] = text
    return raw, problems


def _unasked_defaults(form: FormDefinition, ctx: FormContext) -> dict[str, Any]:
    asked = {f.key for f in form.fields if f.asked}
    return {k: v for k, v in defaults(form, ctx).items() if k not in asked}


def _with_ids(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, list):
        return [_with_ids(v, ids) for v in value]
    if isinstance(value, dict) and str(value.get("attachment_id", "")) in ids:
        return {**value, "attachment_id": str(ids[str(value["attachment_id"])])}
    return value


async def submit_form(request: web.Request) -> web.StreamResponse:
    """POST /c/form?t=…: validate everything at once; a complaint, or the form with its errors."""
    token = request.query.get("t", "")
    claims = claims_of(request, token, "form")
    posted = await read_post(request, token)
    customer = await _customer(request, claims.customer_id)
    form, ctx = _form_context(request, customer)
    raw, upload_problems = _answers(form, posted)
    result = validate(form, {**_unasked_defaults(form, ctx), **raw}, ctx)
    errors = {p.key: p.message for p in result.problems}
    errors.update({k: v for k, v in upload_problems.items() if k not in errors})
    entered = {
        k: v
        for k, v in raw.items()
        if not isinstance(v, dict | list) or all(isinstance(i, str) for i in v)
    }
    if errors:
        return _form_errors(request, token, form, entered, errors, bool(posted.files))
    uploads = [u for f in form.fields if f.type in MEDIA_TYPES for u in posted.files.get(f.key, [])]
    service = service_of(request)
    stored = await store_uploads(request, uploads)
    try:
        async with service.rt.db.write() as session:
            key = f"form:{posted.form_id}"
            if not await claim_post(session, key, service.rt.now()):
                number = await session.scalar(
                    select(InboundRecord.reply).where(
                        InboundRecord.channel == PAGE_CHANNEL, InboundRecord.dedupe_key == key
                    )
                )
                await discard_uploads(request, stored)
            else:
                await take_turn(session, service, claims)
                rows = attachment_rows(
                    stored, channel=customer.channel, complaint_id=None, now=service.rt.now()
                )
                session.add_all(rows)
                await session.flush()
                ids = {f"new-{i}": row.id for i, row in enumerate(rows)}
                values = {k: _with_ids(v, ids) for k, v in result.values.items()}
                fresh = await session.get(Customer, customer.id)
                assert fresh is not None
                complaint = await service.intake.submit_form(session, fresh, values, dedupe_key=key)
                number = complaint.number
                await session.execute(
                    update(InboundRecord)
                    .where(InboundRecord.channel == PAGE_CHANNEL, InboundRecord.dedupe_key == key)
                    .values(reply=number)
                )
    except FormRejected as exc:
        await discard_uploads(request, stored)
        errors = {p.key: p.message for p in exc.problems}
        return _form_errors(request, token, form, entered, errors, bool(posted.files))
    except BaseException:
        await discard_uploads(request, stored)
        raise
    if not number:  # the first submission of this form is still being written
        raise web.HTTPConflict(text="请稍候片刻再刷新页面")
    page = make_token(
        service.rt.link_secret,
        "complaint",
        customer_id=customer.id,
        number=number,
        now=service.rt.now(),
    )
    raise web.HTTPSeeOther(
        f"{PAGE_PREFIX}/{page}?done=created", headers={"Cache-Control": "no-store"}
    )


def _form_errors(
    request: web.Request,
    token: str,
    form: FormDefinition,
    entered: dict[str, Any],
    errors: dict[str, str],
    had_files: bool,
) -> web.Response:
    asked = {f.key for f in form.fields if f.asked}
    general = [f"{k}：{v}" for k, v in errors.items() if k not in asked]
    if had_files:
        general.append("为了安全，已选择的文件需要重新选择。")
    views = field_views(form, {}, entered, errors)
    return _render(request, token, form, views, general=general, status=400)
