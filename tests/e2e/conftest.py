"""Browser tests: the real server in a subprocess, driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT = 60.0  # seconds for migrations and start-up on a slow machine


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the real service in headless Chromium")


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """Where screenshots go: $TEST_ARTIFACTS (default test-artifacts/ at the repo root)."""
    base = Path(os.environ.get("TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder = base / request.node.name.replace("[", "-").replace("]", "")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def server(tmp_path: Path, artifacts: Path) -> Iterator[str]:
    """`python -m bot serve` on a free port with its own SQLite file and data folder."""
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WECHAT_", "WECOM_", "DINGTALK_")) and k != "REDIS_URL"
    }
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        DATA_DIR=str(tmp_path / "data"),
        BOT_CONFIG=str(EXAMPLE_CONFIG),
        HOST="127.0.0.1",
        PORT=str(port),
        RELAY_INTERVAL="0.1",
        TICK_INTERVAL="3600",
        SECRET_KEY="e2e-secret",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    log_path = artifacts / "server.log"
    with log_path.open("w") as log:
        # cwd is a temp folder so a developer's .env is not read.
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while not _ready(f"{base}/readyz"):
                if process.poll() is not None:
                    pytest.fail(f"the server exited at start:\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian package `chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
