"""Digests (weekly, daily or monthly): claimed once per period, built, queued to the group chat.

A digest run is a unique (digest, period) row, claimed before anything is built: a second
trigger, a second worker or a manual re-run finds the row and sends nothing. The markdown and
each chart go out through the outbox like any message; DingTalk shows images by URL only, so
each chart is also served at a signed, expiring URL under the public base URL.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from bot.config.model import DigestConfig
from bot.service.outbox import queue_message
from bot.service.routing import Route
from bot.service.runtime import Runtime
from storage.models import DigestRun

log = logging.getLogger(__name__)

IMAGE_LINK_LIFETIME = 30 * 24 * 3600  # seconds: group members scroll back
# A run still "running" after this was cut off (worker killed mid-build); another may take it over.
# A build takes seconds; the margin keeps a slow but live run from being doubled.
STALE_RUN = timedelta(minutes=15)
CRON_WEEKDAYS = {
    "0": "sun",
    "1": "mon",
    "2": "tue",
    "3": "wed",
    "4": "thu",
    "5": "fri",
    "6": "sat",
    "7": "sun",
}


def cron_trigger(cron: str, timezone: str):  # noqa: ANN201 - apscheduler CronTrigger
    """An APScheduler 3 CronTrigger for a crontab line, with crontab's weekday numbers.

    APScheduler 3 numbers weekdays from Monday = 0 while crontab uses Sunday = 0, so
    CronTrigger.from_crontab("0 9 * * 1") fires on Tuesdays (agronholm/apscheduler#455).
    Numbers in the weekday field become day names, which both read the same way.
    """
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = cron.split()
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_names(weekday),
        timezone=ZoneInfo(timezone),
    )


def _weekday_names(field: str) -> str:
    import re

    return re.sub(r"\d", lambda m: CRON_WEEKDAYS[m.group(0)], field)


def sign_image_path(secret: bytes, relative: str, expires: int) -> str:
    mac = hmac.new(secret, f"{relative}\n{expires}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{expires}/{mac}/{relative}"


def verify_image_path(secret: bytes, token: str, now: float) -> str | None:
    """The relative file path a signed image token names, or None when forged or expired."""
    expires_text, _, rest = token.partition("/")
    mac, _, relative = rest.partition("/")
    if not expires_text.isdigit() or int(expires_text) < now or ".." in relative.split("/"):
        return None
    expected = hmac.new(secret, f"{relative}\n{expires_text}".encode(), hashlib.sha256).hexdigest()
    return relative if hmac.compare_digest(mac, expected[:32]) else None


@dataclass(frozen=True)
class DigestOutcome:
    digest: str
    period: str
    status: str  # queued | already-sent | no-group | dry-run
    files: tuple[Path, ...] = ()


class DigestDesk:
    def __init__(self, rt: Runtime, data_dir: Path, renderer_factory: Callable[[], object]):
        self.rt = rt
        self.data_dir = data_dir
        self._renderer_factory = renderer_factory
        self._renderer: object | None = None

    @property
    def renderer(self):  # noqa: ANN201 - bot.reports.ChartRenderer
        if self._renderer is None:
            renderer = self._renderer_factory()
            renderer.start()  # type: ignore[attr-defined]
            self._renderer = renderer  # only once started: a failed start is tried again
        return self._renderer

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()  # type: ignore[attr-defined]
            self._renderer = None

    def config(self, name: str) -> DigestConfig:
        for digest in self.rt.config.digests:
            if digest.name == name:
                return digest
        known = ", ".join(d.name for d in self.rt.config.digests) or "none configured"
        raise KeyError(f"no digest named {name!r} (known: {known})")

    async def run(
        self,
        digest: DigestConfig,
        period_label: str | None = None,
        *,
        dry_run_to: Path | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> DigestOutcome:
        """Build and send one digest for a period (default: the period just ended), once."""
        from bot.reports import default_period, parse_period

        now = self.rt.now()
        tz = ZoneInfo(digest.timezone)
        period = parse_period(period_label, tz) if period_label else default_period(digest, now)
        say = progress or (lambda _m: None)
        if dry_run_to is None and not await self._claim(digest.name, period.label, now):
            say(f"{digest.name} {period.label}: already sent; nothing to do")
            return DigestOutcome(digest.name, period.label, "already-sent")
        try:
            built = await self._build(digest, period, now, say)
        except Exception as exc:
            if dry_run_to is None:
                # Free the period: the next trigger or a manual run builds it again.
                await self._fail(digest.name, period.label, f"{type(exc).__name__}: {exc}")
            raise
        if dry_run_to is not None:
            files = built.write_to(dry_run_to)
            say(f"wrote {len(files)} file(s) to {dry_run_to}")
            return DigestOutcome(digest.name, period.label, "dry-run", tuple(files))
        folder = self.data_dir / "digests" / _safe(digest.name) / period.label
        files = built.write_to(folder)
        route = self.rt.routing.group(digest.group)
        async with self.rt.db.write() as session:
            run = await session.scalar(
                select(DigestRun).where(
                    DigestRun.digest == digest.name, DigestRun.period == period.label
                )
            )
            if route is None:
                run.status, run.finished_at = "failed", now
                run.detail = {"error": f"group {digest.group} has no channel that is on"}
                log.warning("digest %s: group %s is unreachable", digest.name, digest.group)
                return DigestOutcome(digest.name, period.label, "no-group", tuple(files))
            await self._queue(
                session,
                route,
                built,
                key=f"digest:{digest.name}:{period.label}",
                folder=folder,
                now=now,
            )
            run.status, run.finished_at = "queued", now
            run.detail = {"files": [str(p) for p in files]}
        say(f"{digest.name} {period.label}: queued for {digest.group}")
        return DigestOutcome(digest.name, period.label, "queued", tuple(files))

    async def send_to_person(self, person_id: str, kind: str) -> DigestOutcome:
        """A supervisor asked in chat (本周报表 / 月报): this week or month so far, to them."""
        from bot.reports import period_containing

        now = self.rt.now()
        base = (self.rt.config.digests or (None,))[0] or DigestConfig(name="投诉报表", group="-")
        # The configured digest's filter and charts, under the name of what was asked for.
        digest = base.model_copy(
            update={"name": "本月投诉报表" if kind == "month" else "本周投诉报表"}
        )
        period = period_containing(now, kind, ZoneInfo(digest.timezone))  # type: ignore[arg-type]
        route = self.rt.routing.person(person_id)
        if route is None:
            return DigestOutcome(digest.name, period.label, "no-group")
        built = await self._build(digest, period, now)
        # Unique per request: two asks in one second must not share files or message keys.
        folder = self.data_dir / "digests" / "requests" / f"{person_id}-{uuid.uuid4().hex[:12]}"
        files = built.write_to(folder)
        async with self.rt.db.write() as session:
            await self._queue(
                session,
                route,
                built,
                key=f"digest-request:{person_id}:{folder.name}",
                folder=folder,
                now=now,
            )
        return DigestOutcome(digest.name, period.label, "queued", tuple(files))

    async def _build(
        self,
        digest: DigestConfig,
        period: Any,
        now: datetime,
        progress: Callable[[str], None] | None = None,
    ) -> Any:
        """The digest's text and charts for `period`, read in one read transaction."""
        from bot.reports import build_digest

        async with self.rt.db.read() as session:
            return await build_digest(
                session,
                digest,
                period,
                now=now,
                renderer=self.renderer,
                directory=self.rt.config.directory,
                calendar=self.rt.config.calendar,
                progress=progress,
            )

    async def _queue(
        self, session: Any, route: Route, built: Any, *, key: str, folder: Path, now: datetime
    ) -> None:
        """The markdown, then each chart as an image with its signed URL, to one chat."""
        await queue_message(
            session,
            key=f"{key}:text",
            kind="markdown",
            channel=route.channel,
            target=route.target,
            # The same words as the text's heading, so a platform that shows the title as a
            # first line (WeCom) does not show it twice.
            payload={"title": f"{built.name}｜{built.period.label}", "text": built.markdown},
            now=now,
        )
        expires = int(time.time()) + IMAGE_LINK_LIFETIME
        root = self.data_dir / "digests"
        for chart, _png in built.images:
            path = folder / f"{chart}.png"
            token = sign_image_path(self.rt.link_secret, path.relative_to(root).as_posix(), expires)
            await queue_message(
                session,
                key=f"{key}:{chart}",
                kind="image",
                channel=route.channel,
                target=route.target,
                payload={
                    "path": str(path),
                    "title": chart,
                    "url": f"{self.rt.public_base_url}/digests/{token}",
                },
                now=now,
            )

    async def _claim(self, name: str, period: str, now: datetime) -> bool:
        """Whether this caller runs (digest, period): new, failed before, or cut off mid-way."""
        async with self.rt.db.write() as session:
            insert = postgresql.insert if self.rt.db.dialect == "postgresql" else sqlite.insert
            table = DigestRun.__table__
            stmt = insert(DigestRun).values(
                digest=name, period=period, status="running", started_at=now, detail={}
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["digest", "period"],
                set_={"status": "running", "started_at": now, "finished_at": None},
                # One statement decides, so two workers retrying at once cannot both win.
                where=(table.c.status == "failed")
                | ((table.c.status == "running") & (table.c.started_at < now - STALE_RUN)),
            ).returning(DigestRun.id)
            return (await session.execute(stmt)).scalar_one_or_none() is not None

    async def _fail(self, name: str, period: str, error: str) -> None:
        async with self.rt.db.write() as session:
            run = await session.scalar(
                select(DigestRun).where(DigestRun.digest == name, DigestRun.period == period)
            )
            if run is not None:
                run.status, run.finished_at = "failed", self.rt.now()
                run.detail = {"error": error[:500]}
        log.error("digest %s %s failed; the next run tries again: %s", name, period, error)

    def schedule(self, scheduler: object) -> None:
        """One cron job per digest; a fire missed while down runs once at the next start."""
        for digest in self.rt.config.digests:
            scheduler.add_job(  # type: ignore[attr-defined]
                self._scheduled,
                cron_trigger(digest.cron, digest.timezone),
                args=[digest.name],
                id=f"digest:{digest.name}",
                misfire_grace_time=None,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )

    async def _scheduled(self, name: str) -> None:
        try:
            await self.run(self.config(name))
        except Exception:
            log.exception("digest %s failed; the next start or trigger tries again", name)

    async def catch_up(self) -> None:
        """At start: send each digest whose latest period was due while no worker ran."""
        for digest in self.rt.config.digests:
            trigger = cron_trigger(digest.cron, digest.timezone)
            now = self.rt.now()
            fire = trigger.get_next_fire_time(None, now - _period_span(digest))
            if fire is not None and fire <= now:
                await self._scheduled(digest.name)


def _period_span(digest: DigestConfig):  # noqa: ANN202 - timedelta
    from datetime import timedelta

    from bot.reports import digest_period_kind

    return {"day": timedelta(days=1), "week": timedelta(days=7), "month": timedelta(days=31)}[
        digest_period_kind(digest)
    ]


def _safe(name: str) -> str:
    """A folder name for a digest: its sha1 prefix keeps Chinese names out of URLs and paths."""
    return hashlib.sha1(name.encode()).hexdigest()[:12]
