"""Durations as config text: parse, format, and the Chinese form people read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.expr import duration_in_chinese, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
        ("1w", timedelta(weeks=1)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        (" 24H ", timedelta(hours=24)),
        ("0m", timedelta(0)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration"),
        ("24", "has no unit: add s, m, h, d or w (e.g. 24m or 24h)"),
        ("1.5h", "uses a fraction: write whole units, e.g. 1h30m"),
        ("2x", "unknown unit 'x' in duration '2x'"),
        ("2hours", "unknown unit 'hours'"),
        ("1h1d", "write each unit once, largest first"),
        ("1h1h", "write each unit once, largest first"),
        ("-1h", "is negative"),
        ("h", "'h' is not a duration"),
        ("1h 30m", "'1h 30m' is not a duration"),
        ("99999999999999d", "is too long"),
    ],
)
def test_parse_duration_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert message in str(caught.value)


def test_parse_duration_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="expected a duration like 30m"):
        parse_duration(3600)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(minutes=30), "30m"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(weeks=1), "7d"),
        (timedelta(0), "0s"),
        (timedelta(hours=-2), "-2h"),
        (timedelta(seconds=5, microseconds=999), "5s"),
    ],
)
def test_format_duration(td: timedelta, text: str) -> None:
    assert format_duration(td) == text


@given(st.integers(min_value=0, max_value=10**9 * 86400 // 2))
def test_format_then_parse_round_trips(seconds: int) -> None:
    td = timedelta(seconds=seconds)
    assert parse_duration(format_duration(td)) == td


@given(
    st.dictionaries(
        st.sampled_from("wdhms"), st.integers(min_value=0, max_value=10_000), min_size=1
    )
)
def test_parse_then_format_then_parse_is_stable(parts: dict[str, int]) -> None:
    text = "".join(f"{parts[u]}{u}" for u in "wdhms" if u in parts)
    parsed = parse_duration(text)
    assert parse_duration(format_duration(parsed)) == parsed


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(days=1, hours=2), "1天2小时"),
        (timedelta(hours=24), "1天"),
        (timedelta(minutes=90), "1小时30分钟"),
        (timedelta(days=2, minutes=5, seconds=7), "2天5分钟"),
        (timedelta(seconds=45), "45秒"),
        (timedelta(0), "0秒"),
        (timedelta(hours=-3), "-3小时"),
    ],
)
def test_duration_in_chinese(td: timedelta, text: str) -> None:
    assert duration_in_chinese(td) == text
