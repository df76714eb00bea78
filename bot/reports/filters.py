"""Which complaints a report covers: equality filters on type, channel, department, product…"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import ColumnElement

from bot.errors import ConfigProblem
from bot.reports.errors import ReportError
from storage.models import Complaint

FilterValue = str | tuple[str, ...] | None

FILTER_KEYS = ("type", "channel", "department", "product", "assignee")


def product_column() -> ColumnElement[str]:
    """complaints.values["product"] as text: ->> on PostgreSQL, JSON_EXTRACT on SQLite."""
    return Complaint.values["product"].as_string()


@dataclass(frozen=True)
class ReportFilter:
    """Each field is one value, a tuple of accepted values, or None for "any"."""

    type: FilterValue = None
    channel: FilterValue = None
    department: FilterValue = None
    product: FilterValue = None
    assignee: FilterValue = None

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ReportFilter:
        """Build from a digest's `filter:` mapping; raises ReportError on the first problem."""
        problems = check_report_filter(mapping)
        if problems:
            raise ReportError(f"invalid report filter: {problems[0].message}")
        return cls(**{key: _normalise(value) for key, value in mapping.items()})

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL conditions on `complaints` for every field that is set."""
        columns: dict[str, ColumnElement[Any]] = {
            "type": Complaint.type,
            "channel": Complaint.channel,
            "department": Complaint.department,
            "product": product_column(),
            "assignee": Complaint.assignee,
        }
        out: list[ColumnElement[bool]] = []
        for key, column in columns.items():
            value = getattr(self, key)
            if value is None:
                continue
            out.append(column == value if isinstance(value, str) else column.in_(value))
        return out


def _normalise(value: Any) -> FilterValue:
    if value is None or isinstance(value, str):
        return value
    return tuple(value)


def check_report_filter(mapping: Mapping[str, Any]) -> list[ConfigProblem]:
    """Problems in a `filter:` mapping: unknown keys, values that are not text or lists of text."""
    problems: list[ConfigProblem] = []
    for key, value in mapping.items():
        if key not in FILTER_KEYS:
            problems.append(
                ConfigProblem((key,), f"unknown filter '{key}' (use {', '.join(FILTER_KEYS)})")
            )
            continue
        if value is None or isinstance(value, str):
            continue
        if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
            continue
        problems.append(
            ConfigProblem((key,), f"filter '{key}' must be text or a non-empty list of text")
        )
    return problems
