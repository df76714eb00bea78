"""The vocabulary tables an editor lists: complete, described in Chinese, matching the engine."""

from __future__ import annotations

import re

from bot.rules import ACTIONS, EVENTS, RESERVED_NAMES, TARGETS
from bot.rules.catalog import EVENT_NAMES
from bot.rules.engine import _ACTION_NAMES

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_event_action_and_target_has_a_chinese_description() -> None:
    for description in [
        *EVENTS.values(),
        *TARGETS.values(),
        *(a.description for a in ACTIONS.values()),
    ]:
        assert CJK.search(description), description


def test_the_events_are_the_documented_ones() -> None:
    assert set(EVENTS) == {
        "complaint.created", "step.entered", "step.completed", "field.changed", "sla.warning",
        "sla.breached", "sla.escalated", "complaint.closed", "complaint.reopened",
        "comment.added", "survey.answered", "threshold", "target.missed",
    }  # fmt: skip
    assert set(EVENT_NAMES) <= set(EVENTS)


def test_every_action_in_the_table_is_run_by_the_engine() -> None:
    assert set(ACTIONS) == set(_ACTION_NAMES.values())


def test_reserved_names_match_the_shared_brief() -> None:
    assert RESERVED_NAMES == {
        "number", "step", "step_id", "department", "department_name", "assignee",
        "assignee_name", "channel", "created_at", "age", "event", "level", "count", "actor",
        "priority", "status", "now",
    }  # fmt: skip
