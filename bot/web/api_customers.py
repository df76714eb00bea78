"""Customers over the API: find them, and read one with their complaint history."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import or_, select

from bot.web.api_core import Answer, ApiCall, ApiError, ApiTable, json_response
from bot.web.api_models import CustomerDetail, CustomerPage, dump
from bot.web.api_params import CustomerQuery, IdPath
from bot.web.api_query import decode_cursor, like_pattern, page_of
from bot.web.api_views import customer_out, summary
from storage.models import Complaint, Customer

table = ApiTable("customers")
HISTORY_LIMIT = 200


@table.add(
    "GET",
    "/api/v1/customers",
    summary="Find customers",
    scope="read",
    query_model=CustomerQuery,
    answers=(Answer(200, "A page", CustomerPage),),
)
async def list_customers(call: ApiCall) -> web.Response:
    q: CustomerQuery = call.query
    stmt = select(Customer)
    if q.phone:
        stmt = stmt.where(Customer.phone == q.phone)
    if q.customer_no:
        stmt = stmt.where(Customer.customer_no == q.customer_no)
    text = (q.q or "").strip()
    if text:
        like = like_pattern(text)
        stmt = stmt.where(
            or_(
                Customer.name.ilike(like, escape="\\"),
                Customer.phone.ilike(like, escape="\\"),
                Customer.customer_no.ilike(like, escape="\\"),
            )
        )
    after = decode_cursor(q.cursor)
    if after is not None:
        stmt = stmt.where(Customer.id < after)
    async with call.db.read() as session:
        rows = list(await session.scalars(stmt.order_by(Customer.id.desc()).limit(q.limit + 1)))
    page, cursor = page_of(rows, q.limit)
    return json_response(
        dump(CustomerPage(items=[customer_out(c) for c in page], next_cursor=cursor))
    )


@table.add(
    "GET",
    "/api/v1/customers/{id}",
    summary="A customer with their complaint history",
    scope="read",
    path_model=IdPath,
    answers=(Answer(200, "The customer", CustomerDetail),),
)
async def get_customer(call: ApiCall) -> web.Response:
    async with call.db.read() as session:
        customer = await session.get(Customer, call.path.id)
        if customer is None:
            raise ApiError(404, f"no customer {call.path.id}")
        complaints = await session.scalars(
            select(Complaint)
            .where(Complaint.customer_id == customer.id)
            .order_by(Complaint.created_at.desc(), Complaint.id.desc())
            .limit(HISTORY_LIMIT)
        )
        body = CustomerDetail(
            **customer_out(customer).model_dump(), complaints=[summary(c) for c in complaints]
        )
    return json_response(dump(body))
