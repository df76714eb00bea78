"""Load a config file into plain runtime data, or fail with every problem at once."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.config.channels import ChannelBase, GroupConfig
from bot.config.model import AppConfig, ConsoleConfig, DigestConfig, Organization
from bot.config.partial import problems_beside_shape_errors
from bot.config.targets import TargetConfig, check_targets
from bot.config.yaml_source import parse_yaml, substitute_env
from bot.domain.directory import Department, Directory, Group, Person
from bot.domain.reserved import RESERVED_NAMES
from bot.errors import ConfigError, ConfigProblem
from bot.forms import FormDefinition, check_form, field_names
from bot.integrations.checks import check_integrations
from bot.integrations.config import ApiSettings, Connectors, WebhookSubscription
from bot.rules import CompiledRule, compile_rules
from bot.workflow import FlowDefinition, WorkingCalendar, check_flow


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config: what the service runs on. Immutable; reloading builds a new one."""

    source: str
    organization: Organization
    timezone: ZoneInfo
    directory: Directory
    channels: Mapping[str, ChannelBase]
    groups: Mapping[str, GroupConfig]
    forms: Mapping[str, FormDefinition]
    flows: Mapping[str, FlowDefinition]
    rules: tuple[CompiledRule, ...]
    digests: tuple[DigestConfig, ...]
    intake_flow: str
    targets: tuple[TargetConfig, ...] = ()
    calendar: WorkingCalendar | None = None
    # --- integrations (bot/integrations) ---
    api: ApiSettings = ApiSettings()
    webhooks: tuple[WebhookSubscription, ...] = ()
    connectors: Connectors = Connectors()
    # --- console (bot/web/auth.py) ---
    console: ConsoleConfig = field(default_factory=ConsoleConfig)

    def form_of(self, flow_key: str) -> FormDefinition:
        return self.forms[self.flows[flow_key].form]


def load_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and validate the YAML file at `path`; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [(None, (), f"cannot read the file: {exc.strerror}")]) from exc
    return load_config_text(text, source=str(path), environ=environ)


def load_config_text(
    text: str, *, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Validate config text; `source` names the file in error messages."""
    doc = parse_yaml(text)
    if doc.problems and doc.data is None:
        raise ConfigError(source, doc.problems)
    if not isinstance(doc.data, dict):
        raise ConfigError(
            source, [(1, (), "the file must be a mapping of sections (forms:, flows:, ...)")]
        )
    problems = list(doc.problems)
    data = substitute_env(doc.data, dict(environ) if environ is not None else None)
    try:
        config = AppConfig.model_validate(data)
    except ValidationError as exc:
        locs = []
        for error in exc.errors():
            loc = _clean_loc(error["loc"])
            locs.append(loc)
            problems.append((doc.line_of(loc), loc, _pydantic_message(error)))
        beside = problems_beside_shape_errors(data, locs) if isinstance(data, dict) else []
        problems.extend((doc.line_of(p.path), p.path, p.message) for p in beside)
        raise ConfigError(source, sorted(problems, key=lambda p: p[0] or 0)) from None
    _note_env_names(config.channels, doc.data.get("channels"))
    directory = build_directory(config)
    checked, rules = cross_check(config, directory)
    problems.extend((doc.line_of(p.path), p.path, p.message) for p in checked)
    if problems:
        raise ConfigError(source, sorted(problems, key=lambda p: p[0] or 0))
    return LoadedConfig(
        source=source,
        organization=config.organization,
        timezone=ZoneInfo(config.organization.timezone),
        directory=directory,
        channels={c.name: c for c in config.channels},
        groups={g.id: g for g in config.groups},
        forms=dict(config.forms),
        flows=dict(config.flows),
        rules=tuple(rules),
        digests=tuple(config.digests),
        targets=tuple(config.targets),
        intake_flow=config.intake.flow,
        calendar=(
            config.calendar.to_calendar(config.organization.timezone) if config.calendar else None
        ),
        api=config.api,
        webhooks=tuple(config.webhooks),
        connectors=config.connectors,
        console=config.console,
    )


ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}$")


def _note_env_names(channels: list[ChannelBase], raw: Any) -> None:
    """Remember which field each channel reads from which ${VAR} (before substitution)."""
    for channel, entry in zip(channels, raw if isinstance(raw, list) else (), strict=False):
        if isinstance(entry, dict):
            for key, value in entry.items():
                match = ENV_REFERENCE.match(value) if isinstance(value, str) else None
                if match:
                    channel._env_names[key] = match.group(1)


def _clean_loc(loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Drop the union tags pydantic adds ('channels', 1, 'wecom', 'corp_id'): people count."""
    out: list[str | int] = []
    for index, part in enumerate(loc):
        if index >= 2 and loc[index - 2] == "channels" and isinstance(loc[index - 1], int):
            continue
        if isinstance(part, str) and part.endswith("]") and "[" in part:
            continue
        out.append(part)
    return tuple(out)


def _pydantic_message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see config/README.md for the allowed keys)"
    if kind == "missing":
        return "required key is missing"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"'{error.get('input')}' is not allowed; expected {expected}"
    if kind == "union_tag_invalid":
        expected = error.get("ctx", {}).get("expected_tags", "")
        return f"unknown type '{error.get('ctx', {}).get('tag')}'; expected one of {expected}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def build_directory(config: AppConfig) -> Directory:
    people = {}
    for p in config.people:
        accounts = {}
        if p.wecom:
            accounts["wecom"] = p.wecom.user_id
        if p.dingtalk:
            accounts["dingtalk"] = p.dingtalk.user_id
        people[p.id] = Person(
            id=p.id,
            name=p.name,
            department=p.department,
            roles=tuple(p.roles),
            mobile=p.mobile,
            accounts=accounts,
            works_in=p.works_in,
        )
    return Directory(
        people=people,
        departments={d.id: Department(d.id, d.name, d.head) for d in config.departments},
        roles=dict(config.roles),
        groups={g.id: Group(g.id, g.name, g.channel) for g in config.groups},
    )


