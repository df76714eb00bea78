"""Fake CRM, ERP and QMS on 127.0.0.1 (port 0): configured-connector endpoints with a log.

    CRM  GET  /crm/customers?phone=&customer_no=  -> {"data": {...}} or 404
         POST /crm/complaints                     -> {"ok": true} (failures scripted)
    ERP  GET  /erp/orders/{order_no}              -> {"order": {"status", "product"}} or 404
    QMS  POST /qms/items                          -> 201 {"id": "QI-0001", "link": ...}
                                                     (the same id again for a repeated
                                                     Idempotency-Key)

`hang` makes an endpoint wait until the test ends (the caller's timeout fires); `fail` answers
a status a number of times before answering normally. Every request is in `log`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class BusinessSystems:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # phone or no -> record
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # order_no -> record
    log: list[Seen] = field(default_factory=list)
    hang: set[str] = field(default_factory=set)  # "crm", "erp", "push", "qms"
    fail: dict[str, list[int]] = field(default_factory=dict)  # same keys -> statuses to answer
    items: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> item id
    base_url: str = ""
    _release: asyncio.Event = field(default_factory=asyncio.Event)

    def requests(self, path_prefix: str) -> list[Seen]:
        return [s for s in self.log if s.path.startswith(path_prefix)]

    async def _gate(self, name: str) -> web.Response | None:
        if name in self.hang:
            await self._release.wait()
        statuses = self.fail.get(name)
        if statuses:
            return web.json_response({"error": "scripted"}, status=statuses.pop(0))
        return None

    async def _record(self, request: web.Request) -> None:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.log.append(
            Seen(request.method, request.path, dict(request.query), dict(request.headers), body)
        )

    async def crm_lookup(self, request: web.Request) -> web.Response:
        await self._record(request)
        if (answer := await self._gate("crm")) is not None:
            return answer
        for key in ("customer_no", "phone"):
            record = self.customers.get(request.query.get(key, ""))
            if record is not None:
                return web.json_response({"data": record})
        return web.json_response({"error": "not found"}, status=404)

    async def crm_push(self, request: web.Request) -> web.Response:
        await self._record(request)
        if (answer := await self._gate("push")) is not None:
            return answer
        return web.json_response({"ok": True})

    async def erp_order(self, request: web.Request) -> web.Response:
        await self._record(request)
        if (answer := await self._gate("erp")) is not None:
            return answer
        record = self.orders.get(request.match_info["order_no"])
        if record is None:
            return web.json_response({"error": "no such order"}, status=404)
        return web.json_response({"order": record})

    async def qms_item(self, request: web.Request) -> web.Response:
        await self._record(request)
        if (answer := await self._gate("qms")) is not None:
            return answer
        key = request.headers.get("Idempotency-Key", "")
        item = self.items.get(key) or f"QI-{len(set(self.items.values())) + 1:04d}"
        self.items[key] = item
        return web.json_response(
            {"id": item, "link": f"{self.base_url}/qms/items/{item}"}, status=201
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/crm/customers", self.crm_lookup)
        app.router.add_post("/crm/complaints", self.crm_push)
        app.router.add_get("/erp/orders/{order_no}", self.erp_order)
        app.router.add_post("/qms/items", self.qms_item)
        return app


@asynccontextmanager
async def running_systems() -> AsyncIterator[BusinessSystems]:
    """The fake systems on 127.0.0.1, a free port; released hangs end when the block does."""
    systems = BusinessSystems()
    server = TestServer(systems.app(), host="127.0.0.1", port=0)
    await server.start_server()
    systems.base_url = str(server.make_url("")).rstrip("/")
    try:
        yield systems
    finally:
        systems._release.set()
        await server.close()
