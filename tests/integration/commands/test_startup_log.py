"""The start-up log: each channel without credentials says once that it is off, and what to set."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import create_app
from bot.config.loader import load_config
from bot.settings import Settings
from tests.conftest import EXAMPLE_CONFIG


async def _start_and_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Build the app from the example config and run its start-up and shut-down."""
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    app = create_app(Settings(), load_config(EXAMPLE_CONFIG), background=False)
    runner = web.AppRunner(app)
    await runner.setup()  # runs the cleanup context up to its yield: the channels start
    await runner.cleanup()


def _off_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "is off" in r.getMessage()]


async def test_each_channel_without_credentials_logs_one_off_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO)
    await _start_and_stop(tmp_path, monkeypatch)
    assert sorted(_off_lines(caplog)) == [
        # The example's account is in safe mode (encrypt_mode: safe): its AES key is needed too.
        "channel service (wechat_oa) is off: set WECHAT_APP_ID (app_id), WECHAT_APP_SECRET "
        "(app_secret), WECHAT_TOKEN (token), WECHAT_AES_KEY (encoding_aes_key) to turn it on",
        "channel staff-dingtalk (dingtalk) is off: set DINGTALK_CLIENT_ID (client_id), "
        "DINGTALK_CLIENT_SECRET (client_secret) to turn it on",
        "channel staff-wecom (wecom) is off: set WECOM_CORP_ID (corp_id), WECOM_AGENT_ID "
        "(agent_id), WECOM_SECRET (secret), WECOM_TOKEN (token), WECOM_AES_KEY "
        "(encoding_aes_key) to turn it on",
    ]
    serving = [r.getMessage() for r in caplog.records if r.getMessage().startswith("serving:")]
    assert serving == [
        "serving: 1 channel(s) on (playground); off: service, staff-wecom, staff-dingtalk"
    ]


async def test_the_off_line_names_only_what_is_still_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    # Some credentials set: each off line names only the ones still missing.
    monkeypatch.setenv("WECHAT_APP_ID", "wx-app")
    monkeypatch.setenv("WECHAT_APP_SECRET", "wx-secret")
    monkeypatch.setenv("WECOM_CORP_ID", "ww-corp")
    caplog.set_level(logging.INFO)
    await _start_and_stop(tmp_path, monkeypatch)
    assert sorted(_off_lines(caplog)) == [
        "channel service (wechat_oa) is off: set WECHAT_TOKEN (token), WECHAT_AES_KEY "
        "(encoding_aes_key) to turn it on",
        "channel staff-dingtalk (dingtalk) is off: set DINGTALK_CLIENT_ID (client_id), "
        "DINGTALK_CLIENT_SECRET (client_secret) to turn it on",
        "channel staff-wecom (wecom) is off: set WECOM_AGENT_ID (agent_id), WECOM_SECRET "
        "(secret), WECOM_TOKEN (token), WECOM_AES_KEY (encoding_aes_key) to turn it on",
    ]
