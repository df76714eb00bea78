"""Reports through the REST API: KPIs as JSON, a chart as PNG, CSV for Excel (both databases)."""

from __future__ import annotations

import csv
import io

from aiohttp.test_utils import TestClient

from bot.integrations.tokens import create_token
from bot.service.wiring import Service

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": '=HYPERLINK("http://x")漏水',
}
LOGISTICS = {
    "客户姓名": "李雷",
    "联系电话": "13912345679",
    "投诉类型": "物流问题",
    "问题描述": "快递三天没有动静",
}


async def _setup(client: TestClient, service: Service) -> dict[str, str]:
    async with service.rt.db.write() as session:
        issued = await create_token(session, "bi", ("read", "write"), now=service.rt.now())
    headers = {"Authorization": f"Bearer {issued.secret}"}
    for values in (QUALITY, LOGISTICS, LOGISTICS):
        response = await client.post("/api/v1/complaints", json={"values": values}, headers=headers)
        assert response.status == 201
    return headers


async def test_kpis_come_as_json_overall_and_per_group(client: TestClient, service: Service):
    headers = await _setup(client, service)
    today = service.rt.now().astimezone(service.rt.tz).date().isoformat()
    response = await client.get(
        f"/api/v1/reports/kpis?from={today}&to={today}&group_by=type", headers=headers
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["period"]["first_day"] == today and body["period"]["last_day"] == today
    assert body["kpis"]["current"]["received"] == 3 and body["kpis"]["open_now"] == 3
    groups = {g["key"]: g["kpis"]["current"]["received"] for g in body["groups"]}
    assert groups == {"物流问题": 2, "产品质量": 1}
    narrowed = await (
        await client.get(f"/api/v1/reports/kpis?period={today}&type=物流问题", headers=headers)
    ).json()
    assert narrowed["kpis"]["current"]["received"] == 2 and narrowed["filter"] == {
        "type": "物流问题"
    }


async def test_bad_periods_are_refused(client: TestClient, service: Service):
    headers = await _setup(client, service)
    for query in (
        "from=2026-11-30&to=2026-11-01",
        "period=2026-W60",
        "from=1999-01-01",
        "from=2026-02-30",
        "group_by=weather",
    ):
        response = await client.get(f"/api/v1/reports/kpis?{query}", headers=headers)
        assert response.status == 400, query


async def test_the_csv_export_opens_in_excel(client: TestClient, service: Service):
    headers = await _setup(client, service)
    response = await client.get("/api/v1/complaints.csv?type=产品质量", headers=headers)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    raw = await response.read()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"))))
    header, *body = rows
    assert header[:3] == ["编号", "状态", "投诉类型"] and "问题描述" in header
    assert len(body) == 1 and body[0][1] == "待受理" and body[0][2] == "产品质量"
    described = body[0][header.index("问题描述")]
    assert described.startswith("'=HYPERLINK")  # no formula when Excel opens it
    everything = await client.get("/api/v1/complaints.csv", headers=headers)
    assert len((await everything.read()).decode("utf-8-sig").strip().splitlines()) == 4


async def test_a_chart_comes_as_png(client: TestClient, service: Service):
    headers = await _setup(client, service)
    response = await client.get("/api/v1/reports/charts/type_share.png", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "image/png"
    assert (await response.read()).startswith(b"\x89PNG")
    unknown = await client.get("/api/v1/reports/charts/pie.png", headers=headers)
    assert unknown.status == 404
