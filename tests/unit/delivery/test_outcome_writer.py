"""OutcomeWriter: the relay's outcomes are written in batches, and one bad row fails alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.delivery.outbox import ClaimedRow
from bot.delivery.outcomes import Outcome
from bot.delivery.relay import OutcomeWriter


def _item(row_id: int) -> Any:
    row = ClaimedRow(
        id=row_id,
        channel="c",
        kind="text",
        target="user:u",
        payload={},
        idempotency_key=f"k{row_id}",
        attempts=1,
    )
    return (row, Outcome("sent", "sent"), None)


class Store:
    """A stand-in for record_outcomes: remembers each write's row ids; refuses `poison` rows."""

    def __init__(self, poison: frozenset[int] = frozenset(), mine: frozenset[int] | None = None):
        self.writes: list[list[int]] = []
        self.poison = poison
        self.mine = mine
        self.gate: asyncio.Event | None = None
        self.writing = asyncio.Event()

    async def write(self, items: list[Any]) -> list[bool]:
        ids = [row.id for row, _outcome, _result in items]
        self.writes.append(ids)
        self.writing.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.poison & set(ids):
            raise RuntimeError(f"cannot write {sorted(self.poison & set(ids))}")
        return [self.mine is None or i in self.mine for i in ids]


async def test_outcomes_handed_in_together_share_one_write() -> None:
    store = Store()
    writer = OutcomeWriter(store.write)
    answers = await asyncio.gather(*(writer.record(_item(i)) for i in range(1, 6)))
    assert answers == [True] * 5
    assert store.writes == [[1, 2, 3, 4, 5]]


async def test_outcomes_arriving_during_a_write_go_into_the_next_one() -> None:
    store = Store()
    store.gate = asyncio.Event()
    writer = OutcomeWriter(store.write)
    first = asyncio.create_task(writer.record(_item(1)))
    await store.writing.wait()
    later = [asyncio.create_task(writer.record(_item(i))) for i in (2, 3)]
    await asyncio.sleep(0)
    store.gate.set()
    assert await first and all(await asyncio.gather(*later))
    assert store.writes == [[1], [2, 3]]


async def test_each_answer_goes_to_its_own_outcome() -> None:
    store = Store(mine=frozenset({2}))
    writer = OutcomeWriter(store.write)
    answers = await asyncio.gather(*(writer.record(_item(i)) for i in (1, 2, 3)))
    assert answers == [False, True, False]


async def test_a_row_that_cannot_be_written_fails_only_its_own_record() -> None:
    store = Store(poison=frozenset({2}))
    writer = OutcomeWriter(store.write)
    results = await asyncio.gather(
        *(writer.record(_item(i)) for i in (1, 2, 3)), return_exceptions=True
    )
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], RuntimeError)
    # The batch failed, then each outcome was written alone.
    assert store.writes == [[1, 2, 3], [1], [2], [3]]


async def test_a_cancelled_waiter_does_not_stop_the_write() -> None:
    store = Store()
    store.gate = asyncio.Event()
    writer = OutcomeWriter(store.write)
    waiter = asyncio.create_task(writer.record(_item(1)))
    await store.writing.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    store.gate.set()
    await writer.close()
    assert store.writes == [[1]]
