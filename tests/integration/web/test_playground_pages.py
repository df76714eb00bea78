"""The playground page, its own scripts and styles, its start-up data, and when it is off."""

from __future__ import annotations

import json
import re
from pathlib import Path

from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.channels.base import OutboundMessage
from bot.config.loader import load_config
from bot.settings import Settings
from tests.conftest import EXAMPLE_CONFIG

MODULES = ("main.js", "cards.js", "chat.js", "clock.js", "tabs.js", "util.js")


def boot_of(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="pg-boot">(.*?)</script>', html, re.S)
    assert found, "the page carries its start-up data"
    return json.loads(found.group(1))


async def test_page_shows_the_three_panels_and_the_clock(client: TestClient):
    response = await client.get("/playground")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    for landmark in (
        'id="customer-chat"',
        'id="people"',
        'id="group-tabs"',
        'class="menu-bar"',
        "快进 1 小时",
        "快进 24 小时",
        "快进 48 小时",
        "我要投诉",
        "查询进度",
    ):
        assert landmark in html, landmark
    boot = boot_of(html)
    assert boot["channel"] == "playground"
    assert [p["id"] for p in boot["people"]][:2] == ["zhangsan", "xiaomei"]
    assert {g["id"] for g in boot["groups"]} == {"cs-group", "management-group"}
    assert boot["clock"]["available"] is True


async def test_page_loads_nothing_from_other_hosts(client: TestClient):
    response = await client.get("/playground")
    html = await response.text()
    assert not re.search(r'(src|href)="(https?:)?//', html), "no CDN: every asset is served here"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    for asset in re.findall(r'(?:src|href)="(/playground/static/[^"]+)"', html):
        assert (await client.get(asset)).status == 200, asset


async def test_static_files_have_their_types_and_revalidate(client: TestClient):
    for name in MODULES:
        response = await client.get(f"/playground/static/{name}")
        assert response.status == 200, name
        assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
    css = await client.get("/playground/static/playground.css")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    again = await client.get(
        "/playground/static/playground.css", headers={"If-None-Match": css.headers["ETag"]}
    )
    assert again.status == 304


async def test_static_files_outside_the_folder_are_not_served(client: TestClient):
    for path in (
        "/playground/static/nope.js",
        "/playground/static/..%2Fplayground.py",
        "/playground/static/playground.html",
    ):
        assert (await client.get(path)).status == 404, path


async def test_state_lists_people_with_their_platform(client: TestClient):
    state = await (await client.get("/playground/api/state")).json()
    people = {p["id"]: p for p in state["people"]}
    assert people["zhangsan"]["platform"] == "wecom" and people["zhangsan"]["head"] is True
    assert people["lisi"]["platform"] == "dingtalk"
    assert people["lisi"]["department_name"] == "产品部"
    assert [m["label"] for m in state["menu"]] == ["我要投诉", "查询进度", "使用帮助"]
    assert state["clock"]["steps"] == [1, 24, 48]


async def test_without_a_playground_channel_the_page_says_how_to_turn_it_on(
    aiohttp_client, app_settings: Settings, tmp_path: Path
):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    without = text.replace("  - name: playground\n    type: playground\n", "")
    assert without != text
    path = tmp_path / "no-playground.yaml"
    path.write_text(without, encoding="utf-8")
    client = await aiohttp_client(create_app(app_settings, load_config(path)))
    page = await client.get("/playground")
    assert page.status == 404
    assert "体验台未开启" in await page.text()
    api = await client.post("/playground/api/customer/messages", json={})
    assert api.status == 404
    assert "type: playground" in (await api.json())["error"]


async def test_group_images_are_served_from_the_data_folder_only(
    client: TestClient, app_settings: Settings
):
    pg = client.app[SERVICE].adapters["playground"]
    charts = app_settings.data_dir / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    (charts / "week.png").write_bytes(b"\x89PNG\r\n\x1a\n-chart-")
    outside = app_settings.data_dir.parent / "secret.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\n-secret-")
    for path in ("charts/week.png", "../secret.png"):
        await pg.send(
            OutboundMessage(
                id=1,
                kind="image",
                target="group:management-group",
                payload={"path": path, "title": "周报", "url": None},
                idempotency_key=path,
            )
        )
    shown, escaped = pg.inbox("group:management-group")
    image = await client.get(f"/playground/api/deliveries/{shown.seq}/image")
    assert image.status == 200 and await image.read() == b"\x89PNG\r\n\x1a\n-chart-"
    assert (await client.get(f"/playground/api/deliveries/{escaped.seq}/image")).status == 404
    assert (await client.get("/playground/api/deliveries/999999/image")).status == 404
