"""/metrics gauges read from the database per scrape: outbox depth and age, timers, tick lag."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.delivery.metrics import Metrics, render_metrics
from bot.delivery.outbox import claim_rows
from storage.db import Database
from storage.models import OutboxMessage
from tests.fakes.clock import FakeClock
from tests.integration.delivery.helpers import add_complaint, add_outbox, add_timers, minutes


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_queue_gauges_come_from_the_database(db: Database) -> None:
    clock = FakeClock()
    await add_outbox(db, clock() - minutes(10), ["user:a"], key_prefix="old")
    await add_outbox(db, clock(), ["user:b", "user:c"], key_prefix="new")
    await claim_rows(db, now=clock(), limit=1, lease=timedelta(seconds=60), owner="r1")
    async with db.write() as session:
        session.add(
            OutboxMessage(
                idempotency_key="gone",
                kind="text",
                channel="staff",
                target="user:d",
                payload={},
                status="failed",
                attempts=8,
                due_at=clock(),
                created_at=clock(),
            )
        )
    complaint = await add_complaint(db, clock())
    await add_timers(db, complaint, [clock() - minutes(2), clock() + minutes(30)])
    metrics = Metrics(clock=clock)
    metrics.record_callback("service", "accepted")

    values = samples(await render_metrics(metrics, db))

    assert values[("database_up", ())] == 1.0
    assert values[("outbox_depth", (("status", "pending"),))] == 3.0
    assert values[("outbox_depth", (("status", "failed"),))] == 1.0
    assert values[("outbox_leased", ())] == 1.0
    assert values[("outbox_oldest_pending_seconds", ())] == 600.0
    assert values[("timers_pending", ())] == 2.0
    assert values[("tick_lag_seconds", ())] == 120.0
    assert values[("callbacks_total", (("channel", "service"), ("outcome", "accepted")))] == 1.0


async def test_an_empty_database_reports_zero_lag(db: Database) -> None:
    values = samples(await render_metrics(Metrics(), db))
    assert values[("tick_lag_seconds", ())] == 0.0
    assert values[("outbox_oldest_pending_seconds", ())] == 0.0


async def test_a_database_that_does_not_answer_reports_down(db: Database) -> None:
    metrics = Metrics()
    await render_metrics(metrics, db)
    broken = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        values = samples(await render_metrics(metrics, broken))
    finally:
        await broken.dispose()
    assert values[("database_up", ())] == 0.0
