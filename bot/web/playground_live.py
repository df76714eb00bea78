"""The playground's live side: server-sent events of every delivery, and the clock control."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.appkeys import CONFIG, SERVICE
from bot.channels.playground.adapter import SYSTEM_TARGET
from bot.web.playground_chat import client_id, json_body
from bot.web.playground_view import (
    CLOCK_STEPS,
    DeliveryView,
    PlaygroundError,
    adapter_of,
    clock_refusal,
    clock_state,
    require_adapter,
    viewer_for,
)

# A comment line now and then keeps proxies from closing an idle stream.
HEARTBEAT_EVERY = 15  # polls
# How often an idle stream checks that its browser is still there.
POLL_SECONDS = 1.0


def _event(name: str, data: Any, *, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {name}\ndata: {body}\n\n".encode()


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def events(request: web.Request) -> web.StreamResponse:
    """GET ?customer=<session>: a snapshot of the inboxes this page shows, then each delivery."""
    adapter = require_adapter(request)
    session = request.query.get("customer")
    viewer = viewer_for(request.app[CONFIG], client_id(session, "customer") if session else None)
    view = DeliveryView(request.app)
    service = request.app[SERVICE]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",
        }
    )
    # Subscribe before the snapshot: nothing published in between is lost, and anything in both
    # is skipped by its sequence number.
    queue = adapter.subscribe()
    try:
        await response.prepare(request)
        snapshot = adapter.deliveries(viewer.follows)
        last = max((d.seq for d in snapshot), default=0)
        payload = {"deliveries": [view(d) for d in snapshot], "clock": clock_state(service)}
        await response.write(_event("snapshot", payload, event_id=last))
        idle = 0
        while True:
            try:
                delivery = await asyncio.wait_for(queue.get(), timeout=POLL_SECONDS)
            except TimeoutError:
                if _gone(request):
                    break
                idle += 1
                if idle >= HEARTBEAT_EVERY:
                    await response.write(b": ping\n\n")
                    idle = 0
                continue
            if delivery is None:  # the service is shutting down
                break
            if delivery.seq <= last or not viewer.follows(delivery.target):
                continue
            if delivery.target == SYSTEM_TARGET:
                await response.write(_event(delivery.kind, dict(delivery.payload)))
            else:
                await response.write(_event("delivery", view(delivery), event_id=delivery.seq))
    except ConnectionResetError:
        pass  # the browser went away mid-write
    finally:
        adapter.unsubscribe(queue)
    return response


async def clock_get(request: web.Request) -> web.Response:
    return web.json_response(clock_state(request.app[SERVICE]))


async def clock_advance(request: web.Request) -> web.Response:
    """POST {"hours": 1|24|48}: move the playground clock, fire what came due, deliver at once."""
    service = request.app[SERVICE]
    reason = clock_refusal(service)
    if reason is not None:
        raise PlaygroundError(409, reason)
    body = await json_body(request)
    hours = body.get("hours")
    if isinstance(hours, bool) or hours not in CLOCK_STEPS:
        *first, last = (str(h) for h in CLOCK_STEPS)
        raise PlaygroundError(400, f"只能快进 {'、'.join(first)} 或 {last} 小时", field="hours")
    service.rt.clock.advance(timedelta(hours=hours))  # type: ignore[attr-defined]
    fired = await service.ticker.tick()
    service.relay.nudge()
    state = clock_state(service)
    adapter = adapter_of(request.app)
    if adapter is not None:
        adapter.announce("clock", state)
    return web.json_response({**state, "fired": fired})
