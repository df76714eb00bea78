"""DialogState storage: JSON-safe, versioned, migrated, and refusing what it cannot read."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot.conversation import (
    STATE_VERSION,
    DialogState,
    DialogStateError,
    expire,
    expired_message,
    is_expired,
    submitted_message,
)
from tests.unit.forms.example import NOW

STATE = DialogState(
    started_at=NOW,
    updated_at=NOW + timedelta(minutes=3),
    phase="asking",
    current="phone",
    values={"customer_name": "王小明", "media": [{"attachment_id": "1", "kind": "image"}]},
    history=("customer_name",),
    attachments=({"media_id": "v", "kind": "voice"},),
    attempts=2,
)


def test_to_dict_is_json_and_carries_the_version() -> None:
    data = json.loads(json.dumps(STATE.to_dict()))
    assert data["version"] == STATE_VERSION == 1
    assert data["updated_at"] == "2026-11-23T06:08:00+00:00"
    assert DialogState.from_dict(data) == STATE


def test_a_state_saved_before_versions_is_migrated() -> None:
    data = STATE.to_dict()
    del data["version"], data["attempts"]
    restored = DialogState.from_dict(data)
    assert restored.version == STATE_VERSION and restored.attempts == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": 99}, "newer than this code"),
        ({"phase": "dancing"}, "unknown dialog phase"),
        ({"started_at": "2026-11-23T06:00:00"}, "time zone"),
        ({"updated_at": "yesterday"}, "unreadable dialog state"),
        ({"history": 5}, "unreadable dialog state"),
    ],
)
def test_unreadable_states_raise_dialog_state_error(change: dict, message: str) -> None:
    with pytest.raises(DialogStateError, match=message):
        DialogState.from_dict({**STATE.to_dict(), **change})


def test_missing_keys_raise_dialog_state_error() -> None:
    with pytest.raises(DialogStateError):
        DialogState.from_dict({"version": 1})


def test_expiry_is_measured_from_the_last_message() -> None:
    idle = timedelta(minutes=30)
    assert not is_expired(STATE, STATE.updated_at + idle, idle)
    assert is_expired(STATE, STATE.updated_at + idle + timedelta(seconds=1), idle)


def test_expire_turn_for_a_timer_driven_expiry() -> None:
    turn = expire(STATE, timedelta(hours=1))
    assert turn.state is None and turn.intent.reason == "expired"
    assert turn.replies == (expired_message(timedelta(hours=1)),)
    assert "1小时" in turn.replies[0]


def test_submitted_message_gives_the_number_and_the_response_time() -> None:
    assert submitted_message("TS20261123-0001", timedelta(hours=2)) == (
        "您的投诉已提交，编号：TS20261123-0001。我们会在2小时内联系您。"
        "回复“进度”或发送编号可随时查询处理进度。"
    )


def test_from_dict_needs_aware_times() -> None:
    naive = {**STATE.to_dict(), "updated_at": datetime(2026, 1, 1).isoformat()}
    with pytest.raises(DialogStateError):
        DialogState.from_dict(naive)
