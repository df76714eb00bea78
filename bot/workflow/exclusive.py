"""Exclusive choice: the first branch whose condition holds is taken, else the else-branch."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from bot.errors import ExpressionError, WorkflowError
from bot.expr import Expression, parse
from bot.workflow.definition import Branch, ExclusiveStep
from bot.workflow.effects import ConditionFailed


@lru_cache(maxsize=1024)
def compiled(source: str) -> Expression:
    """Parse a condition once per process (definitions are immutable)."""
    return parse(source)


def choose_branch(
    step: ExclusiveStep, env: Mapping[str, Any]
) -> tuple[Branch, list[ConditionFailed]]:
    """The branch to take and any conditions that failed to evaluate (they count as false, so
    a missing value such as an unset amount falls through to else instead of stalling)."""
    failures: list[ConditionFailed] = []
    for index, branch in enumerate(step.branches):
        if branch.is_else:
            return branch, failures
        assert branch.if_ is not None
        try:
            if compiled(branch.if_).is_true(env):
                return branch, failures
        except ExpressionError as exc:
            failures.append(ConditionFailed(step.id, index, str(exc)))
    raise WorkflowError("no branch applies and there is no else branch", step=step.id)
