"""What a send's result does to its outbox row: sent, later, backoff, give up, fail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.base import SendResult
from bot.delivery.outcomes import Backoff, decide, failure_code

FIXED = Backoff(base=2.0, cap=900.0, rng=lambda: 0.5)


class PlatformError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode


def test_delivered_is_sent_with_its_receipt() -> None:
    outcome = decide(
        SendResult.delivered(response_code="rc-1", via="template"),
        attempts=1,
        max_attempts=5,
        backoff=FIXED,
    )
    assert outcome.status == "sent" and outcome.label == "sent"
    assert dict(outcome.receipt) == {"response_code": "rc-1", "via": "template"}
    assert outcome.code is None


def test_later_waits_the_given_seconds_without_counting_an_attempt() -> None:
    outcome = decide(
        SendResult.later(42.0, "errcode 45009: api freq out of limit"),
        attempts=5,
        max_attempts=5,
        backoff=FIXED,
    )
    assert outcome.status == "pending" and outcome.label == "later"
    assert outcome.due_in == 42.0 and outcome.count_attempt is False
    assert outcome.code == "45009"


def test_later_zero_still_waits_a_moment() -> None:
    outcome = decide(SendResult.later(0, "429"), attempts=1, max_attempts=5, backoff=FIXED)
    assert outcome.due_in is not None and outcome.due_in >= 1.0


def test_permanent_failure_fails_at_once() -> None:
    outcome = decide(
        SendResult.failed("errcode 40003: invalid openid", permanent=True),
        attempts=1,
        max_attempts=5,
        backoff=FIXED,
    )
    assert outcome.status == "failed" and outcome.error == "errcode 40003: invalid openid"
    assert outcome.code == "40003"


def test_transport_error_backs_off_and_counts() -> None:
    outcome = decide(ConnectionResetError("peer reset"), attempts=3, max_attempts=5, backoff=FIXED)
    assert outcome.status == "pending" and outcome.label == "retry" and outcome.count_attempt
    assert outcome.due_in == 0.5 * 2.0 * 2**3
    assert outcome.error == "ConnectionResetError: peer reset"
    assert outcome.code == "ConnectionResetError"


def test_non_permanent_failure_is_retried_like_a_transport_error() -> None:
    outcome = decide(
        SendResult.failed("errcode -1: busy"), attempts=1, max_attempts=5, backoff=FIXED
    )
    assert outcome.status == "pending" and outcome.label == "retry"


def test_last_attempt_gives_up_with_the_reason() -> None:
    outcome = decide(TimeoutError("no answer"), attempts=5, max_attempts=5, backoff=FIXED)
    assert outcome.status == "failed" and outcome.label == "gave_up"
    assert outcome.error == "gave up after 5 attempts: TimeoutError: no answer"


def test_failure_code_prefers_the_platform_errcode() -> None:
    assert failure_code(PlatformError(130101, "send too fast")) == "130101"
    assert failure_code(SendResult.failed("boom")) == "error"
    assert failure_code(SendResult(ok=False, error="x", receipt={"errcode": 42001})) == "42001"


@given(attempt=st.integers(min_value=1, max_value=200), r=st.floats(min_value=0.0, max_value=1.0))
def test_backoff_stays_within_full_jitter_bounds(attempt: int, r: float) -> None:
    backoff = Backoff(base=2.0, cap=600.0, rng=lambda: r)
    delay = backoff.delay(attempt)
    assert 0.0 <= delay <= min(600.0, 2.0 * 2**attempt)
    assert delay <= 600.0


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 4.0), (2, 8.0), (5, 64.0), (20, 900.0)])
def test_backoff_ceiling_doubles_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert Backoff(base=2.0, cap=900.0).ceiling(attempt) == ceiling
