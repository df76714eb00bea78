"""Complaints over the API: list, read, create (another system's intake), edit, act, comment.

Every write is one `db.write()` transaction through ComplaintService, on the timeline as the
token's integration ("integration:<token name>").
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards.build import ACTION_VERBS
from bot.expr import parse_duration
from bot.forms import FieldProblem, FormContext, FormDefinition, parse_answer
from bot.forms.definition import profile_default
from bot.service.complaints import FormRejected
from bot.service.loaded import load_complaint
from bot.web.api_core import Answer, ApiCall, ApiError, ApiTable, json_response
from bot.web.api_docs import action_body, create_body, patch_body, writable_keys
from bot.web.api_models import (
    ActionIn,
    CommentIn,
    CommentList,
    CommentOut,
    ComplaintCreate,
    ComplaintDetail,
    ComplaintPage,
    ComplaintPatch,
    CustomerIn,
    dump,
)
from bot.web.api_params import ComplaintPath, ComplaintQuery
from bot.web.api_query import decode_cursor, filtered, page_of
from bot.web.api_views import comment_out, comments_of, detail, find_complaint, summary
from bot.web.api_writes import Result, write
from bot.workflow import FLOW_ACTIONS, Action, ActionKind, available_actions
from storage.models import Comment, Complaint, Customer

table = ApiTable("complaints")
CREATED = {"Location": "The new complaint's URL"}
REPLAY = {"Idempotent-Replayed": "true when this answer replays an earlier request's"}
# Customer columns (storage.models.Customer): values from a form are cut to fit.
CUSTOMER_SIZES = {"name": 100, "phone": 32, "customer_no": 64}


@table.add(
    "GET",
    "/api/v1/complaints",
    summary="List complaints, newest first",
    scope="read",
    query_model=ComplaintQuery,
    answers=(Answer(200, "A page", ComplaintPage),),
)
async def list_complaints(call: ApiCall) -> web.Response:
    q: ComplaintQuery = call.query
    stmt = filtered(q)
    after = decode_cursor(q.cursor)
    if after is not None:
        stmt = stmt.where(Complaint.id < after)
    async with call.db.read() as session:
        rows = list(
            (await session.scalars(stmt.order_by(Complaint.id.desc()).limit(q.limit + 1)))
            .unique()
            .all()
        )
    page, cursor = page_of(rows, q.limit)
    return json_response(dump(ComplaintPage(items=[summary(c) for c in page], next_cursor=cursor)))


@table.add(
    "GET",
    "/api/v1/complaints/{number}",
    summary="One complaint with its timeline",
    scope="read",
    path_model=ComplaintPath,
    answers=(Answer(200, "The complaint", ComplaintDetail),),
)
async def get_complaint(call: ApiCall) -> web.Response:
    async with call.db.read() as session:
        complaint = await _complaint(session, call.path.number)
        body = await detail(session, call.service.rt, complaint)
    return json_response(dump(body))


async def _complaint(session: AsyncSession, number: str) -> Complaint:
    complaint = await find_complaint(session, number)
    if complaint is None:
        raise ApiError(404, f"no complaint {number}")
    return complaint


async def _detail(call: ApiCall, session: AsyncSession, number: str) -> dict[str, Any]:
    await session.flush()
    complaint = await _complaint(session, number)
    return dump(await detail(session, call.service.rt, complaint))


# --- create --------------------------------------------------------------------------------------


@table.add(
    "POST",
    "/api/v1/complaints",
    summary="Create a complaint (hotline, web form)",
    scope="write",
    body_model=ComplaintCreate,
    body_doc=create_body,
    idempotent=True,
    answers=(Answer(201, "Created", ComplaintDetail, headers={**CREATED, **REPLAY}),),
)
async def create_complaint(call: ApiCall) -> web.Response:
    body: ComplaintCreate = call.body
    service = call.service
    token = call.caller.token
    assert token is not None  # write scope

    async def compute(session: AsyncSession) -> Result:
        customer = await _customer(session, call, body.customer, body.values)
        lc = await service.complaints.create(
            session, values=body.values, channel=token.name, actor=token.actor, customer=customer
        )
        if customer is not None:
            _remember(customer, lc.form, lc.values, service.rt.now())
        number = lc.number
        return 201, await _detail(call, session, number), f"/api/v1/complaints/{number}"

    return await write(call, compute)


async def _customer(
    session: AsyncSession, call: ApiCall, given: CustomerIn | None, values: dict[str, Any]
) -> Customer | None:
    """The known customer with this customer number or phone, or a new one; None if anonymous."""
    rt = call.service.rt
    known = profile_values(rt.config.form_of(rt.config.intake_flow), values)
    if given is not None:
        known.update({k: v for k, v in given.model_dump().items() if v})
    name, phone, number = (known.get(k) for k in ("name", "phone", "customer_no"))
    if not (name or phone or number):
        return None
    for column, wanted in ((Customer.customer_no, number), (Customer.phone, phone)):
        if wanted:
            found = await session.scalar(
                select(Customer).where(column == wanted).order_by(Customer.id).limit(1)
            )
            if found is not None:
                return found
    now = rt.now()
    customer = Customer(
        channel=call.caller.name,
        external_id=None,
        name=name,
        phone=phone,
        customer_no=number,
        profile={},
        created_at=now,
        updated_at=now,
    )
    session.add(customer)
    await session.flush()
    return customer


def profile_values(form: FormDefinition, values: dict[str, Any]) -> dict[str, str]:
    """name / phone / customer_no from the fields whose default reads that profile key."""
    out: dict[str, str] = {}
    for field in form.fields:
        key = profile_default(field)
        if key not in CUSTOMER_SIZES:
            continue
        raw = values.get(field.key, values.get(field.label))
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
            out[key] = str(raw).strip()[: CUSTOMER_SIZES[key]]
    return out


def _remember(customer: Customer, form: FormDefinition, values: dict[str, Any], now: Any) -> None:
    """Fill what the customer record lacks from the form, as the chat intake does."""
    for key, value in profile_values(form, values).items():
        if not getattr(customer, key):
            setattr(customer, key, value)
    customer.updated_at = now


# --- edit ----------------------------------------------------------------------------------------


@table.add(
    "PATCH",
    "/api/v1/complaints/{number}",
    summary="Change fields the API may write",
    scope="write",
    path_model=ComplaintPath,
    body_model=ComplaintPatch,
    body_doc=patch_body,
    answers=(Answer(200, "The changed complaint", ComplaintDetail),),
)
async def patch_complaint(call: ApiCall) -> web.Response:
    body: ComplaintPatch = call.body
    service = call.service
    rt = service.rt
    writable = writable_keys(rt.config)
    actor = call.caller.actor

    async def compute(session: AsyncSession) -> Result:
        lc = await load_complaint(session, rt, number=call.path.number)
        ctx = FormContext(rt.now(), rt.tz, directory=rt.config.directory)
        typed: dict[str, Any] = {}
        problems: list[FieldProblem] = []
        for name, raw in body.values.items():
            field = lc.form.field(name)
            if field is None:
                problems.append(FieldProblem(name, name, f"没有“{name}”这一项"))
            elif field.key not in writable:
                problems.append(FieldProblem(field.key, field.label, "这一项不能通过接口修改"))
            else:
                value, problem = parse_answer(lc.form, field.key, raw, ctx)
                if problem is not None:
                    problems.append(problem)
                else:
                    typed[field.key] = value
        if problems:
            raise FormRejected(tuple(problems))
        change = service.complaints.begin(session, lc, actor=actor, now=rt.now())
        await change._write_fields(typed, actor=actor)
        change.pending.touched.update(task.task_id for task in lc.state.tasks)
        await service.complaints.commit_change(change)
        return 200, await _detail(call, session, lc.number), None

    return await write(call, compute)


# --- act -----------------------------------------------------------------------------------------


def _action(call: ApiCall, body: ActionIn, lc: Any) -> Action:
    rt = call.service.rt
    if rt.config.directory.person(body.person) is None:
        raise ApiError(422, f"unknown person '{body.person}'", field="person")
    kind = ActionKind(body.action)
    task_id = body.task_id
    if task_id is None and kind not in FLOW_ACTIONS and lc.state.tasks:
        ctx = lc.flow_context(rt, rt.now())
        allowed = available_actions(lc.flow, lc.state, body.person, ctx)
        task_id = next(
            (t for t, kinds in allowed.items() if kind in kinds), lc.state.tasks[0].task_id
        )
    values: dict[str, Any] = {}
    if body.values:
        form_ctx = FormContext(rt.now(), rt.tz, directory=rt.config.directory)
        problems = []
        for name, raw in body.values.items():
            if lc.form.field(name) is None:
                problems.append(FieldProblem(name, name, f"没有“{name}”这一项"))
                continue
            value, problem = parse_answer(lc.form, name, raw, form_ctx)
            if problem is not None:
                problems.append(problem)
            else:
                values[lc.form.require(name).key] = value
        if problems:
            raise FormRejected(tuple(problems))
    extend_by = None
    if body.extend_by:
        try:
            extend_by = parse_duration(body.extend_by)
        except ValueError:
            raise ApiError(422, "write the extension like 4h or 1d", field="extend_by") from None
    return Action(
        kind,
        body.person,
        task_id=task_id,
        target=body.target,
        values=values,
        text=body.text,
        extend_by=extend_by,
    )


@table.add(
    "POST",
    "/api/v1/complaints/{number}/actions",
    summary="Act on the workflow as a named staff member",
    scope="act",
    path_model=ComplaintPath,
    body_model=ActionIn,
    body_doc=action_body,
    idempotent=True,
    answers=(
        Answer(200, "The complaint after the action", ComplaintDetail, headers=REPLAY),
        Answer(409, "The action is not allowed now (reason in Chinese)"),
    ),
)
async def act(call: ApiCall) -> web.Response:
    body: ActionIn = call.body
    service = call.service
    integration = call.caller.name

    async def compute(session: AsyncSession) -> Result:
        lc = await load_complaint(session, service.rt, number=call.path.number)
        action = _action(call, body, lc)
        verb = ACTION_VERBS.get(body.action, body.action)

        async def note(change: Any) -> None:
            who = change.name(body.person)
            change.note(
                "api", f"经集成「{integration}」代 {who} 操作：{verb}", actor=call.caller.actor
            )

        lc = await service.complaints.act(session, lc.number, action, before_finish=note)
        return 200, await _detail(call, session, lc.number), None

    return await write(call, compute)


# --- comments ------------------------------------------------------------------------------------


@table.add(
    "GET",
    "/api/v1/complaints/{number}/comments",
    summary="A complaint's comments",
    scope="read",
    path_model=ComplaintPath,
    answers=(Answer(200, "Comments", CommentList),),
)
async def list_comments(call: ApiCall) -> web.Response:
    async with call.db.read() as session:
        complaint = await _complaint(session, call.path.number)
        items = await comments_of(session, complaint.id)
    return json_response(dump(CommentList(items=items)))


@table.add(
    "POST",
    "/api/v1/complaints/{number}/comments",
    summary="Comment (or reply to the customer)",
    scope="write",
    path_model=ComplaintPath,
    body_model=CommentIn,
    idempotent=True,
    answers=(Answer(201, "The comment", CommentOut, headers=REPLAY),),
)
async def add_comment(call: ApiCall) -> web.Response:
    body: CommentIn = call.body
    service = call.service

    async def compute(session: AsyncSession) -> Result:
        complaint = await _complaint(session, call.path.number)
        await service.complaints.comment(
            session,
            complaint.number,
            actor=call.caller.actor,
            text=body.text,
            to_customer=body.to_customer,
        )
        latest = await session.scalar(
            select(Comment)
            .where(Comment.complaint_id == complaint.id)
            .order_by(Comment.id.desc())
            .limit(1)
        )
        assert latest is not None
        location = f"/api/v1/complaints/{complaint.number}/comments"
        return 201, dump(comment_out(latest)), location

    return await write(call, compute)
