"""What a send's result means for its outbox row: sent, try again later, or give up.

Pure decisions over plain data, so every branch is tested without a database or a platform.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.channels.base import SendResult

RowStatus = Literal["sent", "pending", "failed"]

# A platform that answers later(0) must not make the relay spin on one row.
MIN_LATER_SECONDS = 1.0
ERROR_TEXT_LIMIT = 1000
_CODE = re.compile(r"\b(\d{3,6})\b")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt)).

    Full jitter (AWS architecture blog, "Exponential Backoff and Jitter") spreads the retries of
    many rows that failed together (a platform 5xx burst) instead of re-synchronising them.
    """

    base: float = 2.0
    cap: float = 900.0
    rng: Callable[[], float] = random.random

    def ceiling(self, attempt: int) -> float:
        """The largest delay after `attempt` failed attempts (1-based)."""
        exponent = min(max(attempt, 1), 62)  # 2**62 already dwarfs any cap
        return min(self.cap, self.base * 2.0**exponent)

    def delay(self, attempt: int) -> float:
        """A random delay in [0, ceiling(attempt)]."""
        return self.rng() * self.ceiling(attempt)


@dataclass(frozen=True)
class Outcome:
    """The row's next state after one send, and the labels it is counted under."""

    status: RowStatus
    label: str  # metrics outcome: sent, later, retry, failed, gave_up, paced, off, released
    due_in: float | None = None  # seconds from now, for pending rows
    count_attempt: bool = True  # False: the claim's attempt is given back (pace, later, off)
    error: str | None = None
    code: str | None = None  # failure code for send_failures_total
    receipt: Mapping[str, Any] = field(default_factory=dict)


def failure_code(result: SendResult | BaseException) -> str:
    """A short, low-cardinality label for a failure: the platform errcode or the error's type."""
    if isinstance(result, BaseException):
        code = getattr(result, "errcode", None) or getattr(result, "code", None)
        if isinstance(code, int | str) and str(code).strip():
            return str(code)
        return type(result).__name__
    for name in ("errcode", "code", "status"):
        value = result.receipt.get(name)
        if isinstance(value, int | str) and str(value).strip():
            return str(value)
    match = _CODE.search(result.error or "")
    if match:
        return match.group(1)
    if result.retry_after is not None:
        return "later"
    return "permanent" if result.permanent else "error"


def error_text(exc: BaseException) -> str:
    """`TypeName: message`, capped, for last_error."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:ERROR_TEXT_LIMIT]


def decide(
    result: SendResult | BaseException, *, attempts: int, max_attempts: int, backoff: Backoff
) -> Outcome:
    """Map a SendResult (or the exception `send` raised) to the row's next state.

    `attempts` counts this attempt (the claim counted it). Rate limits (`later`) do not count;
    transport errors and non-permanent failures back off and count, until `max_attempts`.
    """
    if isinstance(result, SendResult) and result.ok:
        return Outcome(status="sent", label="sent", receipt=dict(result.receipt))
    code = failure_code(result)
    if isinstance(result, SendResult):
        error = (result.error or "failed")[:ERROR_TEXT_LIMIT]
        if result.retry_after is not None:
            wait = max(MIN_LATER_SECONDS, float(result.retry_after))
            return Outcome(
                "pending", "later", due_in=wait, count_attempt=False, error=error, code=code
            )
        if result.permanent:
            return Outcome("failed", "failed", error=error, code=code)
    else:
        error = error_text(result)
    if attempts >= max_attempts:
        gave_up = f"gave up after {attempts} attempts: {error}"[:ERROR_TEXT_LIMIT]
        return Outcome("failed", "gave_up", error=gave_up, code=code)
    return Outcome("pending", "retry", due_in=backoff.delay(attempts), error=error, code=code)
