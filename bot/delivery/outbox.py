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

from sqlalchemy import Integer, Select, bindparam, exists, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

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


_OUTBOX = OutboxMessage.__table__
_CLAIMED_COLUMNS = ("id", "channel", "kind", "target", "payload", "idempotency_key", "attempts")


def _claim_statement(*, skip_locked: bool) -> Select[Any]:
    """Due, unleased rows no earlier row of their target holds back; :now and :limit bound."""
    now = bindparam("now", type_=_OUTBOX.c.due_at.type)
    earlier = _OUTBOX.alias("earlier")
    held_back = exists().where(
        earlier.c.target == _OUTBOX.c.target,
        earlier.c.channel.is_not_distinct_from(_OUTBOX.c.channel),
        earlier.c.status == "pending",
        earlier.c.id < _OUTBOX.c.id,
    )
    stmt = (
        select(*(_OUTBOX.c[name] for name in _CLAIMED_COLUMNS))
        .where(
            _OUTBOX.c.status == "pending",
            _OUTBOX.c.due_at <= now,
            or_(_OUTBOX.c.lease_until.is_(None), _OUTBOX.c.lease_until <= now),
            ~held_back,
        )
        .order_by(_OUTBOX.c.due_at, _OUTBOX.c.id)
        .limit(bindparam("limit", type_=Integer()))
    )
    if skip_locked:
        stmt = stmt.with_for_update(skip_locked=True, of=_OUTBOX)
    return stmt


# Built once (the claim runs every relay tick); PostgreSQL skips rows another relay is claiming.
_CLAIM = {False: _claim_statement(skip_locked=False), True: _claim_statement(skip_locked=True)}
_LEASE = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        attempts=_OUTBOX.c.attempts + 1,
        lease_until=bindparam("lease_until", type_=_OUTBOX.c.lease_until.type),
        lease_owner=bindparam("owner"),
    )
)


async def claim_rows(
    db: Database, *, now: datetime, limit: int, lease: timedelta, owner: str
) -> list[ClaimedRow]:
    """Lease up to `limit` due rows to `owner` (attempts + 1) and return snapshots of them."""
    async with db.write() as session:
        found = (
            await session.execute(_CLAIM[not db.is_sqlite], {"now": now, "limit": limit})
        ).all()
        if not found:
            return []
        await session.execute(
            _LEASE, {"ids": [r.id for r in found], "lease_until": now + lease, "owner": owner}
        )
    return [
        ClaimedRow(
            id=r.id,
            channel=r.channel,
            kind=r.kind,
            target=r.target,
            payload=dict(r.payload or {}),
            idempotency_key=r.idempotency_key,
            attempts=r.attempts + 1,
        )
        for r in found
    ]


def _locked_rows_statement(*, lock: bool) -> Select[Any]:
    stmt = (
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(bindparam("ids", expanding=True)))
        .order_by(OutboxMessage.id)  # one lock order for every relay: no deadlocks
        .execution_options(populate_existing=True)
    )
    return stmt.with_for_update() if lock else stmt


_LOCKED_ROWS = {False: _locked_rows_statement(lock=False), True: _locked_rows_statement(lock=True)}

# One claimed row's outcome to record: the row, what happened, and the adapter's answer.
OutcomeItem = tuple[ClaimedRow, Outcome, SendResult | BaseException | None]


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
    [recorded] = await record_outcomes(
        db, [(row, outcome, result)], owner=owner, now=now, hooks=hooks
    )
    return recorded


async def record_outcomes(
    db: Database,
    items: Sequence[OutcomeItem],
    *,
    owner: str,
    now: datetime,
    hooks: OutcomeHooks | None = None,
) -> list[bool]:
    """`record_outcome` for several rows in one transaction; one answer per item, in order."""
    hooks = hooks or OutcomeHooks()
    if not items:
        return []
    recorded: list[bool] = []
    async with db.write() as session:
        ids = sorted({row.id for row, _outcome, _result in items})
        rows = {
            r.id: r for r in (await session.scalars(_LOCKED_ROWS[not db.is_sqlite], {"ids": ids}))
        }
        follow_ups: list[tuple[OutboxMessage, Outcome, SendResult | BaseException | None]] = []
        for row, outcome, result in items:
            current = rows.get(row.id)
            done = current is not None and _apply(current, outcome, owner=owner, now=now)
            recorded.append(done)
            if done and outcome.status in ("sent", "failed"):
                follow_ups.append((current, outcome, result))  # type: ignore[arg-type]
        if follow_ups:
            await session.flush()  # the outcomes stand even if a hook's savepoint rolls back
        for current, outcome, result in follow_ups:
            if outcome.status == "sent":
                sent = result if isinstance(result, SendResult) else SendResult.delivered()
                for sent_hook in hooks.sent:
                    await _run_hook(session, current, "sent", sent_hook(session, current, sent))
            else:
                reason = outcome.error or "failed"
                for failed_hook in hooks.failed:
                    await _run_hook(
                        session, current, "failed", failed_hook(session, current, reason)
                    )
    return recorded


def _apply(current: OutboxMessage, outcome: Outcome, *, owner: str, now: datetime) -> bool:
    """Write one outcome onto its locked row; False when it was no longer ours to record."""
    if outcome.status == "sent":
        if current.status == "sent":
            return False
        current.status = "sent"
        current.sent_at = now
        current.receipt = _jsonable(dict(outcome.receipt))
        current.last_error = None
        current.lease_until = None
        current.lease_owner = None
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
    else:
        current.status = "failed"
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
