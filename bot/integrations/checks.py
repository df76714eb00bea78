"""Load-time checks of the integration sections: names, events, templates, mapped fields."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigProblem
from bot.expr import check_template, unknown_field_message
from bot.integrations.config import HttpCall
from bot.rules.catalog import EVENTS, RESERVED_NAMES

if TYPE_CHECKING:
    from bot.config.model import AppConfig

Path = tuple[str | int, ...]

# Names a connector's templates may use besides form fields and the reserved names.
CUSTOMER_NAMES = frozenset({"customer_name", "customer_phone", "customer_no"})
QMS_NAMES = frozenset({"count", "rule", "group", "complaints"})
CUSTOMER_COLUMNS = ("name", "phone", "customer_no")
QMS_RESULTS = ("item_id", "item_url")


def check_integrations(config: AppConfig, field_names: Mapping[str, str]) -> list[ConfigProblem]:
    """Every problem in api:, webhooks: and connectors:, with paths from the file's top."""
    problems: list[ConfigProblem] = []
    add = problems.append
    fields = frozenset(field_names)
    for index, name in enumerate(config.api.writable_fields or ()):
        if name not in fields:
            add(
                ConfigProblem(
                    ("api", "writable_fields", index), unknown_field_message(name, fields)
                )
            )
    seen: set[str] = set()
    for index, sub in enumerate(config.webhooks):
        if sub.name in seen:
            add(ConfigProblem(("webhooks", index, "name"), f"duplicate webhook name '{sub.name}'"))
        seen.add(sub.name)
        for position, event in enumerate(sub.events):
            if event not in EVENTS:
                add(
                    ConfigProblem(
                        ("webhooks", index, "events", position),
                        f"unknown event '{event}'; expected one of: {', '.join(EVENTS)}",
                    )
                )
    base = fields | RESERVED_NAMES | CUSTOMER_NAMES
    connectors = config.connectors
    if connectors.crm is not None:
        crm = connectors.crm
        if crm.lookup is None and crm.push is None:
            add(ConfigProblem(("connectors", "crm"), "give a lookup:, a push: or both"))
        if crm.lookup is not None:
            problems.extend(_call(crm.lookup, ("connectors", "crm", "lookup"), base))
            for target in crm.lookup.response:
                if not target.startswith("customer.") and target not in fields:
                    add(
                        _bad_target(
                            ("connectors", "crm", "lookup", "response", target),
                            target,
                            fields,
                            "customer.name, customer.phone, customer.<profile key>",
                        )
                    )
        if crm.push is not None:
            problems.extend(_call(crm.push, ("connectors", "crm", "push"), base))
    if connectors.erp is not None:
        erp = connectors.erp
        if erp.field not in fields:
            add(
                ConfigProblem(
                    ("connectors", "erp", "field"), unknown_field_message(erp.field, fields)
                )
            )
        problems.extend(_call(erp.lookup, ("connectors", "erp", "lookup"), base))
        for target in erp.lookup.response:
            if target not in fields:
                add(
                    _bad_target(
                        ("connectors", "erp", "lookup", "response", target),
                        target,
                        fields,
                        "a form field",
                    )
                )
    if connectors.qms is not None:
        qms = connectors.qms
        rule = next((r for r in config.rules if r.name == qms.rule), None)
        if rule is None:
            add(ConfigProblem(("connectors", "qms", "rule"), f"unknown rule '{qms.rule}'"))
        elif rule.threshold is None:
            add(
                ConfigProblem(
                    ("connectors", "qms", "rule"),
                    f"rule '{qms.rule}' has no threshold: (QMS items open on thresholds)",
                )
            )
        if qms.field is not None and qms.field not in fields:
            add(
                ConfigProblem(
                    ("connectors", "qms", "field"), unknown_field_message(qms.field, fields)
                )
            )
        problems.extend(_call(qms.open, ("connectors", "qms", "open"), base | QMS_NAMES))
        if "item_id" not in qms.open.response:
            add(
                ConfigProblem(
                    ("connectors", "qms", "open", "response"),
                    "map item_id to the new item's id in the answer, e.g. item_id: data.id",
                )
            )
        for target in qms.open.response:
            if target not in QMS_RESULTS:
                add(
                    ConfigProblem(
                        ("connectors", "qms", "open", "response", target),
                        f"unknown name '{target}'; use {' or '.join(QMS_RESULTS)}",
                    )
                )
    return problems


def _bad_target(path: Path, target: str, fields: Collection[str], allowed: str) -> ConfigProblem:
    return ConfigProblem(path, f"{unknown_field_message(target, fields)}; map to {allowed}")


def _call(call: HttpCall, path: Path, known: Collection[str]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    for where, template in _templates(call):
        for error in check_template(template, known):
            problems.append(
                ConfigProblem(
                    (*path, *where),
                    f"{error.message} at column {error.position + 1} in: {error.source}",
                )
            )
    return problems


def _templates(call: HttpCall) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = [(("url",), call.url)]
    out += [(("headers", k), v) for k, v in call.headers.items() if v is not None]
    out += [(("query", k), v) for k, v in call.query.items()]
    if call.body is not None:
        out += _json_templates(call.body, ("body",))
    return out


def _json_templates(value: Any, path: Path) -> list[tuple[Path, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _json_templates(v, (*path, k))]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _json_templates(v, (*path, i))]
    return []
