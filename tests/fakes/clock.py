"""A clock tests move by hand: aware datetimes (relay, ticker) and epoch floats (pacers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    """`clock()` -> aware datetime; `clock.time()` -> the same instant as epoch seconds."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def time(self) -> float:
        return self.now.timestamp()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
