"""The outbox relay: claim due rows, send them through their channel's adapter, record the outcome.

One loop per worker process (`run`), any number of workers. A row goes through three short steps
and is never inside a transaction while the platform is asked:

1. claim (outbox.claim_rows): lease up to `batch` due rows, attempts + 1, commit;
2. send: the channel's pace is taken first (a paced-out row is put back due when a slot frees,
   without blocking the loop), then `adapter.send`, bounded by `send_timeout` (< lease, so a slow
   platform can never make two relays hold the same row);
3. record (outbox.record_outcomes): sent (+ receipt), pending again (later / backoff / paced), or
   failed, with the service's hooks in the same transaction. Outcomes are written in batches:
   those that arrive while a write runs go together into the next one (one transaction for
   many rows instead of one each), so no outcome waits for a slow send of its batch.

Delivery is at least once: a relay killed between 2 and 3 leaves a leased row that another relay
sends again, with the same idempotency key, after the lease. A database that cannot be reached
at step 3 is tried again for most of the lease, so an outage shorter than that does not make a
sent row go out twice. Rows for a channel with no adapter
(turned off, no credentials) stay pending with "channel X is off" and are looked at again after
`channel_off_recheck` seconds, or at once when a relay that has the channel starts: turning the
channel on delivers them. A row without a channel is sent by the adapter registered under "".
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.channels.base import ChannelAdapter, SendResult
from bot.delivery.metrics import Metrics
from bot.delivery.outbox import (
    CHANNEL_OFF,
    ClaimedRow,
    FailedHook,
    OutcomeHooks,
    OutcomeItem,
    SentHook,
    claim_rows,
    record_outcomes,
    release,
    utc_now,
    wake_channels,
)
from bot.delivery.outcomes import Backoff, Outcome, decide
from bot.delivery.pacing import LocalPacer, Pacer
from storage.db import Database

log = logging.getLogger(__name__)

# Pauses between tries to record an outcome while the database is unreachable; the last one
# repeats. A row whose outcome is not recorded is sent again when its lease ends, so the relay
# keeps trying for most of the lease (RECORD_SHARE_OF_LEASE of it, counted from the claim):
# a database back within that time means a sent message is not sent twice.
_RECORD_PAUSES = (0.2, 0.5, 1.0, 2.0, 5.0)
RECORD_SHARE_OF_LEASE = 0.9


def _owner_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutcomeWriter:
    """Group commit for outcomes: each `record` waits for the write its outcome went into.

    Outcomes handed in while no write runs start one at once (after the current loop turn, so
    sends finishing together share it); those handed in during a write go into the next. When a
    write of several fails, each outcome is written alone, so one row's trouble fails only its
    own `record`.
    """

    def __init__(self, write: Callable[[list[OutcomeItem]], Awaitable[list[bool]]]):
        self._write = write
        self._queue: list[tuple[OutcomeItem, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None

    async def record(self, item: OutcomeItem) -> bool:
        """Write one outcome (with whatever else is waiting); False when it was not ours."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def close(self) -> None:
        """Wait for the writes in hand (the relay stopping)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0)  # outcomes of sends that finish in this turn join
                batch, self._queue = self._queue, []
                try:
                    answers = await self._write([item for item, _future in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], exc)
                        continue
                    for item, future in batch:
                        try:
                            [answer] = await self._write([item])
                        except Exception as one_exc:
                            _settle(future, one_exc)
                        else:
                            _settle(future, answer)
                    continue
                for (_item, future), answer in zip(batch, answers, strict=True):
                    _settle(future, answer)
        finally:
            self._task = None


def _settle(future: asyncio.Future[bool], outcome: bool | BaseException) -> None:
    if future.done():  # its waiter was cancelled (the relay stopping): the write stands
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class OutboxRelay:
    """Delivers outbox rows; `run_once` for one batch, `run` for the loop, `stop` to finish."""

    def __init__(
        self,
        db: Database,
        adapters: Mapping[str, ChannelAdapter],
        pacer: Pacer | None = None,
        *,
        batch: int = 20,
        lease: float = 120.0,
        max_attempts: int = 8,
        backoff: Backoff | None = None,
        send_timeout: float | None = None,
        idle: float = 1.0,
        channel_off_recheck: float = 3600.0,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
        owner: str | None = None,
    ):
        self.db = db
        self.adapters = adapters
        self.pacer: Pacer = pacer if pacer is not None else LocalPacer()
        self.batch = batch
        self.lease = timedelta(seconds=lease)
        self.max_attempts = max_attempts
        self.backoff = backoff or Backoff()
        self.send_timeout = send_timeout if send_timeout is not None else lease / 2
        if self.send_timeout >= lease:
            # A send still running when its lease ends can be taken over and sent twice.
            log.warning(
                "outbox relay: send_timeout %.0f s is not below the lease %.0f s; a slow send "
                "may be duplicated by another relay",
                self.send_timeout,
                lease,
            )
        self.idle = idle
        self.channel_off_recheck = channel_off_recheck
        self.metrics = metrics
        self.owner = owner or _owner_id()
        self._clock = clock
        self._hooks = OutcomeHooks()
        self._writer = OutcomeWriter(self._write_outcomes)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._wakeup = asyncio.Event()

    # --- service hooks --------------------------------------------------------------------------

    def on_sent(self, hook: SentHook) -> SentHook:
        """Register `hook(session, row, result)`, run in the transaction that marks a row sent."""
        self._hooks.sent.append(hook)
        return hook

    def on_failed(self, hook: FailedHook) -> FailedHook:
        """Register `hook(session, row, reason)`, run in the transaction marking a row failed."""
        self._hooks.failed.append(hook)
        return hook

    # --- the loop -------------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stopping

    def nudge(self) -> None:
        """Wake an idle loop now (after committing new outbox rows), instead of after `idle`."""
        self._wakeup.set()

    async def run_once(self) -> int:
        """Claim one batch, send it and record every outcome; the number of rows claimed."""
        if self._stopping:
            return 0
        # Until when an outcome may still be recorded before the lease could be taken over.
        deadline = time.monotonic() + self.lease.total_seconds() * RECORD_SHARE_OF_LEASE
        rows = await claim_rows(
            self.db, now=self._clock(), limit=self.batch, lease=self.lease, owner=self.owner
        )
        if not rows:
            return 0
        tasks = [asyncio.create_task(self._deliver(row, deadline)) for row in rows]
        self._tasks.update(tasks)
        try:
            # return_exceptions: one row's trouble (or a cancel from stop()) never stops the rest
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._tasks.difference_update(tasks)
        return len(rows)

    async def run(self, stop_event: asyncio.Event | None = None) -> None:
        """Deliver until `stop_event` is set or `stop()` is called; idles when nothing is due."""
        watcher = asyncio.create_task(self._watch(stop_event)) if stop_event else None
        try:
            await self._wake_parked_rows()
            while not self._stopping:
                pause = self.idle
                try:
                    claimed = await self.run_once()
                except Exception:
                    log.exception("outbox relay: claiming failed; trying again shortly")
                    claimed, pause = 0, max(self.idle, 1.0)
                if claimed == 0 and not self._stopping:
                    await self._sleep(pause)
        finally:
            if watcher is not None:
                watcher.cancel()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; give rows in hand `grace` seconds to finish, then release the rest."""
        self._stopping = True
        self._wakeup.set()
        tasks = set(self._tasks)
        if tasks:
            _done, late = await asyncio.wait(tasks, timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        await self._writer.close()

    async def _watch(self, stop_event: asyncio.Event) -> None:
        await stop_event.wait()
        self._stopping = True
        self._wakeup.set()

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), seconds)
        except TimeoutError:
            pass
        self._wakeup.clear()

    async def _wake_parked_rows(self) -> None:
        try:
            woken = await wake_channels(self.db, list(self.adapters), now=self._clock())
        except Exception:
            log.exception("outbox relay: could not wake rows parked while their channel was off")
            return
        if woken:
            log.info("outbox relay: %d row(s) parked while their channel was off are due", woken)

    # --- one row --------------------------------------------------------------------------------

    async def _deliver(self, row: ClaimedRow, deadline: float) -> None:
        if self._stopping:  # claimed in the batch, never started: back to the queue at once
            await self._release([row], uncount=True)
            return
        adapter = self.adapters.get(row.channel or "")
        if adapter is None:
            off = CHANNEL_OFF.format(row.channel or "(none)")
            await self._record(
                row,
                Outcome(
                    "pending",
                    "off",
                    due_in=self.channel_off_recheck,
                    count_attempt=False,
                    error=off,
                ),
                deadline=deadline,
            )
            return
        message = row.message()
        result: SendResult | BaseException
        try:
            pace = adapter.pace(message)
            if pace is not None:
                wait = await self.pacer.acquire(pace)
                if wait > 0:
                    paced = Outcome("pending", "paced", due_in=wait, count_attempt=False)
                    await self._record(row, paced, deadline=deadline)
                    return
            result = await asyncio.wait_for(adapter.send(message), self.send_timeout)
        except asyncio.CancelledError:
            # stop() ran out of patience mid-send: hand the row back now, not after the lease.
            # The platform may have it already; the idempotency key covers the second send.
            await asyncio.shield(self._release([row], uncount=False))
            raise
        except TimeoutError:
            result = TimeoutError(f"no answer within {self.send_timeout:g} s")
        except Exception as exc:  # transport errors: retried with backoff
            result = exc
        outcome = decide(
            result, attempts=row.attempts, max_attempts=self.max_attempts, backoff=self.backoff
        )
        await self._record(row, outcome, result, deadline=deadline)

    async def _record(
        self,
        row: ClaimedRow,
        outcome: Outcome,
        result: SendResult | BaseException | None = None,
        *,
        deadline: float,
    ) -> None:
        failures = 0
        while True:
            try:
                recorded = await self._writer.record((row, outcome, result))
                break
            except Exception as exc:
                pause = _RECORD_PAUSES[min(failures, len(_RECORD_PAUSES) - 1)]
                failures += 1
                if time.monotonic() + pause >= deadline:
                    log.exception(
                        "outbox: could not record %s for row %s; it is sent again after its lease",
                        outcome.label,
                        row.id,
                    )
                    return
                log.warning(
                    "outbox: could not record %s for row %s (%s); trying again in %g s",
                    outcome.label,
                    row.id,
                    type(exc).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
        self._count(row, outcome, recorded)

    async def _write_outcomes(self, items: list[OutcomeItem]) -> list[bool]:
        return await record_outcomes(
            self.db, items, owner=self.owner, now=self._clock(), hooks=self._hooks
        )

    async def _release(self, rows: Sequence[ClaimedRow], *, uncount: bool) -> None:
        try:
            await release(self.db, rows, owner=self.owner, uncount=uncount)
        except Exception:
            log.exception("outbox: could not release %d row(s); their lease expires", len(rows))
            return
        for row in rows:
            self._count(row, Outcome("pending", "released", count_attempt=not uncount), True)

    def _count(self, row: ClaimedRow, outcome: Outcome, recorded: bool) -> None:
        channel = row.channel or "-"
        if outcome.status == "failed":
            log.warning("outbox: row %s to %s failed: %s", row.id, row.target, outcome.error)
        elif outcome.label == "retry":
            log.info("outbox: row %s to %s will be retried: %s", row.id, row.target, outcome.error)
        if not recorded:
            log.info("outbox: row %s was taken over by another relay; outcome dropped", row.id)
        if self.metrics is None:
            return
        self.metrics.record_send(channel, row.kind, outcome.label)
        if outcome.code is not None:
            self.metrics.record_send_failure(channel, outcome.code)
