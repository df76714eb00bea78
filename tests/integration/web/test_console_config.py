"""The config view and POST /api/v1/config/validate (check an edited YAML, apply nothing)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import CONFIG, SERVICE
from bot.config.loader import LoadedConfig
from bot.integrations.tokens import create_token
from bot.service.clock import FixedClock
from bot.settings import Settings
from bot.web.auth import CONSOLE_AUTH
from bot.web.console_session import LOCAL_USER
from tests.conftest import EXAMPLE_CONFIG

EXAMPLE = EXAMPLE_CONFIG.read_text(encoding="utf-8")
VALIDATE = "/api/v1/config/validate"

# (what to change, into what, the text on the line the problem is reported at, lines after it,
#  a piece of the message)
BROKEN = [
    (
        "  timezone: Asia/Shanghai\n  # Complaint",
        "  timezone: Mars/Olympus\n  # Complaint",
        "Mars/Olympus",
        0,
        "unknown time zone 'Mars/Olympus'",
    ),
    ("roles: [客服, 客服主管]", "roles: [客服, 产品不]", "产品不", 0, "unknown role '产品不'"),
    (
        "    department: cs\n    roles: [客服, 客服主管]",
        "    department: nowhere\n    roles: [客服, 客服主管]",
        "nowhere",
        0,
        "unknown department 'nowhere'",
    ),
    ("        next: route\n", "        next: routing\n", "routing", 0, "unknown step 'routing'"),
    (
        '          - if: 投诉类型 == "产品质量"',
        "          - if: 投诉类型 ==",
        "if: 投诉类型 ==\n",
        0,
        "expected a value after '=='",
    ),
    (
        "    when: complaint.created",
        "    when: complaint.made",
        "complaint.made",
        0,
        "unknown event 'complaint.made'",
    ),
    ('    cron: "0 9 * * 1"', '    cron: "99 9 * * 1"', "99 9", 0, "invalid cron expression"),
    ("\ndigests:\n", "\ndigest:\n", "digest:\n", 0, "unknown key"),
    ("  name: 示例科技有限公司", "  name: [示例科技有限公司", "[示例", 1, "YAML syntax error"),
    (
        "  timezone: Asia/Shanghai\n  # Complaint",
        "  timezone: Asia/Shanghai\n  timezone: Asia/Tokyo\n  # Complaint",
        "Tokyo",
        0,
        "duplicate key 'timezone'",
    ),
    (
        "        time_limit: 24h\n",
        "        time_limit: 24 hours\n",
        "24 hours",
        0,
        "'24 hours' is not a duration",
    ),
]


@pytest.fixture
async def console(
    aiohttp_client, app_settings: Settings, app_config: LoadedConfig
) -> AsyncIterator[TestClient]:
    settings = app_settings.model_copy(update={"host": "127.0.0.1"})
    clock = FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))
    yield await aiohttp_client(create_app(settings, app_config, clock=clock, background=False))


def csrf_of(console: TestClient) -> str:
    """The loopback user's CSRF token (the page's <meta name="csrf-token">)."""
    return console.app[CONSOLE_AUTH].csrf_token(LOCAL_USER)


async def validate(console: TestClient, text: str) -> dict:
    response = await console.post(
        VALIDATE, json={"yaml": text}, headers={"X-CSRF-Token": csrf_of(console)}
    )
    assert response.status == 200
    return await response.json()


async def test_config_view_shows_forms_flows_rules_and_channels(console: TestClient):
    response = await console.get("/console/config")
    assert response.status == 200
    html = await response.text()
    assert "检查通过" in html  # the current file, as on disk now
    assert (
        "投诉登记表" in html
        and "客户姓名" in html
        and "选项：产品质量、服务态度、物流问题、其他" in html
    )
    assert "投诉处理流程" in html and "大额赔偿会签" in html and "投诉所在部门负责人" in html
    svg = ET.fromstring(re.search(r"<svg .*?</svg>", html, re.S).group(0))
    assert {g.get("data-step") for g in svg.iter() if g.get("data-step")} >= {"accept", "end"}
    assert "新投诉通知客服主管" in html and "新投诉登记完成" in html
    assert "通知 客服部负责人：「新投诉 {number}：{投诉类型}，客户 {客户姓名}」" in html
    assert "把「当前状态」设为「处理中」" in html
    assert (
        "1天内满足「投诉类型 == &#34;产品质量&#34;」的投诉达到 5 起（按「订单号」分别计数）" in html
    )
    # Channels: on/off and why, never a credential.
    assert "已开启" in html and "未开启：缺少 app_id, app_secret" in html
    assert "一次性管理员令牌" in html
    token = console.app[CONSOLE_AUTH].admin_token
    assert token and token not in html


async def test_config_view_reports_a_file_broken_since_start(
    aiohttp_client, app_settings: Settings, tmp_path
):
    path = tmp_path / "bot.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    from bot.config.loader import load_config

    config = load_config(path)
    path.write_text(
        EXAMPLE.replace("roles: [客服, 客服主管]", "roles: [客服, 产品不]"), encoding="utf-8"
    )
    settings = app_settings.model_copy(update={"host": "127.0.0.1"})
    client = await aiohttp_client(create_app(settings, config, background=False))
    html = await (await client.get("/console/config")).text()
    assert "现在有 1 个问题" in html and "unknown role &#39;产品不&#39;" in html


async def test_validate_accepts_the_example_and_changes_nothing(console: TestClient):
    before = console.app[CONFIG]
    edited = EXAMPLE.replace("name: 示例科技有限公司", "name: 新名字有限公司")
    answer = await validate(console, edited)
    assert answer["ok"] is True and answer["problems"] == []
    assert answer["summary"]["flows"] == 1
    assert console.app[CONFIG] is before
    assert before.organization.name == "示例科技有限公司"


@pytest.mark.parametrize(
    "old, new, marker, after, message", BROKEN, ids=[case[4][:24] for case in BROKEN]
)
async def test_validate_reports_each_broken_file_with_its_line(
    console: TestClient, old: str, new: str, marker: str, after: int, message: str
):
    assert old in EXAMPLE
    broken = EXAMPLE.replace(old, new, 1)
    line = broken[: broken.index(marker)].count("\n") + 1 + after
    answer = await validate(console, broken)
    assert answer["ok"] is False
    first = answer["problems"][0]
    assert message in first["message"]
    assert first["line"] == line


async def test_validate_needs_no_secrets_and_checks_console_accounts(console: TestClient):
    # The example's ${WECHAT_APP_ID}… are unset here: those channels are simply off.
    bad_account = EXAMPLE + (
        "\nconsole:\n  accounts:\n    - name: admin\n      password_hash: hunter2\n"
        "    - name: admin\n      person: nobody\n"
        '      password_hash: "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$'
        'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"\n'
    )
    answer = await validate(console, bad_account)
    messages = [p["message"] for p in answer["problems"]]
    assert any("password_hash must look like scrypt$" in m for m in messages)
    assert not answer["ok"]


async def test_validate_refuses_bad_requests(console: TestClient):
    headers = {"X-CSRF-Token": csrf_of(console)}
    missing = await console.post(VALIDATE, json={"yaml": EXAMPLE})
    assert missing.status == 403  # no CSRF header
    wrong = await console.post(VALIDATE, json={"yaml": EXAMPLE}, headers={"X-CSRF-Token": "x"})
    assert wrong.status == 403
    not_json = await console.post(VALIDATE, data=b"organization: {}", headers=headers)
    assert not_json.status == 400
    no_text = await console.post(VALIDATE, json={"yaml": 5}, headers=headers)
    assert no_text.status == 400
    huge = await console.post(VALIDATE, json={"yaml": "#" * (600 * 1024)}, headers=headers)
    assert huge.status == 413


async def test_validate_refuses_alias_bombs(console: TestClient):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(12)
    )
    answer = await validate(console, bomb)
    assert answer["ok"] is False and "YAML aliases" in answer["problems"][0]["message"]


async def test_validate_takes_an_admin_api_token_without_a_session(
    aiohttp_client, app_settings: Settings, app_config: LoadedConfig
):
    settings = app_settings.model_copy(update={"host": "0.0.0.0"})
    client = await aiohttp_client(create_app(settings, app_config, background=False))
    service = client.app[SERVICE]
    async with service.rt.db.write() as s:
        admin = await create_token(s, "ops", ["admin"], now=service.rt.now())
        reader = await create_token(s, "bi", ["read"], now=service.rt.now())
    anonymous = await client.post(VALIDATE, json={"yaml": EXAMPLE})
    assert anonymous.status == 401
    weak = await client.post(
        VALIDATE, json={"yaml": EXAMPLE}, headers={"Authorization": f"Bearer {reader.secret}"}
    )
    assert weak.status == 401
    strong = await client.post(
        VALIDATE, json={"yaml": EXAMPLE}, headers={"Authorization": f"Bearer {admin.secret}"}
    )
    assert strong.status == 200 and (await strong.json())["ok"] is True
