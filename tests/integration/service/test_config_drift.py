"""Open complaints standing in a step (or flow) the edited config no longer has are found and
named at start, with what to do; closed ones and ones that fit are left out (both databases)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import update

from bot.app import create_app
from bot.config.loader import LoadedConfig
from bot.service.config_drift import Stranded, describe, stranded_complaints
from bot.service.wiring import Service
from bot.settings import Settings
from storage.models import Complaint

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}


async def _complaints(service: Service, n: int) -> list[str]:
    numbers = []
    async with service.rt.db.write() as s:
        for _ in range(n):
            lc = await service.complaints.create(
                s, values=QUALITY, channel="playground", actor="customer"
            )
            numbers.append(lc.number)
    return numbers


async def _move(service: Service, number: str, **values: str) -> None:
    """What an edited config leaves behind: a complaint in a step or flow no longer there."""
    async with service.rt.db.write() as s:
        await s.execute(update(Complaint).where(Complaint.number == number).values(**values))


async def test_complaints_in_removed_steps_or_flows_are_found(
    service: Service, config: LoadedConfig
):
    fits, old_step, old_flow, closed = await _complaints(service, 4)
    await _move(service, old_step, current_step="质检复核")
    await _move(service, old_flow, flow="售后流程")
    await _move(service, closed, current_step="质检复核", status="closed")
    async with service.rt.db.read() as s:
        found = await stranded_complaints(s, config)
    assert found == [
        Stranded(old_step, "complaint", "质检复核", "step '质检复核' is not in flow 'complaint'"),
        Stranded(old_flow, "售后流程", "accept", "flow '售后流程' is not in the config"),
    ]
    assert fits not in {s.number for s in found}


def test_the_line_names_a_few_and_counts_the_rest() -> None:
    many = [Stranded(f"TS20261123-{i:04d}", "complaint", "x", "step 'x' gone") for i in range(12)]
    line = describe(many, "config/example.yaml")
    assert line.startswith("12 open complaint(s) cannot move on with config/example.yaml")
    assert "TS20261123-0009" in line and "TS20261123-0010" not in line
    assert "and 2 more" in line and "Put the step or flow back" in line


async def test_serve_warns_at_start(
    service: Service,
    config: LoadedConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
):
    [number] = await _complaints(service, 1)
    await _move(service, number, current_step="质检复核")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    settings = Settings(database_url=str(service.rt.db.write_engine.url.render_as_string(False)))
    caplog.set_level(logging.WARNING)
    runner = web.AppRunner(create_app(settings, config, background=False))
    await runner.setup()
    await runner.cleanup()
    warnings = [r.getMessage() for r in caplog.records if "cannot move on" in r.getMessage()]
    assert warnings == [
        f"1 open complaint(s) cannot move on with {config.source}: step '质检复核' is not in flow "
        f"'complaint' ({number}). Put the step or flow back in the config until they are "
        "closed, or close them in the console."
    ]
