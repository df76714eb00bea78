"""A digest end to end: KPIs, markdown and chart PNGs from a real database."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.model import CHART_NAMES, DigestConfig
from bot.domain.directory import Department, Directory
from bot.reports import ChartRenderer, build_digest, parse_period
from storage.db import Database
from tests.integration.reports.builders import SHANGHAI, answer, complaint, local, timer
from tests.integration.reports.pngcheck import assert_real_chart

pytestmark = pytest.mark.filterwarnings("error")

NOW = local(2026, 11, 23, 9)
DIRECTORY = Directory(departments={"logistics": Department("logistics", "物流部")})


async def seed(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    rows = [
        complaint(
            1,
            day,
            status="closed",
            type="物流问题",
            department="logistics",
            first_response=day + timedelta(minutes=30),
            resolved=day + timedelta(hours=5),
            closed=day + timedelta(hours=6),
        ),
        complaint(
            2,
            day,
            status="in_progress",
            type="物流问题",
            department="logistics",
            current_step="handle",
            first_response=day + timedelta(minutes=10),
        ),
        complaint(
            3, day, status="new", type="产品质量", department="product", current_step="accept"
        ),
        complaint(4, local(2026, 11, 10, 9), type="产品质量"),
    ]
    async with db.write() as session:
        session.add_all(rows)
        await session.flush()
        session.add(answer(1, 5, day + timedelta(hours=8)))
        session.add(timer(2, "handle", "breached", day + timedelta(hours=24), "fired"))


async def test_weekly_digest_has_markdown_and_every_chart(
    db: Database, renderer: ChartRenderer, tmp_path: Path
) -> None:
    await seed(db)
    digest = DigestConfig(
        name="客服周报", group="management-group", charts=list(CHART_NAMES), filter={}
    )
    messages: list[str] = []
    async with db.read() as session:
        result = await build_digest(
            session,
            digest,
            parse_period("2026-W47", SHANGHAI),
            now=NOW,
            renderer=renderer,
            directory=DIRECTORY,
            progress=messages.append,
        )
    assert result.markdown.startswith("## 客服周报｜2026-W47")
    assert "- 新增投诉 **3** 起（↑200%）" in result.markdown
    assert "**超时未结 1 起**" in result.markdown
    assert "- TS0002（物流部·物流问题，已超时" in result.markdown
    assert "1. 物流问题：2 起，占 67%（上期为 0）" in result.markdown
    assert [name for name, _ in result.images] == list(CHART_NAMES)
    for _name, png in result.images:
        assert_real_chart(png)
    assert messages[0] == "客服周报 2026-W47: computing KPIs"
    assert sum(m.startswith("chart ") for m in messages) == len(CHART_NAMES)
    assert messages[-1] == "客服周报 2026-W47: done (7 charts)"
    written = result.write_to(tmp_path / "out")
    assert [p.name for p in written] == ["digest.md", *(f"{c}.png" for c in CHART_NAMES)]
    assert (tmp_path / "out" / "digest.md").read_text(encoding="utf-8") == result.markdown


async def test_digest_filter_comes_from_config(db: Database, renderer: ChartRenderer) -> None:
    await seed(db)
    digest = DigestConfig(
        name="物流周报", group="g", charts=["status_table"], filter={"department": "logistics"}
    )
    async with db.read() as session:
        result = await build_digest(
            session, digest, parse_period("2026-W47", SHANGHAI), now=NOW, renderer=renderer
        )
    assert result.kpis.current.received == 2
    assert len(result.images) == 1
