"""feed_event: the single entry point for every platform delivery (webhooks, the DingTalk stream).

One transaction holds the inbound-event record and everything the event changes. The record's
unique (channel, dedupe key) turns a platform retry, sequential or concurrent, into a lookup of
the reply the first delivery got: it changes nothing and sends nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import CardClick, InboundEvent, InboundMessage, Reply
from bot.delivery.reply_cache import NoReplyCache, ReplyCache
from bot.service.outbox import queue_message
from bot.service.runtime import Runtime
from storage.db import table_text
from storage.models import InboundEvent as InboundRecord

log = logging.getLogger(__name__)

# Built once: the same statements for every delivery, compiled once per dialect.
_RECORD = table_text(
    "INSERT INTO inbound_events (channel, dedupe_key, received_at) "
    "VALUES (:channel, :dedupe_key, :received_at) "
    "ON CONFLICT (channel, dedupe_key) DO NOTHING RETURNING id",
    InboundRecord.__table__,
)
_STORED_REPLY = select(InboundRecord.reply).where(
    InboundRecord.channel == bindparam("channel"),
    InboundRecord.dedupe_key == bindparam("dedupe_key"),
)
_SET_REPLY = (
    update(InboundRecord.__table__)
    .where(InboundRecord.__table__.c.id == bindparam("record_id"))
    .values(reply=bindparam("reply"))
)

Handler = Callable[[AsyncSession, InboundEvent], Awaitable[str | None]]
# session.info key: coroutine factories a handler wants run once its transaction has committed.
AFTER_COMMIT = "after_commit"


def run_after_commit(session: AsyncSession, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job()` in the background once the inbound event's transaction has committed."""
    session.info.setdefault(AFTER_COMMIT, []).append(job)


async def _logged(work: Awaitable[object]) -> None:
    try:
        await work
    except Exception:
        log.exception("a follow-up of an inbound event failed")


CUSTOMER_PLATFORMS = ("wechat_oa",)

# Test-only fault points, off unless the variable is set (tests/integration/scale uses them to
# SIGKILL a process or cut its database at an exact moment). While the file the variable names
# exists, a delivery waits at that point: just before its transaction commits, or just after the
# commit and before the platform gets its answer. "<file>.reached" tells the test it got there.
PAUSE_BEFORE_COMMIT = "BOT_TEST_PAUSE_BEFORE_COMMIT"
PAUSE_AFTER_COMMIT = "BOT_TEST_PAUSE_AFTER_COMMIT"


def _held_at(path: str | None, *, announce: bool = False) -> bool:
    """Whether a test holds deliveries at this fault point (its file exists)."""
    if not path or not os.path.exists(path):
        return False
    if announce:
        Path(path + ".reached").touch()
    return True


async def _test_pause(path: str | None) -> None:
    if _held_at(path, announce=True):
        while _held_at(path):  # noqa: ASYNC110 - a file, not an event, is the signal here
            await asyncio.sleep(0.02)


class InboundDispatcher:
    """Dedupe, route to the customer intake or the staff desk, store the reply: one commit."""

    def __init__(
        self,
        rt: Runtime,
        *,
        customer: Handler,
        staff_message: Handler,
        staff_click: Handler,
        passive: Mapping[str, bool] | None = None,
        on_outcome: Callable[[str, str], None] | None = None,
        replies: ReplyCache | None = None,
    ):
        self.rt = rt
        self._customer = customer
        self._staff_message = staff_message
        self._staff_click = staff_click
        # channel -> whether the platform shows a passive reply (else the reply goes via outbox)
        self.passive: dict[str, bool] = dict(passive or {})
        self._on_outcome = on_outcome or (lambda channel, outcome: None)
        # Committed replies in Redis: a platform's retry is answered without a transaction.
        self.replies: ReplyCache = replies or NoReplyCache()
        self._background: set[asyncio.Task[None]] = set()
        self._pause_before_commit = os.environ.get(PAUSE_BEFORE_COMMIT)
        self._pause_after_commit = os.environ.get(PAUSE_AFTER_COMMIT)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 - a grace period, not a cancel
        """Wait for follow-ups still running (at shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    async def __call__(self, event: InboundEvent) -> Reply:
        return await self.feed(event)

    async def feed(self, event: InboundEvent) -> Reply:
        """Handle one delivery; Reply(accepted=False) when it could not be stored (retry later)."""
        cached = await self.replies.get(event.channel, event.dedupe_key)
        if cached is not None:
            self._on_outcome(event.channel, "duplicate")
            return Reply(text=cached.text)
        try:
            async with self.rt.db.write() as session:
                record_id = await self._record(session, event)
                if record_id is None:
                    stored = await session.scalar(
                        _STORED_REPLY,
                        {"channel": event.channel, "dedupe_key": event.dedupe_key[:256]},
                    )
                else:
                    stored = text = await self._route(session, event)
                    if text is not None:  # the record's reply is NULL until set
                        await session.execute(_SET_REPLY, {"record_id": record_id, "reply": text})
                    if text and not self.passive.get(event.channel, False):
                        await self._reply_later(session, event, text)
                        text = None
                    after = session.info.pop(AFTER_COMMIT, [])
                    await _test_pause(self._pause_before_commit)
            if record_id is None:
                # Remembered after the transaction: a slow Redis must not hold the writer.
                self._on_outcome(event.channel, "duplicate")
                await self.replies.put(event.channel, event.dedupe_key, stored)
                return Reply(text=stored)
            await _test_pause(self._pause_after_commit)
        except (OperationalError, DBAPIError, PoolTimeout, ConnectionError, OSError) as exc:
            # The platform must retry: answering 200 would make it think we have it. A pool
            # timeout (every connection busy for DB_POOL_TIMEOUT s) is the same: answer soon.
            log.warning(
                "inbound %s on %s not stored: %s",
                event.dedupe_key,
                event.channel,
                type(exc).__name__,
            )
            self._on_outcome(event.channel, "unavailable")
            return Reply(accepted=False)
        # Only now, committed, may the decision be remembered: a retry then gets the same reply.
        await self.replies.put(event.channel, event.dedupe_key, stored)
        self._on_outcome(event.channel, "accepted")
        for job in after:
            # Slow follow-ups (a digest a supervisor asked for) run after the answer, not before.
            task = asyncio.create_task(_logged(job()))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return Reply(text=text)

    async def _record(self, session: AsyncSession, event: InboundEvent) -> int | None:
        """Insert the delivery's record and return its id; None when this key was seen before."""
        params = {
            "channel": event.channel,
            "dedupe_key": event.dedupe_key[:256],
            "received_at": self.rt.now(),
        }
        return (await session.execute(_RECORD, params)).scalar_one_or_none()

    async def _route(self, session: AsyncSession, event: InboundEvent) -> str | None:
        if isinstance(event, CardClick):
            return await self._staff_click(session, event)
        platform = self.rt.routing.platform_of(event.channel)
        if platform in CUSTOMER_PLATFORMS:
            return await self._customer(session, event)
        if (
            platform == "playground"
            and self.rt.routing.person_for(event.channel, event.sender) is None
        ):
            return await self._customer(session, event)
        return await self._staff_message(session, event)

    async def _reply_later(self, session: AsyncSession, event: InboundMessage, text: str) -> None:
        await queue_message(
            session,
            key=f"reply:{event.channel}:{event.dedupe_key}",
            kind="text",
            channel=event.channel,
            target=f"user:{event.sender}",
            payload={"text": text},
            now=self.rt.now(),
        )
