"""Workflow state: JSON round trip, versions and migrations."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.errors import WorkflowError
from bot.workflow import MIGRATIONS, STATE_VERSION, ActionKind, WorkflowState, effect_to_dict
from bot.workflow.state import migrate

A = ActionKind


def test_a_busy_state_survives_json(flow_doc, new_run):
    from bot.workflow import FlowDefinition

    flow_doc["supervisors"] = [{"role": "管理层"}]
    run = new_run(FlowDefinition.model_validate(flow_doc), type="产品质量")
    run.accept_and_submit("xiaomei", "accept.1")
    run.do(A.EXTEND, "boss", "handle.1", extend_by=timedelta(minutes=90), text="等配件")
    run.accept_and_submit("lisi", "handle.1", solution="退款", compensation=3000)
    run.do(A.APPROVE, "qianqi", "signoff.1.qianqi")
    state = run.state
    assert state.signatures and state.history and state.first_response_at
    text = json.dumps(state.to_dict(), ensure_ascii=False)
    assert WorkflowState.from_dict(json.loads(text)) == state
    assert json.loads(text)["version"] == STATE_VERSION


def test_the_empty_state_round_trips():
    assert WorkflowState.from_dict(WorkflowState().to_dict()) == WorkflowState()


def test_a_newer_version_is_refused():
    data = WorkflowState().to_dict() | {"version": STATE_VERSION + 1}
    with pytest.raises(WorkflowError, match="reads up to"):
        WorkflowState.from_dict(data)


def test_a_missing_version_is_refused():
    data = WorkflowState().to_dict()
    del data["version"]
    with pytest.raises(WorkflowError, match="no valid version"):
        WorkflowState.from_dict(data)


def test_malformed_state_is_a_workflow_error():
    data = WorkflowState().to_dict()
    del data["tasks"]
    with pytest.raises(WorkflowError, match="malformed"):
        WorkflowState.from_dict(data)


def test_migrations_run_in_order(monkeypatch):
    """A future version 2 would register MIGRATIONS[1]; simulate one that renames a key."""
    import bot.workflow.state as state_module

    def v1_to_v2(doc):
        doc = dict(doc)
        doc["participants"] = doc.pop("people")
        return doc

    old = WorkflowState().to_dict()
    old["people"] = old.pop("participants")
    monkeypatch.setattr(state_module, "STATE_VERSION", 2)
    monkeypatch.setitem(MIGRATIONS, 1, v1_to_v2)
    migrated = migrate(old)
    assert migrated["version"] == 2 and migrated["participants"] == []


def test_a_gap_in_the_migrations_is_reported(monkeypatch):
    import bot.workflow.state as state_module

    monkeypatch.setattr(state_module, "STATE_VERSION", 3)
    monkeypatch.setitem(MIGRATIONS, 1, lambda doc: doc)
    with pytest.raises(WorkflowError, match="no migration from workflow state version 2"):
        migrate(WorkflowState().to_dict())


def test_effects_serialise_for_the_timeline(flow, new_run):
    run = new_run(flow)
    rows = [effect_to_dict(e) for e in run.last.effects]
    assert json.loads(json.dumps(rows, ensure_ascii=False)) == [
        {"type": "StepEntered", "step_id": "accept", "step_name": "客服受理", "activation": 1},
        {
            "type": "TaskOpened",
            "task_id": "accept.1",
            "step_id": "accept",
            "candidates": ["zhangsan", "xiaomei"],
            "assignee": None,
        },
        {
            "type": "TimerRequested",
            "subject": "accept:1",
            "step_id": "accept",
            "level": "breached",
            "after": 7200.0,
        },
    ]
