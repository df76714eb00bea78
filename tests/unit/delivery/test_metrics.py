"""The Prometheus registry: own registry per Metrics, counters with the documented labels."""

from __future__ import annotations

from prometheus_client import generate_latest

from bot.delivery.metrics import Metrics


def test_two_metrics_objects_do_not_share_counters() -> None:
    first, second = Metrics(), Metrics()
    first.record_callback("service", "accepted")
    assert b'callbacks_total{channel="service",outcome="accepted"} 1.0' in generate_latest(
        first.registry
    )
    assert b'outcome="accepted"} 1.0' not in generate_latest(second.registry)


def test_counters_are_exposed_with_their_labels() -> None:
    metrics = Metrics()
    metrics.record_send("staff", "card", "sent")
    metrics.record_send_failure("staff", "130101")
    metrics.record_timer_fired("breached", breach=True)
    metrics.record_timer_fired("warning", breach=False)
    text = generate_latest(metrics.registry).decode()
    assert 'sends_total{channel="staff",kind="card",outcome="sent"} 1.0' in text
    assert 'send_failures_total{channel="staff",code="130101"} 1.0' in text
    assert 'sla_breaches_total{level="breached"} 1.0' in text
    assert 'sla_breaches_total{level="warning"}' not in text
    assert 'timers_fired_total{level="warning"} 1.0' in text


def test_queue_gauges_report_zero_and_database_down_before_the_first_scrape() -> None:
    text = generate_latest(Metrics().registry).decode()
    assert "database_up 0.0" in text
    assert 'outbox_depth{status="pending"} 0.0' in text
    assert "tick_lag_seconds 0.0" in text


def test_namespace_prefixes_every_name() -> None:
    text = generate_latest(Metrics(namespace="complaint_bot").registry).decode()
    assert "# TYPE complaint_bot_callbacks_total counter" in text
    assert "complaint_bot_tick_lag_seconds 0.0" in text
    assert "\ntick_lag_seconds" not in text
