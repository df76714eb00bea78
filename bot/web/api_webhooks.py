"""Webhook subscriptions and their delivery logs (the outbox rows of each subscription)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select

from bot.integrations.events import WEBHOOKS_CHANNEL, delivery_prefix
from bot.web.api_core import Answer, ApiCall, ApiError, ApiTable, json_response
from bot.web.api_models import DeliveryOut, DeliveryPage, WebhookList, WebhookOut, dump
from bot.web.api_outbox import outbox_page, retry_failed
from bot.web.api_params import DeliveryPath, DeliveryQuery, WebhookPath
from storage.models import OutboxMessage

table = ApiTable("webhooks")


def _of(name: str):  # noqa: ANN202 - a SQL condition
    """Rows of one subscription: their keys start with its prefix (names have no % or _)."""
    return (OutboxMessage.channel == WEBHOOKS_CHANNEL) & OutboxMessage.idempotency_key.like(
        delivery_prefix(name) + "%"
    )


def _subscription(call: ApiCall, name: str) -> None:
    if not any(s.name == name for s in call.config.webhooks):
        raise ApiError(404, f"no webhook subscription '{name}'")


@table.add(
    "GET",
    "/api/v1/webhooks",
    summary="Webhook subscriptions with delivery counts",
    scope="admin",
    answers=(Answer(200, "Subscriptions", WebhookList),),
)
async def list_webhooks(call: ApiCall) -> web.Response:
    items = []
    async with call.db.read() as session:
        for sub in call.config.webhooks:
            counts = dict(
                (
                    await session.execute(
                        select(OutboxMessage.status, func.count())
                        .where(_of(sub.name))
                        .group_by(OutboxMessage.status)
                    )
                ).all()
            )
            items.append(
                WebhookOut(
                    name=sub.name,
                    url=sub.url,
                    events=list(sub.events),
                    active=sub.active,
                    pending=counts.get("pending", 0),
                    sent=counts.get("sent", 0),
                    failed=counts.get("failed", 0),
                )
            )
    return json_response(dump(WebhookList(items=items)))


def _delivery(row: OutboxMessage, number: str | None) -> DeliveryOut:
    return DeliveryOut(
        id=row.id,
        delivery=row.idempotency_key,
        event=(row.payload or {}).get("event"),
        complaint=number,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        last_error=row.last_error,
        created_at=row.created_at,
        due_at=row.due_at,
        sent_at=row.sent_at,
    )


@table.add(
    "GET",
    "/api/v1/webhooks/{name}/deliveries",
    summary="One subscription's delivery log, newest first",
    scope="admin",
    path_model=WebhookPath,
    query_model=DeliveryQuery,
    answers=(Answer(200, "A page", DeliveryPage),),
)
async def list_deliveries(call: ApiCall) -> web.Response:
    _subscription(call, call.path.name)
    q: DeliveryQuery = call.query
    page, cursor = await outbox_page(
        call, [_of(call.path.name)], status=q.status, cursor=q.cursor, limit=q.limit
    )
    return json_response(
        dump(DeliveryPage(items=[_delivery(row, n) for row, n in page], next_cursor=cursor))
    )


@table.add(
    "POST",
    "/api/v1/webhooks/{name}/deliveries/{id}/retry",
    summary="Send a failed delivery again (same delivery id)",
    scope="admin",
    path_model=DeliveryPath,
    answers=(
        Answer(200, "The delivery, pending again", DeliveryOut),
        Answer(409, "Only failed deliveries can be retried"),
    ),
)
async def retry_delivery(call: ApiCall) -> web.Response:
    _subscription(call, call.path.name)
    row, number = await retry_failed(
        call,
        [_of(call.path.name)],
        missing=f"no delivery {call.path.id} of '{call.path.name}'",
        noun="delivery",
    )
    return json_response(dump(_delivery(row, number)))
