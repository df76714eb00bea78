"""The outbox table's side of delivery: claim due rows under a lease, record outcomes, requeue.

Every function is one short transaction; nothing here waits on a platform. On PostgreSQL the
claim is `SELECT … FOR UPDATE SKIP LOCKED LIMIT n` plus the lease update in the same transaction,
so concurrent relays never claim the same row; on SQLite (one process) the same statements run
inside `BEGIN IMMEDIATE`, which makes the whole claim exclusive.

Order per target: a row is claimable only when no earlier row (smaller id) of the same channel
and target is still pending, whether that row is leased, backing off or paced. So a notice never
overtakes the card it refers to, and this holds across relays, because the check reads the table,
not a relay's memory. What it cannot order: rows written by two concurrent transactions for the
same target (ids are handed out before commit) - those have no defined order to begin with.
Consequences worth knowing: a pending row whose channel is off holds back the later rows of its
target (they would be held back by the same switch anyway), and so does a row written with a
due_at in the future - the outbox is not a scheduler; delayed sends belong in timers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import exists, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.channels.base import OutboundMessage, SendResult
from bot.delivery.outcomes import Outcome
from storage.db import Database
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

# The service reacts to outcomes in the transaction that records them (WeCom response codes,
# timeline notes). A hook that raises is rolled back to its savepoint and logged; the outcome
# itself is still recorded, because the platform already has the message.
SentHook = Callable[[AsyncSession, OutboxMessage, SendResult], Awaitable[None]]
FailedHook = Callable[[AsyncSession, OutboxMessage, str], Awaitable[None]]

CHANNEL_OFF = "channel {} is off"


def utc_now() -> datetime:
    """The default clock of the relay and the ticker: aware UTC now."""
    return datetime.now(UTC)


@dataclass
class OutcomeHooks:
    sent: list[SentHook] = field(default_factory=list)
    failed: list[FailedHook] = field(default_factory=list)


@dataclass(frozen=True)
class ClaimedRow:
    """A snapshot of one claimed row, carried outside any session while it is sent."""

    id: int
    channel: str | None
    kind: str
    target: str
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int  # including the attempt this claim is for

    def message(self) -> OutboundMessage:
        return OutboundMessage(
            id=self.id,
            kind=self.kind,  # type: ignore[arg-type]  # the service writes only known kinds
            target=self.target,
            payload=self.payload,
            idempotency_key=self.idempotency_key,
            attempt=self.attempts,
        )


def _claimable(now: datetime) -> list[Any]:
    earlier = aliased(OutboxMessage, name="earlier")
    held_back = exists().where(
        earlier.target == OutboxMessage.target,
        earlier.channel.is_not_distinct_from(OutboxMessage.channel),
        earlier.status == "pending",
        earlier.id < OutboxMessage.id,
    )
    return [
        OutboxMessage.status == "pending",
        OutboxMessage.due_at <= now,
        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until <= now),
        ~held_back,
    ]


async def claim_rows(
    db: Database, *, now: datetime, limit: int, lease: timedelta, owner: str
) -> list[ClaimedRow]:
    """Lease up to `limit` due rows to `owner` (attempts + 1) and return snapshots of them."""
    stmt = (
        select(OutboxMessage)
        .where(*_claimable(now))
        .order_by(OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )
    if not db.is_sqlite:
        stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
    claimed: list[ClaimedRow] = []
    async with db.write() as session:
        rows = (await session.scalars(stmt.execution_options(populate_existing=True))).all()
        for row in rows:
            row.attempts += 1
            row.lease_until = now + lease
            row.lease_owner = owner
            claimed.append(
                ClaimedRow(
                    id=row.id,
                    channel=row.channel,
                    kind=row.kind,
                    target=row.target,
                    payload=dict(row.payload or {}),
                    idempotency_key=row.idempotency_key,
                    attempts=row.attempts,
                )
            )
    return claimed


async def _locked_row(db: Database, session: AsyncSession, row_id: int) -> OutboxMessage | None:
    stmt = select(OutboxMessage).where(OutboxMessage.id == row_id)
    if not db.is_sqlite:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt.execution_options(populate_existing=True))


async def record_outcome(
    db: Database,
    row: ClaimedRow,
    outcome: Outcome,
    *,
    owner: str,
    now: datetime,
    result: SendResult | BaseException | None = None,
    hooks: OutcomeHooks | None = None,
) -> bool:
    """Write the outcome of one claimed row; False when it was no longer ours to record.

    `sent` is recorded whoever holds the lease (the platform has the message); any other outcome
    only by the lease's owner on a row still pending, so a relay whose lease ran out never undoes
    what the relay that took the row over recorded.
    """
    hooks = hooks or OutcomeHooks()
    async with db.write() as session:
        current = await _locked_row(db, session, row.id)
        if current is None:
            return False
        if outcome.status == "sent":
            if current.status == "sent":
                return False
            current.status = "sent"
            current.sent_at = now
            current.receipt = _jsonable(dict(outcome.receipt))
            current.last_error = None
            current.lease_until = None
            current.lease_owner = None
            await session.flush()
            sent = result if isinstance(result, SendResult) else SendResult.delivered()
            for sent_hook in hooks.sent:
                await _run_hook(session, current, "sent", sent_hook(session, current, sent))
            return True
        if current.status != "pending" or current.lease_owner != owner:
            return False
        if not outcome.count_attempt:
            current.attempts = max(0, current.attempts - 1)
        if outcome.error is not None:
            current.last_error = outcome.error
        current.lease_until = None
        current.lease_owner = None
        if outcome.status == "pending":
            current.due_at = now + timedelta(seconds=outcome.due_in or 0.0)
            return True
        current.status = "failed"
        await session.flush()
        reason = outcome.error or "failed"
        for failed_hook in hooks.failed:
            await _run_hook(session, current, "failed", failed_hook(session, current, reason))
        return True


async def _run_hook(
    session: AsyncSession, row: OutboxMessage, what: str, call: Awaitable[None]
) -> None:
    try:
        async with session.begin_nested():
            await call
    except Exception:
        log.exception("outbox: the %s hook failed for row %s; outcome kept", what, row.id)
        if inspect(row).expired_attributes:
            await session.refresh(row)


async def release(db: Database, rows: Sequence[ClaimedRow], *, owner: str, uncount: bool) -> int:
    """Give claimed rows back at once (clear the lease); `uncount` returns their attempt too."""
    if not rows:
        return 0
    values: dict[str, Any] = {"lease_until": None, "lease_owner": None}
    if uncount:
        values["attempts"] = OutboxMessage.attempts - 1
    async with db.write() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([r.id for r in rows]),
                OutboxMessage.status == "pending",
                OutboxMessage.lease_owner == owner,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def requeue_failed(
    db: Database, ids: Sequence[int] | None = None, *, now: datetime | None = None
) -> int:
    """Put failed rows (all, or those in `ids`) back in the queue, due now, attempts reset."""
    if ids is not None and not ids:
        return 0
    stmt = update(OutboxMessage).where(OutboxMessage.status == "failed")
    if ids is not None:
        stmt = stmt.where(OutboxMessage.id.in_(list(ids)))
    async with db.write() as session:
        result = await session.execute(
            stmt.values(
                status="pending",
                attempts=0,
                due_at=now or utc_now(),
                lease_until=None,
                lease_owner=None,
            ).execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def wake_channels(db: Database, channels: Sequence[str], *, now: datetime) -> int:
    """Make rows parked because their channel was off due now, for channels that are on."""
    if not channels:
        return 0
    async with db.write() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.channel.in_(list(channels)),
                OutboxMessage.last_error.like(CHANNEL_OFF.format("%")),
                OutboxMessage.due_at > now,
            )
            .values(due_at=now)
            .execution_options(synchronize_session=False)
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _jsonable(receipt: dict[str, Any]) -> dict[str, Any]:
    """The receipt as plain JSON (an adapter may hand back a datetime or a bytes id)."""
    loaded: dict[str, Any] = json.loads(json.dumps(receipt, default=str, ensure_ascii=False))
    return loaded
