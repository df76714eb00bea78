"""The example scenario's directory, form fields and flow, plus a harness that drives a flow the
way the service does (applying effects to the complaint) and reloads the state at every step."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.domain.directory import Department, Directory, Person
from bot.errors import ActionRefused
from bot.workflow import (
    Action,
    ActionKind,
    DepartmentChanged,
    Effect,
    FieldsWritten,
    FlowContext,
    FlowDefinition,
    Transition,
    WorkflowState,
    act,
    available_actions,
    lifecycle_status,
    start,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "example.yaml"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def load_example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def build_directory(doc: Mapping[str, Any]) -> Directory:
    people = {
        p["id"]: Person(
            id=p["id"],
            name=p["name"],
            department=p.get("department"),
            roles=tuple(p.get("roles", ())),
            mobile=p.get("mobile"),
        )
        for p in doc["people"]
    }
    departments = {
        d["id"]: Department(d["id"], d["name"], d.get("head")) for d in doc["departments"]
    }
    return Directory(people=people, departments=departments, roles=dict(doc["roles"]))


def build_form_fields(doc: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for f in doc["forms"]["complaint"]["fields"]:
        out[f["key"]] = f["key"]
        out[f["label"]] = f["key"]
    return out


@pytest.fixture(scope="session")
def example_doc() -> dict[str, Any]:
    return load_example()


@pytest.fixture(scope="session")
def directory(example_doc: dict[str, Any]) -> Directory:
    return build_directory(example_doc)


@pytest.fixture(scope="session")
def form_fields(example_doc: dict[str, Any]) -> dict[str, str]:
    return build_form_fields(example_doc)


@pytest.fixture
def flow_doc(example_doc: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of the example flow's YAML data, to vary in a test."""
    return copy.deepcopy(example_doc["flows"]["complaint"])


@pytest.fixture
def flow(flow_doc: dict[str, Any]) -> FlowDefinition:
    return FlowDefinition.model_validate(flow_doc)


class Run:
    """One complaint going through a flow: state, form values and department, like the service."""

    def __init__(
        self,
        flow: FlowDefinition,
        directory: Directory,
        form_fields: Mapping[str, str],
        values: Mapping[str, Any] | None = None,
        department: str | None = None,
    ) -> None:
        self.flow = flow
        self.directory = directory
        self.form_fields = dict(form_fields)
        self.values: dict[str, Any] = dict(values or {})
        self.department = department
        self.now = T0
        self.effects: list[Effect] = []
        self.state = WorkflowState()
        self.last = self._take(start(flow, self.ctx()))

    def ctx(self) -> FlowContext:
        env: dict[str, Any] = {}
        for name, key in self.form_fields.items():
            if key in self.values:
                env[name] = self.values[key]
        env["department"] = self.department
        return FlowContext(env, self.department, self.directory, self.now, self.form_fields)

    def action(self, kind: ActionKind, actor: str, task_id: str | None = None, **kw: Any) -> Action:
        return Action(kind, actor, task_id, **kw)

    def do(self, kind: ActionKind, actor: str, task_id: str | None = None, **kw: Any) -> Transition:
        """Act, apply the effects to the complaint, reload the state from JSON."""
        self.now += timedelta(minutes=5)
        return self._take(
            act(self.flow, self.state, self.action(kind, actor, task_id, **kw), self.ctx())
        )

    def refused(self, kind: ActionKind, actor: str, task_id: str | None = None, **kw: Any) -> str:
        """The reason an action is refused; asserts the state did not change."""
        before = self.state.to_dict()
        with pytest.raises(ActionRefused) as info:
            act(self.flow, self.state, self.action(kind, actor, task_id, **kw), self.ctx())
        assert self.state.to_dict() == before
        assert info.value.action == kind.value
        return info.value.reason

    def _take(self, transition: Transition) -> Transition:
        text = json.dumps(transition.state.to_dict(), ensure_ascii=False)
        reloaded = WorkflowState.from_dict(json.loads(text))
        assert reloaded == transition.state
        assert reloaded.to_dict() == transition.state.to_dict()
        self.state = reloaded
        for effect in transition.effects:
            if isinstance(effect, FieldsWritten):
                self.values.update(effect.values)
            elif isinstance(effect, DepartmentChanged):
                self.department = effect.department
        self.effects.extend(transition.effects)
        self.last = transition
        return transition

    # --- shortcuts -----------------------------------------------------------------------------

    @property
    def task_ids(self) -> list[str]:
        return [t.task_id for t in self.state.tasks]

    def task(self, task_id: str) -> Any:
        found = self.state.task(task_id)
        assert found is not None, f"{task_id} is not open; open: {self.task_ids}"
        return found

    @property
    def status(self) -> str:
        return lifecycle_status(self.flow, self.state)

    def can(self, person: str) -> dict[str, tuple[ActionKind, ...]]:
        return available_actions(self.flow, self.state, person, self.ctx())

    def accept_and_submit(self, actor: str, task_id: str, **values: Any) -> Transition:
        self.do(ActionKind.ACCEPT, actor, task_id)
        return self.do(ActionKind.SUBMIT, actor, task_id, values=values)


@pytest.fixture
def new_run(directory: Directory, form_fields: dict[str, str]) -> Any:
    """new_run(flow, **initial values) -> Run."""

    def make(flow: FlowDefinition, department: str | None = None, **values: Any) -> Run:
        return Run(flow, directory, form_fields, values, department)

    return make
