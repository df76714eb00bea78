"""Service-level targets per complaint: first response and resolution, by type and priority.

The config's `targets:` list is read top-down and the first entry whose `if` holds for a new
complaint sets its targets (an entry without `if` matches every complaint, so put it last):

    targets:
      - name: 产品质量加急
        if: 投诉类型 == "产品质量" and priority == "urgent"
        first_response: 1h
        resolution: 24h
      - name: 默认
        first_response: 4h
        resolution: 3d

Step time limits (flows) say how long each step may take; targets say how long the customer
waits, whatever the steps. A missed target raises the rule event `target.missed`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from pydantic import Field

from bot.config.channels import Strict
from bot.errors import ConfigProblem, ExpressionError
from bot.expr import parse, parse_duration

# Timer levels of a complaint's targets (the timers table's `level`), and how they read.
TARGET_KINDS = {"first_response": "首次响应", "resolution": "解决"}


class TargetConfig(Strict):
    """One row of `targets:`: a condition and the two limits (either may be left out)."""

    name: str = Field(min_length=1, max_length=40)
    if_: str | None = Field(None, alias="if")
    first_response: str | None = None
    resolution: str | None = None

    def limit(self, kind: str) -> timedelta | None:
        text = self.first_response if kind == "first_response" else self.resolution
        return parse_duration(text) if text else None


def check_targets(
    targets: Sequence[TargetConfig], known_names: Collection[str]
) -> list[ConfigProblem]:
    """Conditions that parse and name known fields, durations that parse, a limit per entry."""
    problems: list[ConfigProblem] = []
    add = problems.append
    names = [t.name for t in targets]
    for index, target in enumerate(targets):
        path = ("targets", index)
        if names.index(target.name) != index:
            add(ConfigProblem((*path, "name"), f"duplicate target name '{target.name}'"))
        if target.first_response is None and target.resolution is None:
            add(ConfigProblem(path, "give first_response, resolution or both (e.g. 4h, 3d)"))
        for kind in TARGET_KINDS:
            text = getattr(target, kind)
            if text is None:
                continue
            try:
                if parse_duration(text) <= timedelta(0):
                    add(ConfigProblem((*path, kind), f"{kind} must be longer than zero"))
            except ValueError as exc:
                add(ConfigProblem((*path, kind), f"invalid {kind}: {exc}"))
        if target.if_ is not None:
            try:
                errors = parse(target.if_).unknown_names(known_names)
            except ExpressionError as exc:
                errors = [exc]
            for error in errors:
                add(
                    ConfigProblem(
                        (*path, "if"),
                        f"{error.message} at column {error.position + 1}: {error.source}",
                    )
                )
        elif index < len(targets) - 1:
            add(
                ConfigProblem(
                    path,
                    f"target '{target.name}' has no 'if' and matches every complaint, so the "
                    "entries after it are never used; move it to the end",
                )
            )
    return problems