def _duplicates(ids: list[str]) -> list[tuple[int, str]]:
    seen: set[str] = set()
    out = []
    for index, value in enumerate(ids):
        if value in seen:
            out.append((index, value))
        seen.add(value)
    return out


def cross_check(
    config: AppConfig,
    directory: Directory,
    *,
    raw_forms: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[list[ConfigProblem], list[CompiledRule]]:
    """References between sections, then each engine's own load-time check.

    `raw_forms`: the field names of forms that failed their shape check (bot/config/partial.py),
    so flows and rules that use them are still checked.
    """
    raw_forms = raw_forms or {}
    problems: list[ConfigProblem] = []
    add = problems.append
    for index, value in _duplicates([p.id for p in config.people]):
        add(ConfigProblem(("people", index, "id"), f"duplicate person id '{value}'"))
    for index, value in _duplicates([d.id for d in config.departments]):
        add(ConfigProblem(("departments", index, "id"), f"duplicate department id '{value}'"))
    for index, value in _duplicates([c.name for c in config.channels]):
        add(ConfigProblem(("channels", index, "name"), f"duplicate channel name '{value}'"))
    for index, value in _duplicates([g.id for g in config.groups]):
        add(ConfigProblem(("groups", index, "id"), f"duplicate group id '{value}'"))
    for index, person in enumerate(config.people):
        if person.department and person.department not in directory.departments:
            add(
                ConfigProblem(
                    ("people", index, "department"), f"unknown department '{person.department}'"
                )
            )
        for r, role in enumerate(person.roles):
            if role not in directory.roles:
                add(
                    ConfigProblem(
                        ("people", index, "roles", r),
                        f"unknown role '{role}' (declare it under roles:)",
                    )
                )
    for index, dept in enumerate(config.departments):
        if dept.head and dept.head not in directory.people:
            add(ConfigProblem(("departments", index, "head"), f"unknown person '{dept.head}'"))
    channel_names = {c.name for c in config.channels}
    for index, group in enumerate(config.groups):
        if group.channel not in channel_names:
            add(ConfigProblem(("groups", index, "channel"), f"unknown channel '{group.channel}'"))
    for index, digest in enumerate(config.digests):
        if digest.group not in directory.groups:
            add(ConfigProblem(("digests", index, "group"), f"unknown group '{digest.group}'"))

    names: dict[str, str] = {}
    for raw in raw_forms.values():
        names.update(raw)
    for key, form in config.forms.items():
        problems.extend(p.under("forms", key) for p in check_form(form, directory=directory))
        names.update(field_names(form))
    for key, flow in config.flows.items():
        if flow.form in raw_forms:
            fields = dict(raw_forms[flow.form])
        elif flow.form not in config.forms:
            add(ConfigProblem(("flows", key, "form"), f"unknown form '{flow.form}'"))
            continue
        else:
            fields = field_names(config.forms[flow.form])
        problems.extend(
            p.under("flows", key) for p in check_flow(flow, directory=directory, form_fields=fields)
        )
    if config.flows and config.intake.flow not in config.flows:
        add(ConfigProblem(("intake", "flow"), f"unknown flow '{config.intake.flow}'"))
    if not config.flows:
        add(
            ConfigProblem(
                ("flows",), "at least one flow is needed (customers' complaints start it)"
            )
        )
    problems.extend(_check_console(config.console, directory))
    problems.extend(check_targets(config.targets, set(names) | RESERVED_NAMES))
    rules, rule_problems = compile_rules(config.rules, field_names=names, directory=directory)
    problems.extend(p.under("rules") for p in rule_problems)
    problems.extend(check_integrations(config, names))
    return problems, rules


def _check_console(console: ConsoleConfig, directory: Directory) -> list[ConfigProblem]:
    """Console accounts: unique names, and `person` naming someone under people:."""
    problems = []
    for index, value in _duplicates([a.name for a in console.accounts]):
        problems.append(
            ConfigProblem(("console", "accounts", index, "name"), f"duplicate account '{value}'")
        )
    for index, account in enumerate(console.accounts):
        if account.person is not None and account.person not in directory.people:
            problems.append(
                ConfigProblem(
                    ("console", "accounts", index, "person"), f"unknown person '{account.person}'"
                )
            )
    return problems
