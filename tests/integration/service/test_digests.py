"""Digests: sent once per (digest, period), to the group chat, with chart images at signed URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.reports.fonts import FontMissing
from bot.reports.renderer import ChartRenderer
from bot.service.clock import FixedClock
from bot.service.digests import cron_trigger, sign_image_path, verify_image_path
from bot.service.wiring import Service
from storage.models import DigestRun, OutboxMessage

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}


async def test_weekly_digest_goes_to_the_group_once(
    service: Service, clock: FixedClock, tmp_path: Path
):
    service.digests.data_dir = tmp_path
    async with service.rt.db.write() as s:
        for _ in range(3):
            await service.complaints.create(
                s, values=QUALITY, channel="playground", actor="customer"
            )
    clock.advance(timedelta(days=7))  # the next Monday: last week is complete
    digest = service.digests.config("客服周报")
    try:
        first = await service.digests.run(digest)
        second = await service.digests.run(digest)
    finally:
        service.digests.close()
    assert (first.status, second.status) == ("queued", "already-sent")
    assert first.period == "2026-W48"
    async with service.rt.db.read() as s:
        rows = (
            await s.scalars(
                select(OutboxMessage).where(OutboxMessage.target == "group:management-group")
            )
        ).all()
        runs = (await s.scalars(select(DigestRun))).all()
    assert [r.kind for r in rows] == ["markdown", "image", "image", "image", "image"]
    assert "新增投诉 **3** 起" in rows[0].payload["text"]
    assert "当前未结 **3** 起" in rows[0].payload["text"]
    for image in rows[1:]:
        assert Path(image.payload["path"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert image.payload["url"].startswith("http://127.0.0.1:8080/digests/")
    assert [(r.digest, r.period, r.status) for r in runs] == [("客服周报", "2026-W48", "queued")]


async def test_a_failed_run_frees_its_period_for_the_next_run(
    service: Service, clock: FixedClock, tmp_path: Path
):
    """A digest that fails to build (here: its chart font is missing) is not marked sent."""
    service.digests.data_dir = tmp_path
    working = service.digests._renderer_factory
    service.digests._renderer_factory = lambda: ChartRenderer(font_path=tmp_path / "none.ttf")
    clock.advance(timedelta(days=7))
    digest = service.digests.config("客服周报")
    try:
        with pytest.raises(FontMissing):
            await service.digests.run(digest)
        async with service.rt.db.read() as s:
            failed = (await s.scalars(select(DigestRun))).one()
        assert failed.status == "failed"
        assert "FontMissing" in failed.detail["error"]

        service.digests._renderer_factory = working
        again = await service.digests.run(digest)
        once_more = await service.digests.run(digest)
    finally:
        service.digests.close()
    assert (again.status, once_more.status) == ("queued", "already-sent")
    async with service.rt.db.read() as s:
        texts = (
            await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "markdown"))
        ).all()
    assert len(texts) == 1


@pytest.mark.parametrize(("started_ago", "expected"), [(16, "queued"), (5, "already-sent")])
async def test_a_run_cut_off_mid_way_is_taken_over_only_when_stale(
    service: Service, clock: FixedClock, tmp_path: Path, started_ago: int, expected: str
):
    """A worker killed while building leaves "running"; after 15 min another worker takes over."""
    service.digests.data_dir = tmp_path
    clock.advance(timedelta(days=7))
    async with service.rt.db.write() as s:
        s.add(
            DigestRun(
                digest="客服周报",
                period="2026-W48",
                status="running",
                started_at=service.rt.now() - timedelta(minutes=started_ago),
                detail={},
            )
        )
    try:
        outcome = await service.digests.run(service.digests.config("客服周报"))
    finally:
        service.digests.close()
    assert outcome.status == expected


def test_signed_image_paths_refuse_tampering_and_expiry():
    secret = b"s3cret"
    token = sign_image_path(secret, "abc/2026-W48/type_share.png", expires=2_000)
    assert verify_image_path(secret, token, now=1_000) == "abc/2026-W48/type_share.png"
    assert verify_image_path(secret, token, now=2_001) is None
    assert verify_image_path(b"other", token, now=1_000) is None
    assert verify_image_path(secret, token.replace("type_share", "weekly_trend"), now=1_000) is None
    forged = sign_image_path(secret, "../../etc/passwd", expires=2_000)
    assert verify_image_path(secret, forged, now=1_000) is None


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1)))
def test_monday_nine_means_monday_nine_in_shanghai(start: datetime):
    # APScheduler 3 numbers weekdays from Monday = 0; crontab's 1 must still mean Monday.
    fire = cron_trigger("0 9 * * 1", "Asia/Shanghai").get_next_fire_time(
        None, start.replace(tzinfo=UTC)
    )
    assert fire.weekday() == 0 and (fire.hour, fire.minute) == (9, 0)
    assert str(fire.tzinfo) == "Asia/Shanghai"
