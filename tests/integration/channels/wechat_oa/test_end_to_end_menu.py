"""`python -m bot wechat-menu NAME [--dry-run]`: print the menu, or push it to the fake WeChat."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.fakes.configs import example_data
from tests.fakes.wechat_oa_server import FakeWechatServer

DEFAULT_MENU = {
    "button": [
        {"type": "click", "name": "我要投诉", "key": "COMPLAIN"},
        {"type": "click", "name": "查询进度", "key": "PROGRESS"},
        # A click, answered with the customer's own signed form link (no OAuth needed).
        {"type": "click", "name": "在线填表", "key": "FORM"},
    ]
}


def _config_file(tmp_path: Path, api_base: str) -> Path:
    data = example_data()
    for channel in data["channels"]:
        if channel["name"] == "service":
            channel["api_base"] = api_base
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_dry_run_prints_the_menu_without_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://kf.example.cn")
    config = _config_file(tmp_path, "http://127.0.0.1:9")  # nothing listens there
    assert main(["wechat-menu", "service", "--dry-run", "--config", str(config)]) == 0
    assert json.loads(capsys.readouterr().out) == DEFAULT_MENU


def test_an_unknown_channel_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    config = _config_file(tmp_path, "http://127.0.0.1:9")
    assert main(["wechat-menu", "staff-wecom", "--dry-run", "--config", str(config)]) == 1
    assert "no wechat_oa channel named 'staff-wecom'" in capsys.readouterr().err


async def test_the_command_pushes_the_menu_to_wechat(
    server: FakeWechatServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    config = _config_file(tmp_path, server.url)
    for name, value in {
        "WECHAT_APP_ID": server.app_id,
        "WECHAT_APP_SECRET": server.app_secret,
        "WECHAT_TOKEN": server.token,
        "WECHAT_AES_KEY": server.encoding_aes_key,
    }.items():
        monkeypatch.setenv(name, value)
    # The command runs its own event loop; the fake serves from this one.
    argv = ["wechat-menu", "service", "--config", str(config)]
    assert await asyncio.to_thread(main, argv) == 0
    assert server.menu == DEFAULT_MENU
    assert json.loads(capsys.readouterr().out) == DEFAULT_MENU
