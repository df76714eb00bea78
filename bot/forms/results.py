"""Plain data the form engine takes and returns: the context of a fill-in and its outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.directory import Directory


@dataclass(frozen=True)
class FormContext:
    """What parsing needs besides the answer: the clock, the local zone, who is filling it in."""

    now: datetime  # aware
    timezone: ZoneInfo
    profile: Mapping[str, Any] = field(default_factory=dict)
    directory: Directory = field(default_factory=Directory)

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("FormContext.now must be an aware datetime")

    @property
    def local_now(self) -> datetime:
        return self.now.astimezone(self.timezone)


@dataclass(frozen=True)
class FieldProblem:
    """One wrong or missing answer; `message` is short Chinese the customer understands."""

    key: str
    label: str
    message: str


@dataclass(frozen=True)
class FormResult:
    """Typed values and every problem found, all at once."""

    values: Mapping[str, Any]
    problems: tuple[FieldProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem_for(self, key: str) -> FieldProblem | None:
        """The first problem of field `key`, if any."""
        return next((p for p in self.problems if p.key == key), None)
