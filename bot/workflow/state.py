"""A running flow's state: frozen, JSON-serialisable, versioned with migrations.

The state holds only what the engine decides on; the complaint's department and form values live
with the complaint (the service passes them in FlowContext and applies the effects).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from bot.errors import WorkflowError
from bot.workflow.effects import Effect

STATE_VERSION = 1

# version n -> function turning a version-n dict into a version n+1 dict.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


@dataclass(frozen=True)
class Task:
    """Open work for people: a task step's task, or one signature of a sign-off."""

    task_id: str
    step_id: str
    activation: int
    candidates: tuple[str, ...]  # who may take it (one person, or a shared queue)
    assignee: str | None = None  # who holds it: the single candidate, or whoever accepted
    accepted: bool = False

    def may_take(self, person: str) -> bool:
        """True when `person` holds the task or may still claim it from the queue."""
        if self.assignee is not None:
            return self.assignee == person
        return person in self.candidates


@dataclass(frozen=True)
class Signature:
    task_id: str
    by: str
    decision: Literal["approved", "rejected"]


@dataclass(frozen=True)
class Visit:
    """One activation of a step, for the history and for reports."""

    step_id: str
    activation: int
    entered_at: datetime
    completed_at: datetime | None = None
    outcome: str | None = None
    by: str | None = None


@dataclass(frozen=True)
class WorkflowState:
    """Where a flow is: current steps, open tasks, counters, history and whether it ended."""

    version: int = STATE_VERSION
    current: tuple[str, ...] = ()
    tasks: tuple[Task, ...] = ()
    activations: Mapping[str, int] = field(default_factory=dict)
    signatures: tuple[Signature, ...] = ()  # of the current sign-off activation
    extensions: Mapping[str, timedelta] = field(default_factory=dict)  # timer subject -> total
    history: tuple[Visit, ...] = ()
    participants: tuple[str, ...] = ()  # everyone who was offered a task or acted
    first_response_at: datetime | None = None
    first_response_by: str | None = None
    reopened: int = 0
    ended: bool = False
    outcome: Literal["closed", "cancelled"] | None = None

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.task_id == task_id), None)

    def tasks_of(self, step_id: str) -> list[Task]:
        return [t for t in self.tasks if t.step_id == step_id]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (datetimes ISO 8601, durations in microseconds) with the version."""
        return {
            "version": self.version,
            "current": list(self.current),
            "tasks": [
                {
                    "task_id": t.task_id,
                    "step_id": t.step_id,
                    "activation": t.activation,
                    "candidates": list(t.candidates),
                    "assignee": t.assignee,
                    "accepted": t.accepted,
                }
                for t in self.tasks
            ],
            "activations": dict(self.activations),
            "signatures": [
                {"task_id": s.task_id, "by": s.by, "decision": s.decision} for s in self.signatures
            ],
            "extensions": {k: _micros(v) for k, v in self.extensions.items()},
            "history": [
                {
                    "step_id": v.step_id,
                    "activation": v.activation,
                    "entered_at": v.entered_at.isoformat(),
                    "completed_at": _iso(v.completed_at),
                    "outcome": v.outcome,
                    "by": v.by,
                }
                for v in self.history
            ],
            "participants": list(self.participants),
            "first_response_at": _iso(self.first_response_at),
            "first_response_by": self.first_response_by,
            "reopened": self.reopened,
            "ended": self.ended,
            "outcome": self.outcome,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowState:
        """Read a dict written by to_dict(), migrating older versions first."""
        doc = migrate(data)
        try:
            return cls(
                version=doc["version"],
                current=tuple(doc["current"]),
                tasks=tuple(
                    Task(
                        task_id=t["task_id"],
                        step_id=t["step_id"],
                        activation=int(t["activation"]),
                        candidates=tuple(t["candidates"]),
                        assignee=t["assignee"],
                        accepted=bool(t["accepted"]),
                    )
                    for t in doc["tasks"]
                ),
                activations={str(k): int(v) for k, v in doc["activations"].items()},
                signatures=tuple(
                    Signature(s["task_id"], s["by"], s["decision"]) for s in doc["signatures"]
                ),
                extensions={
                    k: timedelta(microseconds=int(v)) for k, v in doc["extensions"].items()
                },
                history=tuple(
                    Visit(
                        step_id=v["step_id"],
                        activation=int(v["activation"]),
                        entered_at=datetime.fromisoformat(v["entered_at"]),
                        completed_at=_from_iso(v["completed_at"]),
                        outcome=v["outcome"],
                        by=v["by"],
                    )
                    for v in doc["history"]
                ),
                participants=tuple(doc["participants"]),
                first_response_at=_from_iso(doc["first_response_at"]),
                first_response_by=doc["first_response_by"],
                reopened=int(doc["reopened"]),
                ended=bool(doc["ended"]),
                outcome=doc["outcome"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WorkflowError(f"stored workflow state is malformed: {exc!r}") from exc


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Bring a stored state dict up to STATE_VERSION through the MIGRATIONS table."""
    doc = dict(data)
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise WorkflowError(f"stored workflow state has no valid version: {version!r}")
    if version > STATE_VERSION:
        raise WorkflowError(
            f"stored workflow state is version {version}; this code reads up to {STATE_VERSION}"
        )
    while version < STATE_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise WorkflowError(f"no migration from workflow state version {version}")
        doc = step(doc)
        version += 1
        doc["version"] = version
    return doc


@dataclass(frozen=True)
class Transition:
    """The result of start() or act(): the new state and what happened, in order."""

    state: WorkflowState
    effects: tuple[Effect, ...] = ()

    def of_type(self, kind: type) -> list[Any]:
        """The effects of one type, in order."""
        return [e for e in self.effects if isinstance(e, kind)]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _micros(value: timedelta) -> int:
    return value // timedelta(microseconds=1)


__all__ = [
    "MIGRATIONS",
    "STATE_VERSION",
    "Signature",
    "Task",
    "Transition",
    "Visit",
    "WorkflowState",
    "migrate",
]
