"""KPI definitions on hand-built data with known answers, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta

import pytest

from bot.reports import ReportFilter, compute_kpis, parse_period
from storage.db import Database
from tests.integration.reports.builders import SHANGHAI, answer, complaint, local, minutes, timer

W47 = parse_period("2026-W47", SHANGHAI)  # Mon 2026-11-16 00:00 .. Mon 2026-11-23 00:00 local
NOW = local(2026, 11, 24, 9)


async def add(db: Database, *rows: object) -> None:
    async with db.write() as session:
        session.add_all(rows)
        await session.flush()


async def kpis(db: Database, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("now", NOW)
    async with db.read() as session:
        return await compute_kpis(session, W47, **kwargs)  # type: ignore[arg-type]


async def test_received_counts_local_week_boundaries(db: Database) -> None:
    await add(
        db,
        complaint(1, local(2026, 11, 16, 0, 0, 0)),  # Monday 00:00 local: this week
        complaint(2, local(2026, 11, 15, 23, 59, 59)),  # Sunday before: previous week
        complaint(3, local(2026, 11, 22, 23, 59, 59, 999999)),  # last instant of the week
        complaint(4, local(2026, 11, 23, 0, 0, 0)),  # next Monday: outside
        complaint(5, local(2026, 11, 9, 0, 0, 0)),  # first instant of the previous week
        complaint(6, local(2026, 11, 8, 23, 0, 0)),  # before the previous week
    )
    report = await kpis(db)
    assert report.current.received == 2
    assert report.previous is not None and report.previous.received == 2
    assert report.change["received"].relative == 0


async def test_week_start_is_local_midnight_not_utc_midnight(db: Database) -> None:
    # 2026-11-15 20:00 UTC is Monday 04:00 in Shanghai: this week, though still Sunday in UTC.
    await add(db, complaint(1, datetime.fromisoformat("2026-11-15T20:00:00+00:00")))
    report = await kpis(db)
    assert (report.current.received, report.previous.received) == (1, 0)  # type: ignore[union-attr]


async def test_closed_and_first_contact_resolution(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    await add(
        db,
        complaint(1, day - minutes(600), status="closed", closed=day),  # clean: counts for FCR
        complaint(2, day - minutes(600), status="closed", closed=day, reassigned=1),
        complaint(3, day - minutes(600), status="closed", closed=day, reopened=1),  # reclosed
        # Closed this week, then reopened: no longer closed, not counted.
        complaint(4, day - minutes(600), status="in_progress", closed=day, reopened=1),
        complaint(5, day - timedelta(days=8), status="closed", closed=day - timedelta(days=7)),
        complaint(6, day, status="cancelled"),
    )
    report = await kpis(db)
    assert report.current.closed == 3
    fcr = report.current.first_contact_resolution
    assert (fcr.numerator, fcr.denominator) == (1, 3)
    assert report.previous.closed == 1  # type: ignore[union-attr]
    assert report.change["first_contact_resolution"].delta == pytest.approx(1 / 3 - 1)


async def test_first_response_median_and_p90(db: Database) -> None:
    base = local(2026, 11, 17, 9)
    rows = [
        complaint(n, base, status="in_progress", first_response=base + minutes(m))
        for n, m in ((1, 10), (2, 20), (3, 30), (4, 40))
    ]
    # Created last week, answered this week: counts this week (first answered in it).
    early = local(2026, 11, 15, 23)
    rows.append(complaint(5, early, status="in_progress", first_response=local(2026, 11, 16, 1)))
    rows.append(complaint(6, base, status="new"))  # never answered: not counted
    await add(db, *rows)
    report = await kpis(db)
    frt = report.current.first_response
    assert frt.count == 5
    # Sorted minutes [10, 20, 30, 40, 120]: median 30, p90 at rank 3.6 -> 40 + 0.6 * 80 = 88.
    assert frt.median == minutes(30)
    assert frt.p90 == minutes(88)
    assert report.previous.first_response.count == 0  # type: ignore[union-attr]
    assert report.change["first_response_median"].relative is None


async def test_resolution_time_and_sla_compliance(db: Database) -> None:
    created = local(2026, 11, 16, 9)
    await add(
        db,
        complaint(1, created, status="resolved", resolved=created + timedelta(hours=2)),
        complaint(
            2,
            created,
            status="closed",
            resolved=created + timedelta(hours=4),
            closed=created + timedelta(hours=5),
        ),
        complaint(
            3,
            created,
            status="closed",
            resolved=created + timedelta(hours=30),
            closed=created + timedelta(hours=31),
        ),
        complaint(4, created, status="in_progress"),  # not resolved: not counted
    )
    await add(
        db,
        timer(3, "handle", "breached", created + timedelta(hours=24), "fired"),  # breached
        timer(2, "handle", "breached", created + timedelta(hours=24), "cancelled"),  # in time
        timer(1, "handle", "warning", created + timedelta(hours=1), "fired"),  # warning only
        timer(4, "handle", "breached", created + timedelta(hours=24), "fired"),  # not resolved
    )
    report = await kpis(db)
    art = report.current.resolution
    assert (art.count, art.median) == (3, timedelta(hours=4))
    assert art.p90 == timedelta(hours=4 + 0.8 * 26)
    sla = report.current.sla_compliance
    assert (sla.numerator, sla.denominator) == (2, 3)


async def test_csat_counts_answers_given_in_the_period(db: Database) -> None:
    closed = local(2026, 11, 17, 12)
    rows = [
        complaint(n, closed - timedelta(days=1), status="closed", closed=closed)
        for n in range(1, 8)
    ]
    await add(db, *rows)
    await add(
        db,
        answer(1, 5, closed + minutes(5)),
        answer(2, 4, closed + minutes(5)),
        answer(3, 3, closed + minutes(5)),
        answer(4, 1, closed + minutes(5)),
        answer(5, 5, local(2026, 11, 12, 8)),  # previous week
        # 6 and 7 never answered the survey: not in CSAT at all.
    )
    report = await kpis(db)
    assert (
        report.current.csat_satisfied.numerator,
        report.current.csat_satisfied.denominator,
    ) == (
        2,
        4,
    )
    assert report.current.csat_average == pytest.approx(3.25)
    assert report.previous.csat_satisfied.value == 1.0  # type: ignore[union-attr]
    assert report.change["csat_satisfied"].delta == pytest.approx(-0.5)


async def test_backlog_by_age_and_status_now(db: Database) -> None:
    await add(
        db,
        complaint(1, NOW - timedelta(hours=2), status="new"),
        complaint(2, NOW - timedelta(days=2), status="in_progress"),
        complaint(3, NOW - timedelta(days=10), status="resolved"),
        complaint(4, NOW - timedelta(days=40), status="in_progress"),
        complaint(5, NOW - timedelta(days=3, minutes=1), status="in_progress"),
        complaint(6, NOW - timedelta(days=2), status="closed", closed=NOW - timedelta(days=1)),
        complaint(7, NOW - timedelta(days=2), status="cancelled"),
    )
    report = await kpis(db)
    assert report.open_now == 5
    assert dict(report.status_now) == {"new": 1, "in_progress": 3, "resolved": 1}
    assert [(b.label, b.count) for b in report.backlog_by_age] == [
        ("1天内", 1),
        ("1–3天", 1),
        ("3–7天", 1),
        ("7–30天", 1),
        ("30天以上", 1),
    ]


async def test_current_breaches_follow_the_current_step(db: Database) -> None:
    created = local(2026, 11, 20, 9)
    await add(
        db,
        complaint(1, created, status="in_progress", current_step="handle"),
        complaint(2, created, status="in_progress", current_step="handle"),
        complaint(3, created, status="closed", current_step="end", closed=NOW),
        complaint(4, created, status="resolved", current_step="followup"),
    )
    await add(
        db,
        timer(1, "handle", "breached", created + timedelta(hours=26), "fired"),
        timer(1, "handle", "escalated", created + timedelta(hours=50), "fired"),
        # 2 breached an earlier step but is now within its current step's limit.
        timer(2, "accept", "breached", created + timedelta(hours=2), "fired"),
        timer(2, "handle", "breached", NOW + timedelta(hours=5), "pending"),
        timer(3, "handle", "breached", created + timedelta(hours=26), "fired"),
        timer(4, "followup", "breached", created + timedelta(hours=20), "fired"),
    )
    report = await kpis(db)
    assert report.current_breaches == 2
    assert [o.number for o in report.overdue] == ["TS0004", "TS0001"]
    assert report.overdue[1].breached_at == created + timedelta(hours=26)
    assert report.overdue[1].step == "handle"


async def test_overdue_list_is_capped_but_counts_all(db: Database) -> None:
    created = local(2026, 11, 20, 9)
    await add(
        db,
        *[complaint(n, created, status="in_progress", current_step="handle") for n in range(1, 8)],
    )
    await add(
        db,
        *[
            timer(n, "handle", "breached", created + timedelta(hours=n), "fired")
            for n in range(1, 8)
        ],
    )
    async with db.read() as session:
        report = await compute_kpis(session, W47, now=NOW, overdue_limit=3)
    assert report.current_breaches == 7
    assert [o.number for o in report.overdue] == ["TS0001", "TS0002", "TS0003"]


async def test_filters_narrow_every_figure(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    await add(
        db,
        complaint(1, day, type="产品质量", department="product", product="型号A"),
        complaint(2, day, type="产品质量", department="product", product="型号B"),
        complaint(3, day, type="物流问题", department="logistics", channel="staff-wecom"),
        complaint(4, day, type="服务态度", department="support", assignee="wangwu"),
    )

    async def received(flt: ReportFilter) -> int:
        return (await kpis(db, filter=flt)).current.received

    assert await received(ReportFilter()) == 4
    assert await received(ReportFilter(type="产品质量")) == 2
    assert await received(ReportFilter(type=("产品质量", "物流问题"))) == 3
    assert await received(ReportFilter(product="型号A")) == 1
    assert await received(ReportFilter(channel="staff-wecom")) == 1
    assert await received(ReportFilter(department="support", assignee="wangwu")) == 1
    assert await received(ReportFilter(department="support", assignee="lisi")) == 0
    flt = ReportFilter.from_mapping({"department": ["product", "logistics"]})
    report = await kpis(db, filter=flt)
    assert report.current.received == 3 and report.open_now == 3


async def test_top_types_products_and_problems(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    last_week = day - timedelta(days=7)
    specs = (
        [("产品质量", "型号A")] * 4
        + [("产品质量", None)] * 2
        + [("物流问题", None)] * 3
        + [("服务态度", "型号B")]
        + [(None, None)]
    )
    rows = [complaint(n, day, type=t, product=p) for n, (t, p) in enumerate(specs, start=1)]
    rows += [complaint(100 + n, last_week, type="物流问题") for n in range(5)]
    await add(db, *rows)
    report = await kpis(db)
    assert [(r.name, r.count, r.previous) for r in report.top_types] == [
        ("产品质量", 6, 0),
        ("物流问题", 3, 5),
        ("服务态度", 1, 0),
    ]
    assert [(r.name, r.count) for r in report.top_products] == [("型号A", 4), ("型号B", 1)]
    assert [(p.label, p.count, p.previous, p.product) for p in report.problems] == [
        ("产品质量", 6, 0, "型号A"),
        ("物流问题", 3, 5, None),
        ("服务态度", 1, 0, "型号B"),
    ]
    assert report.problems[0].product_count == 4


async def test_a_product_is_named_only_when_it_is_a_clear_share(db: Database) -> None:
    day = local(2026, 11, 18, 10)
    specs = [("产品质量", f"型号{n}") for n in range(6)] + [("产品质量", None)] * 4
    await add(db, *[complaint(n, day, type=t, product=p) for n, (t, p) in enumerate(specs, 1)])
    report = await kpis(db)
    assert report.problems[0].count == 10 and report.problems[0].product is None


class HalfTimeCalendar:
    """A stand-in working calendar: half of the wall-clock time counts as working time."""

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return (end - start) / 2


async def test_working_time_figures_use_the_calendar(db: Database) -> None:
    base = local(2026, 11, 17, 9)
    await add(
        db,
        complaint(
            1,
            base,
            status="resolved",
            first_response=base + minutes(60),
            resolved=base + timedelta(hours=10),
        ),
        complaint(
            2,
            base,
            status="resolved",
            first_response=base + minutes(20),
            resolved=base + timedelta(hours=4),
        ),
    )
    report = await kpis(db, calendar=HalfTimeCalendar())
    assert report.current.first_response.median == minutes(40)
    assert report.current.first_response_working is not None
    assert report.current.first_response_working.median == minutes(20)
    assert report.current.resolution_working is not None
    assert report.current.resolution_working.median == timedelta(hours=3.5)
    assert report.previous.first_response_working.count == 0  # type: ignore[union-attr]
    plain = await kpis(db)
    assert plain.current.first_response_working is None


async def test_percentiles_match_linear_interpolation_on_both_databases(db: Database) -> None:
    draw = random.Random(47)
    base = local(2026, 11, 16, 8)
    seconds = [draw.randint(1, 200_000) for _ in range(37)]
    await add(
        db,
        *[
            complaint(n, base, status="resolved", resolved=base + timedelta(seconds=s))
            for n, s in enumerate(seconds, start=1)
        ],
    )
    report = await kpis(db)
    # statistics' "inclusive" method is the same (n - 1) * p interpolation as percentile_cont.
    deciles = statistics.quantiles(seconds, n=10, method="inclusive")
    assert report.current.resolution.median == timedelta(seconds=statistics.median(seconds))
    assert report.current.resolution.p90 == timedelta(milliseconds=round(deciles[8] * 1000))


async def test_empty_database_gives_zeros_and_no_change(db: Database) -> None:
    report = await kpis(db)
    assert report.current.received == 0 and report.open_now == 0
    assert report.current.first_response.median is None
    assert report.current.sla_compliance.value is None
    assert report.current_breaches == 0 and report.overdue == ()
    assert all(change.delta in (0, None) for change in report.change.values())
    assert report.change["received"].relative is None
