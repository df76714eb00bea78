"""The YAML shape of a rule (pydantic, at the edge); meaning is checked by compile_rules."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ThresholdDefinition(BaseModel):
    """`threshold: {count: 5, within: 24h, match: 投诉类型 == "产品质量", group_by: order_no}`."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    count: int
    within: str
    match: str | None = None
    group_by: str | None = None


class RuleDefinition(BaseModel):
    """when EVENT, if CONDITION, then ACTIONS; each action is one key plus its options."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    when: str
    if_: str | None = Field(None, alias="if")
    enabled: bool = True
    threshold: ThresholdDefinition | None = None
    then: list[dict[str, Any]] = Field(min_length=1)
