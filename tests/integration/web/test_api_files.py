"""Attachments through the REST API: upload, list, download (both databases)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.integrations.tokens import create_token
from bot.service.wiring import Service

VALUES = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "保温杯有裂缝，一倒水就漏",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _headers(service: Service, *scopes: str) -> dict[str, str]:
    async with service.rt.db.write() as session:
        issued = await create_token(session, "hotline", scopes, now=service.rt.now())
    return {"Authorization": f"Bearer {issued.secret}"}


async def test_an_uploaded_file_is_listed_and_downloads_byte_for_byte(
    client: TestClient, service: Service
):
    headers = await _headers(service, "read", "write")
    created = await client.post("/api/v1/complaints", json={"values": VALUES}, headers=headers)
    number = (await created.json())["number"]
    upload = await client.post(
        f"/api/v1/complaints/{number}/attachments?filename=../裂缝照片.png",
        data=PNG,
        headers={**headers, "Content-Type": "image/png"},
    )
    assert upload.status == 201, await upload.text()
    stored = await upload.json()
    assert (stored["kind"], stored["filename"], stored["size"]) == (
        "image",
        "裂缝照片.png",
        len(PNG),
    )
    assert upload.headers["Location"] == f"/api/v1/attachments/{stored['id']}"
    listed = await (
        await client.get(f"/api/v1/complaints/{number}/attachments", headers=headers)
    ).json()
    assert [a["id"] for a in listed["items"]] == [stored["id"]]
    download = await client.get(f"/api/v1/attachments/{stored['id']}", headers=headers)
    assert download.status == 200 and await download.read() == PNG
    assert download.headers["Content-Type"] == "image/png"
    detail = await (await client.get(f"/api/v1/complaints/{number}", headers=headers)).json()
    assert detail["timeline"][-1]["summary"] == "上传了附件 裂缝照片.png"


async def test_uploads_need_a_complaint_and_some_bytes(client: TestClient, service: Service):
    headers = await _headers(service, "read", "write")
    missing = await client.post(
        "/api/v1/complaints/TS20991231-0001/attachments?filename=a.txt", data=b"x", headers=headers
    )
    assert missing.status == 404
    created = await client.post("/api/v1/complaints", json={"values": VALUES}, headers=headers)
    number = (await created.json())["number"]
    empty = await client.post(
        f"/api/v1/complaints/{number}/attachments?filename=a.txt", data=b"", headers=headers
    )
    assert empty.status == 422
    nameless = await client.post(
        f"/api/v1/complaints/{number}/attachments", data=b"x", headers=headers
    )
    assert nameless.status == 400
    assert (await client.get("/api/v1/attachments/424242", headers=headers)).status == 404
