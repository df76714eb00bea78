"""Prometheus metrics: counters kept in process, queue gauges read from the database per scrape.

Each `Metrics` has its own CollectorRegistry (never the global one), so tests and several apps in
one process do not collide. The gauges describe the shared database, so every worker reports the
same values. Counters are kept per process; under `serve --workers N` the workers share one port,
so a scrape reaches whichever worker the kernel picks, and per-process counters would jump
between workers' values (Prometheus would read every jump down as a reset). So `serve --workers`
sets PROMETHEUS_MULTIPROC_DIR before forking (prometheus_client's multiprocess mode: each
process writes its counters to a file there) and every worker's /metrics answers with the sums
over all the files: the service's totals, whoever answers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.delivery.outbox import utc_now
from storage.db import Database
from storage.models import OutboxMessage, Timer

log = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "MULTIPROCESS_DIR", "Metrics", "render_metrics"]

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_mode() -> bool:
    """True when this process's counters go to MULTIPROCESS_DIR (decided when prometheus_client
    was first imported, so the variable must be set before that: `serve --workers` does)."""
    return bool(os.environ.get(MULTIPROCESS_DIR)) and (
        prometheus_values.ValueClass is not prometheus_values.MutexValue
    )


@dataclass
class QueueSnapshot:
    """What the database said at the last scrape."""

    database_up: bool = False
    outbox_depth: dict[str, int] = field(default_factory=dict)  # pending, failed
    outbox_leased: int = 0
    outbox_oldest_pending_seconds: float = 0.0
    timers_pending: int = 0
    tick_lag_seconds: float = 0.0


class _QueueCollector(Collector):
    """Yields the gauges of the last snapshot (collect() is synchronous; the query is not)."""

    def __init__(self, metrics: Metrics):
        self._metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(QueueSnapshot(), with_samples=False))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(self._metrics.snapshot, with_samples=True))

    def _families(self, snap: QueueSnapshot, *, with_samples: bool) -> list[Metric]:
        name = self._metrics.name
        up = GaugeMetricFamily(name("database_up"), "1 if the last scrape could read the database")
        depth = GaugeMetricFamily(
            name("outbox_depth"),
            "Outbox rows waiting (pending) or given up (failed)",
            labels=["status"],
        )
        leased = GaugeMetricFamily(name("outbox_leased"), "Pending outbox rows a relay holds now")
        oldest = GaugeMetricFamily(
            name("outbox_oldest_pending_seconds"), "Age of the oldest pending outbox row"
        )
        timers = GaugeMetricFamily(name("timers_pending"), "Timers not fired yet")
        lag = GaugeMetricFamily(
            name("tick_lag_seconds"), "How long the oldest due, unfired timer has been due"
        )
        if with_samples:
            up.add_metric([], 1.0 if snap.database_up else 0.0)
            for status in ("pending", "failed"):
                depth.add_metric([status], float(snap.outbox_depth.get(status, 0)))
            leased.add_metric([], float(snap.outbox_leased))
            oldest.add_metric([], snap.outbox_oldest_pending_seconds)
            timers.add_metric([], float(snap.timers_pending))
            lag.add_metric([], snap.tick_lag_seconds)
        return [up, depth, leased, oldest, timers, lag]


class Metrics:
    """The service's Prometheus metrics; the callback code, relay and ticker increment them."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "",
        clock: Callable[[], datetime] = utc_now,
    ):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.namespace = namespace
        self._clock = clock
        self.snapshot = QueueSnapshot()
        self.callbacks = Counter(
            "callbacks",
            "Platform callbacks and stream events received",
            ["channel", "outcome"],
            namespace=namespace,
            registry=self.registry,
        )
        self.sends = Counter(
            "sends",
            "Outbox rows handled, by outcome: sent, later, retry, failed, gave_up, paced, off, "
            "released",
            ["channel", "kind", "outcome"],
            namespace=namespace,
            registry=self.registry,
        )
        self.send_failures = Counter(
            "send_failures",
            "Failed sends by platform error code or exception type",
            ["channel", "code"],
            namespace=namespace,
            registry=self.registry,
        )
        self.sla_breaches = Counter(
            "sla_breaches",
            "SLA timers fired at a breach level",
            ["level"],
            namespace=namespace,
            registry=self.registry,
        )
        self.timers_fired = Counter(
            "timers_fired",
            "Timers fired, by level",
            ["level"],
            namespace=namespace,
            registry=self.registry,
        )
        self.registry.register(_QueueCollector(self))
        # What /metrics shows: this registry, or (several workers) every worker's counters summed.
        self.exposed = self.registry
        if multiprocess_mode():
            from prometheus_client.multiprocess import MultiProcessCollector

            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed)
            self.exposed.register(_QueueCollector(self))

    def name(self, base: str) -> str:
        return f"{self.namespace}_{base}" if self.namespace else base

    def record_callback(self, channel: str, outcome: str) -> None:
        """Count one inbound delivery: outcome e.g. accepted, duplicate, rejected, error."""
        self.callbacks.labels(channel=channel, outcome=outcome).inc()

    def record_send(self, channel: str, kind: str, outcome: str) -> None:
        self.sends.labels(channel=channel, kind=kind, outcome=outcome).inc()

    def record_send_failure(self, channel: str, code: str) -> None:
        self.send_failures.labels(channel=channel, code=code).inc()

    def record_timer_fired(self, level: str, *, breach: bool) -> None:
        self.timers_fired.labels(level=level).inc()
        if breach:
            self.sla_breaches.labels(level=level).inc()

    async def refresh(self, db: Database) -> QueueSnapshot:
        """Read the queue gauges from the database (on failure: database_up 0, the rest kept)."""
        now = self._clock()
        try:
            async with db.read() as session:
                depth = dict(
                    (
                        await session.execute(
                            select(OutboxMessage.status, func.count())
                            .where(OutboxMessage.status.in_(("pending", "failed")))
                            .group_by(OutboxMessage.status)
                        )
                    )
                    .tuples()
                    .all()
                )
                leased = await session.scalar(
                    select(func.count()).where(
                        OutboxMessage.status == "pending", OutboxMessage.lease_until > now
                    )
                )
                oldest = await session.scalar(
                    select(func.min(OutboxMessage.created_at)).where(
                        OutboxMessage.status == "pending"
                    )
                )
                timers = await session.scalar(
                    select(func.count()).select_from(Timer).where(Timer.status == "pending")
                )
                oldest_due = await session.scalar(
                    select(func.min(Timer.due_at)).where(
                        Timer.status == "pending", Timer.due_at <= now
                    )
                )
        except Exception as exc:
            log.warning("metrics: database unavailable (%s)", type(exc).__name__, exc_info=True)
            self.snapshot.database_up = False
            return self.snapshot
        self.snapshot = QueueSnapshot(
            database_up=True,
            outbox_depth={str(k): int(v) for k, v in depth.items()},
            outbox_leased=int(leased or 0),
            outbox_oldest_pending_seconds=_age(now, oldest),
            timers_pending=int(timers or 0),
            tick_lag_seconds=_age(now, oldest_due),
        )
        return self.snapshot


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    return max(0.0, (now - then).total_seconds())


async def render_metrics(metrics: Metrics, db: Database) -> bytes:
    """The /metrics body (Prometheus text format; serve it with CONTENT_TYPE_LATEST)."""
    await metrics.refresh(db)
    return generate_latest(metrics.exposed)
