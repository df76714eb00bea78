"""Threshold rules: counting matching complaints in a time window, per group."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.rules import CompiledRule, threshold_count
from tests.unit.rules.conftest import SHANGHAI, base_env

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def rule(compile_ok: Callable[[dict[str, Any]], CompiledRule]) -> CompiledRule:
    return compile_ok(
        {
            "name": "产品质量投诉集中预警",
            "when": "threshold",
            "threshold": {
                "count": 3,
                "within": "24h",
                "match": '投诉类型 == "产品质量"',
                "group_by": "订单号",
            },
            "then": [{"notify": {"group": "management-group"}, "message": "{count} 起"}],
        }
    )


def complaint(
    hours_ago: float, *, order: str | None = "A", kind: str = "产品质量"
) -> dict[str, Any]:
    created = NOW - timedelta(hours=hours_ago)
    return base_env(order_no=order, type=kind, created_at=created, number=f"TS-{hours_ago}-{order}")


def test_group_by_label_is_stored_as_the_field_key(rule: CompiledRule) -> None:
    assert rule.threshold is not None and rule.threshold.group_by == "order_no"


def test_count_reached_returns_the_count(rule: CompiledRule) -> None:
    current = complaint(0)
    window = [complaint(5), complaint(3), current]
    assert threshold_count(rule, current, window) == 3


def test_count_above_the_threshold_keeps_counting(rule: CompiledRule) -> None:
    current = complaint(0)
    window = [complaint(h) for h in (1, 2, 3, 4)] + [current]
    assert threshold_count(rule, current, window) == 5


def test_below_the_threshold_is_none(rule: CompiledRule) -> None:
    current = complaint(0)
    assert threshold_count(rule, current, [complaint(1), current]) is None


def test_only_the_same_group_counts(rule: CompiledRule) -> None:
    current = complaint(0, order="A")
    window = [complaint(1, order="B"), complaint(2, order="B"), complaint(3, order="A"), current]
    assert threshold_count(rule, current, window) is None
    window.append(complaint(4, order="A"))
    assert threshold_count(rule, current, window) == 3


def test_only_matching_complaints_count(rule: CompiledRule) -> None:
    current = complaint(0)
    window = [complaint(1, kind="物流问题"), complaint(2, kind="物流问题"), complaint(3), current]
    assert threshold_count(rule, current, window) is None


def test_a_current_complaint_that_does_not_match_never_fires(rule: CompiledRule) -> None:
    current = complaint(0, kind="服务态度")
    window = [complaint(1), complaint(2), complaint(3), current]
    assert threshold_count(rule, current, window) is None


def test_an_unfilled_group_value_groups_nothing(rule: CompiledRule) -> None:
    current = complaint(0, order=None)
    window = [complaint(1, order=None), complaint(2, order=None), current]
    assert threshold_count(rule, current, window) is None


def test_the_window_start_is_inclusive(rule: CompiledRule) -> None:
    current = complaint(0)
    window = [complaint(24), complaint(12), current]
    assert threshold_count(rule, current, window) == 3


def test_just_outside_the_window_does_not_count(rule: CompiledRule) -> None:
    current = complaint(0)
    window = [complaint(24 + 1 / 3600), complaint(12), current]
    assert threshold_count(rule, current, window) is None


def test_complaints_created_after_the_current_one_do_not_count(rule: CompiledRule) -> None:
    current = complaint(0)
    window = [complaint(-1), complaint(12), current]
    assert threshold_count(rule, current, window) is None


def test_current_is_counted_once_whether_or_not_it_is_in_the_window(rule: CompiledRule) -> None:
    current = complaint(0)
    others = [complaint(1), complaint(2)]
    assert threshold_count(rule, current, others) == 3
    assert threshold_count(rule, current, [*others, current]) == 3
    assert threshold_count(rule, current, [*others, dict(current)]) == 3


def test_entries_whose_match_fails_do_not_count(rule: CompiledRule) -> None:
    current = complaint(0)
    broken = complaint(1)
    del broken["投诉类型"]  # the match cannot be evaluated for this entry
    assert threshold_count(rule, current, [broken, complaint(2), current]) is None


def test_without_created_at_the_service_window_is_trusted(rule: CompiledRule) -> None:
    current = complaint(0)
    old = complaint(100)
    del old["created_at"]
    assert threshold_count(rule, current, [old, complaint(1), current]) == 3


def test_without_match_or_group_every_complaint_counts(
    compile_ok: Callable[[dict[str, Any]], CompiledRule],
) -> None:
    rule = compile_ok(
        {
            "name": "总量预警",
            "when": "threshold",
            "threshold": {"count": 2, "within": "1h"},
            "then": [{"notify": {"person": "boss"}, "message": "{count}"}],
        }
    )
    current = complaint(0, order="A", kind="服务态度")
    assert threshold_count(rule, current, [complaint(0.5, order="B"), current]) == 2
    assert threshold_count(rule, current, [complaint(2, order="B"), current]) is None


def test_a_rule_without_threshold_counts_nothing(
    compile_ok: Callable[[dict[str, Any]], CompiledRule],
) -> None:
    rule = compile_ok({"name": "r", "when": "complaint.created", "then": [{"send_survey": {}}]})
    assert threshold_count(rule, complaint(0), [complaint(0)]) is None


def test_group_by_a_reserved_name(compile_ok: Callable[[dict[str, Any]], CompiledRule]) -> None:
    rule = compile_ok(
        {
            "name": "按部门",
            "when": "threshold",
            "threshold": {"count": 2, "within": "1d", "group_by": "department"},
            "then": [{"notify": {"person": "boss"}, "message": "{count}"}],
        }
    )
    current = complaint(0)
    other_dept = {**complaint(1), "department": "cs"}
    assert threshold_count(rule, current, [other_dept, current]) is None
    assert threshold_count(rule, current, [complaint(1), current]) == 2
