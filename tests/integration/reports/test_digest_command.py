"""`python -m bot digest NAME`: --dry-run writes markdown and PNGs; a real run queues the digest
once, and a second run says it was already sent (both databases)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.config.loader import load_config
from storage.db import Database
from storage.models import DigestRun, OutboxMessage
from tests.conftest import EXAMPLE_CONFIG
from tests.integration.reports.builders import complaint, local
from tests.integration.reports.pngcheck import png_size

DIGEST = "客服周报"
PERIOD = "2026-W47"
CHARTS = load_config(EXAMPLE_CONFIG).digests[0].charts


@pytest.fixture
def cli_env(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The command's settings: the test database, its own data folder, the example config."""
    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("BOT_CONFIG", str(EXAMPLE_CONFIG))
    monkeypatch.setenv("SECRET_KEY", "cli-test")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    return data_dir


async def _seed(db: Database) -> None:
    """Two complaints in 2026-W47 (Shanghai), so the digest has something to count."""
    async with db.write() as session:
        session.add_all([complaint(n, local(2026, 11, 18, 10 + n)) for n in (1, 2)])


async def _run(*argv: str) -> int:
    # The command runs its own event loop (asyncio.run); keep it off this one.
    return await asyncio.to_thread(main, ["digest", DIGEST, *argv])


async def _counts(db: Database) -> tuple[int, int]:
    async with db.read() as session:
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
        runs = await session.scalar(select(func.count()).select_from(DigestRun))
    return outbox, runs


async def test_dry_run_writes_markdown_and_charts_and_sends_nothing(
    db: Database, cli_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    await _seed(db)
    out = tmp_path / "out"
    assert await _run("--period", PERIOD, "--dry-run", "--out", str(out)) == 0
    markdown = (out / "digest.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"## {DIGEST}｜{PERIOD}")
    assert "新增投诉 **2** 起" in markdown
    assert sorted(p.name for p in out.glob("*.png")) == sorted(f"{c}.png" for c in CHARTS)
    for chart in CHARTS:
        width, height = png_size((out / f"{chart}.png").read_bytes())
        assert width > 100 and height > 100
    assert f"wrote {len(CHARTS) + 1} file(s) to {out}" in capsys.readouterr().out
    assert await _counts(db) == (0, 0)


async def test_a_real_run_queues_once_and_a_second_run_is_already_sent(
    db: Database, cli_env: Path, capsys: pytest.CaptureFixture[str]
):
    await _seed(db)
    assert await _run("--period", PERIOD) == 0
    first = capsys.readouterr().out
    assert "queued: the running service delivers it to the group chat" in first
    async with db.read() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        run = (await session.scalars(select(DigestRun))).one()
    assert [r.kind for r in rows] == ["markdown", *("image" for _ in CHARTS)]
    # No DingTalk credentials: the management group is reached through the playground.
    assert {(r.channel, r.target) for r in rows} == {("playground", "group:management-group")}
    assert rows[0].idempotency_key == f"digest:{DIGEST}:{PERIOD}:text"
    assert "新增投诉 **2** 起" in rows[0].payload["text"]
    for image in rows[1:]:
        assert Path(image.payload["path"]).is_relative_to(cli_env / "digests")
        assert Path(image.payload["path"]).read_bytes()[:4] == b"\x89PNG"
    assert (run.digest, run.period, run.status) == (DIGEST, PERIOD, "queued")

    assert await _run("--period", PERIOD) == 0
    second = capsys.readouterr().out
    assert f"{DIGEST} {PERIOD}: already sent; nothing to do" in second
    assert "queued" not in second
    assert await _counts(db) == (len(rows), 1)


async def test_an_unknown_digest_is_named(cli_env: Path, capsys: pytest.CaptureFixture[str]):
    assert await asyncio.to_thread(main, ["digest", "没有这个报表", "--dry-run"]) == 2
    assert "no digest named '没有这个报表'" in capsys.readouterr().err
