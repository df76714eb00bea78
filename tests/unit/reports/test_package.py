"""The package's public names and the digest's period choice."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import bot.reports
from bot.config.model import CHART_NAMES, DigestConfig
from bot.reports import (
    CHART_TITLES,
    ChartData,
    default_period,
    digest_period_kind,
    parse_digest_period,
)


def test_every_public_name_resolves() -> None:
    for name in bot.reports.__all__:
        assert getattr(bot.reports, name) is not None
    with pytest.raises(AttributeError):
        bot.reports.no_such_name  # noqa: B018


def test_every_configurable_chart_has_a_chinese_title() -> None:
    assert set(CHART_TITLES) == set(CHART_NAMES)


def test_table_emptiness_follows_rows() -> None:
    assert ChartData("status_table", "table", "t", "s").is_empty
    assert not ChartData("status_table", "table", "t", "s", columns=("a",), rows=(("1",),)).is_empty


@pytest.mark.parametrize(
    ("cron", "kind", "label"),
    [
        ("0 9 * * 1", "week", "2026-W47"),
        ("0 9 1 * *", "month", "2026-10"),
        ("30 8 * * *", "day", "2026-11-22"),
    ],
)
def test_a_digest_reports_the_period_its_cron_just_closed(cron: str, kind: str, label: str) -> None:
    digest = DigestConfig(name="客服周报", group="g", cron=cron, timezone="Asia/Shanghai")
    assert digest_period_kind(digest) == kind
    now = datetime(2026, 11, 23, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert default_period(digest, now).label == label


def test_a_period_argument_is_read_in_the_digests_time_zone() -> None:
    digest = DigestConfig(name="周报", group="g", timezone="America/New_York")
    period = parse_digest_period(digest, "2026-W47")
    assert period.start == datetime(2026, 11, 16, tzinfo=ZoneInfo("America/New_York"))
