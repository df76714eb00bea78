"""The in-process pacer: never more than per_minute sends in any 60 s window, and no idle waits."""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.base import Pace
from bot.delivery.pacing import LocalPacer

LIMIT = 20
WINDOW = 60.0


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


def max_in_any_window(times: list[float], window: float) -> int:
    """The most sends inside any closed window [t, t + window]."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_right(ordered, t + window) - i for i, t in enumerate(ordered)), default=0
    )


offsets = st.lists(st.floats(min_value=0.0, max_value=900.0), min_size=1, max_size=200)


@given(offsets=offsets)
def test_never_more_than_the_limit_in_any_60s_window(offsets: list[float]) -> None:
    clock = Clock()
    pacer = LocalPacer(clock=clock)
    start = clock.t
    granted = []
    for offset in sorted(offsets):
        clock.t = start + offset
        if pacer.take("dingtalk-robot:a", LIMIT, clock.t) == 0.0:
            granted.append(clock.t)
    assert max_in_any_window(granted, WINDOW) <= LIMIT


@settings(max_examples=50)
@given(offsets=offsets, retries=st.integers(min_value=1, max_value=3))
async def test_senders_that_come_back_after_the_wait_all_get_through_within_the_limit(
    offsets: list[float], retries: int
) -> None:
    """Like the relay: a paced-out row comes back when told; all rows go out, none too fast."""
    clock = Clock()
    pacer = LocalPacer(clock=clock)
    start = clock.t
    pending = sorted(start + o for o in offsets)
    granted: list[float] = []
    while pending:
        clock.t = pending.pop(0)
        wait = await pacer.acquire(Pace("wecom-robot:k", LIMIT))
        if wait == 0.0:
            granted.append(clock.t)
        else:
            assert wait > 0.0
            bisect.insort(pending, clock.t + wait)
    assert len(granted) == len(offsets)
    assert max_in_any_window(granted, WINDOW) <= LIMIT


@given(burst=st.integers(min_value=1, max_value=LIMIT))
async def test_a_burst_up_to_the_limit_goes_out_at_once(burst: int) -> None:
    pacer = LocalPacer(clock=Clock())
    waits = [await pacer.acquire(Pace("k", LIMIT)) for _ in range(burst)]
    assert waits == [0.0] * burst


async def test_the_wait_is_until_the_oldest_send_leaves_the_window() -> None:
    clock = Clock()
    pacer = LocalPacer(clock=clock, margin=1.0)
    for _ in range(3):
        assert await pacer.acquire(Pace("k", 3)) == 0.0
        clock.t += 10
    wait = await pacer.acquire(Pace("k", 3))
    assert wait == 61.0 - 30.0
    clock.t += wait
    assert await pacer.acquire(Pace("k", 3)) == 0.0


async def test_keys_are_paced_separately() -> None:
    pacer = LocalPacer(clock=Clock())
    assert await pacer.acquire(Pace("a", 1)) == 0.0
    assert await pacer.acquire(Pace("a", 1)) > 0.0
    assert await pacer.acquire(Pace("b", 1)) == 0.0
