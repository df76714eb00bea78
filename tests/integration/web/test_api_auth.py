"""Who may call the API: token scopes, revocation, anonymous loopback reads (both databases)."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from bot.integrations.tokens import SCOPES, create_token, revoke_tokens
from bot.service.wiring import Service
from bot.web.api import endpoints
from storage.models import ApiToken

SAMPLE_PATH = {
    "number": "TS20261123-0001",
    "id": "1",
    "name": "quality-board",
    "chart": "type_share",
}
OTHER_SCOPES = {s: [o for o in SCOPES if o not in (s, "admin")] for s in SCOPES}


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: SAMPLE_PATH[m.group(1)], path)


async def _headers(service: Service, name: str, *scopes: str) -> dict[str, str]:
    async with service.rt.db.write() as session:
        issued = await create_token(session, name, scopes, now=service.rt.now())
    return {"Authorization": f"Bearer {issued.secret}"}


async def test_every_endpoint_refuses_a_token_without_its_scope(
    client: TestClient, service: Service
):
    for endpoint in endpoints():
        assert endpoint.scope is not None
        headers = await _headers(service, "limited", *OTHER_SCOPES[endpoint.scope])
        response = await client.request(
            endpoint.method, _url(endpoint.path), headers=headers, json={}
        )
        assert response.status == 403, (endpoint.method, endpoint.path, response.status)
        body = await response.json()
        assert endpoint.scope in body["errors"][0]["message"]


async def test_a_token_with_the_scope_gets_past_the_door(client: TestClient, service: Service):
    for endpoint in endpoints():
        headers = await _headers(service, "full", endpoint.scope or "read")
        response = await client.request(
            endpoint.method, _url(endpoint.path), headers=headers, json={}
        )
        assert response.status not in (401, 403), (endpoint.method, endpoint.path)


@pytest.mark.parametrize("scope", ["read", "admin"])
async def test_a_revoked_token_gets_401(client: TestClient, service: Service, scope: str):
    headers = await _headers(service, "old-crm", scope)
    assert (await client.get("/api/v1/complaints", headers=headers)).status == 200
    async with service.rt.db.write() as session:
        assert await revoke_tokens(session, now=service.rt.now(), name="old-crm") == 1
    response = await client.get("/api/v1/complaints", headers=headers)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_unknown_and_malformed_tokens_get_401(client: TestClient):
    for value in ("Bearer cbt_nope", "Basic dXNlcjpwdw==", "Bearer ", "cbt_x"):
        response = await client.get("/api/v1/complaints", headers={"Authorization": value})
        assert response.status == 401, value


async def test_without_a_token_only_local_reads_are_answered(client: TestClient):
    assert (await client.get("/api/v1/complaints")).status == 200
    remote = await client.get("/api/v1/complaints", headers={"Host": "complaints.example.com"})
    assert remote.status == 401
    write = await client.post("/api/v1/complaints", json={"values": {}})
    assert write.status == 401
    admin = await client.get("/api/v1/webhooks")
    assert admin.status == 401


async def test_the_token_use_is_recorded(client: TestClient, service: Service):
    headers = await _headers(service, "hotline", "read")
    await client.get("/api/v1/complaints", headers=headers)
    async with service.rt.db.read() as session:
        row = await session.scalar(select(ApiToken).where(ApiToken.name == "hotline"))
    assert row is not None and row.last_used_at is not None
    assert row.secret_hash != headers["Authorization"].split()[1]
