"""Liveness, readiness and metrics on the running app."""

from __future__ import annotations

from aiohttp.test_utils import TestClient


async def test_healthz_and_readyz_answer(client: TestClient):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["database"] == "ok"


async def test_metrics_speak_prometheus_text(client: TestClient):
    response = await client.get("/metrics")
    assert response.status == 200
    assert "text/plain" in response.headers["Content-Type"]
    assert "outbox_depth" in await response.text()


async def test_complaint_list_starts_empty_and_rejects_bad_filters(client: TestClient):
    response = await client.get("/api/v1/complaints")
    assert (await response.json()) == {"items": [], "next_cursor": None}
    bad = await client.get("/api/v1/complaints?status=nope")
    assert bad.status == 400
    assert (await bad.json())["errors"][0]["field"] == "status"
