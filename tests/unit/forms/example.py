"""The reference scenario's form and directory (config/example.yaml), read with plain PyYAML."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.domain.directory import Department, Directory, Person
from bot.forms import FormContext, FormDefinition

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "example.yaml"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# 2026-11-23 14:05 in Shanghai.
NOW = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)


@cache
def example_document() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def example_form() -> FormDefinition:
    return FormDefinition.model_validate(example_document()["forms"]["complaint"])


def example_directory() -> Directory:
    doc = example_document()
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


def make_ctx(
    profile: dict[str, Any] | None = None,
    *,
    now: datetime = NOW,
    directory: Directory | None = None,
) -> FormContext:
    return FormContext(
        now=now,
        timezone=SHANGHAI,
        profile=profile or {},
        directory=directory if directory is not None else example_directory(),
    )


def form_of(*fields: dict[str, Any], title: str = "测试表") -> FormDefinition:
    """A form from field dicts, as they would be written in YAML."""
    return FormDefinition.model_validate({"title": title, "fields": list(fields)})
