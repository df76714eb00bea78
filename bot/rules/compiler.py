"""Load-time checks: turn RuleDefinitions into CompiledRules, or say precisely what is wrong."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import timedelta
from typing import Any

from bot.domain.directory import Directory
from bot.errors import ConfigProblem, ExpressionError
from bot.expr import Expression, parse, parse_duration, template_names, unknown_field_message
from bot.rules.catalog import (
    ACTIONS,
    DEFAULT_ESCALATION_MESSAGE,
    EVENT_NAMES,
    EVENTS,
    FLAG_TARGETS,
    RESERVED_NAMES,
    SINGLE_PERSON_TARGETS,
    TARGETS,
    THRESHOLD_ONLY_NAMES,
    WEBHOOK_METHODS,
    WEBHOOK_OPTIONS,
)
from bot.rules.compiled import (
    AssignAction,
    CallWebhookAction,
    CompiledAction,
    CompiledRule,
    CompiledThreshold,
    EscalateAction,
    NotifyAction,
    SendSurveyAction,
    SetFieldAction,
    Target,
)
from bot.rules.definitions import RuleDefinition
from bot.rules.references import reference_problem, suggest

Path = tuple[str | int, ...]


def compile_rules(
    defs: Sequence[RuleDefinition],
    *,
    field_names: Mapping[str, str],
    directory: Directory,
    known_events: Collection[str] = tuple(EVENTS),
    group_ids: Collection[str] | None = None,
) -> tuple[list[CompiledRule], list[ConfigProblem]]:
    """Check every rule; return the rules that compiled cleanly and every problem found.

    `field_names` maps each form field key and label to the key. Problem paths are relative to
    the rules list, e.g. (3, "then", 0, "notify", "role").
    """
    groups = frozenset(group_ids if group_ids is not None else directory.groups)
    rules: list[CompiledRule] = []
    problems: list[ConfigProblem] = []
    first_index: dict[str, int] = {}
    for index, definition in enumerate(defs):
        checker = _RuleChecker(index, definition, field_names, directory, known_events, groups)
        if definition.name in first_index:
            checker.add(
                ("name",), f"duplicate rule name (rule {first_index[definition.name]} has it too)"
            )
        first_index.setdefault(definition.name, index)
        rule = checker.compile()
        problems.extend(checker.problems)
        if not checker.problems:
            rules.append(rule)
    return rules, problems


def located(error: ExpressionError) -> str:
    """An expression error for a config listing: message, 1-based column, the source."""
    return f"{error.message} at column {error.position + 1} in: {error.source}"


class _RuleChecker:
    def __init__(
        self,
        index: int,
        definition: RuleDefinition,
        field_names: Mapping[str, str],
        directory: Directory,
        known_events: Collection[str],
        groups: Collection[str],
    ):
        self.index = index
        self.rule = definition
        self.field_names = field_names
        self.directory = directory
        self.known_events = known_events
        self.groups = groups
        self.problems: list[ConfigProblem] = []
        names = set(field_names) | RESERVED_NAMES | EVENT_NAMES.get(definition.when, frozenset())
        if definition.when != "threshold":
            names -= THRESHOLD_ONLY_NAMES
        self.known = frozenset(names)

    def add(self, path: Path, message: str) -> None:
        self.problems.append(
            ConfigProblem((self.index, *path), f"rule '{self.rule.name}': {message}")
        )

    # -- rule level ----------------------------------------------------------------------------

    def compile(self) -> CompiledRule:
        rule = self.rule
        if rule.when not in self.known_events:
            self.add(
                ("when",),
                f"unknown event '{rule.when}'{suggest(rule.when, self.known_events)}; "
                f"expected one of: {', '.join(self.known_events)}",
            )
        condition = None
        if rule.if_ is not None:
            condition = self.expression(rule.if_, ("if",), self.known)
        threshold = self.threshold()
        actions = tuple(
            action
            for position, item in enumerate(rule.then)
            if (action := self.action(item, ("then", position))) is not None
        )
        return CompiledRule(rule.name, rule.when, condition, actions, threshold, rule.enabled)

    def expression(self, source: str, path: Path, known: Collection[str]) -> Expression | None:
        try:
            expression = parse(source)
        except ExpressionError as error:
            self.add(path, located(error))
            return None
        self.unknown_names(expression.name_positions(), source, known, path)
        return expression

    def unknown_names(
        self, names: list[tuple[str, int]], source: str, known: Collection[str], path: Path
    ) -> None:
        for name, position in names:
            if name in known:
                continue
            if name in THRESHOLD_ONLY_NAMES:
                message = f"unknown field '{name}' (it is only set in rules with when: threshold)"
            else:
                message = unknown_field_message(name, known)
            self.add(path, located(ExpressionError(message, source, position)))

    def template(self, template: Any, path: Path) -> str:
        if not isinstance(template, str):
            self.add(path, f"expected a text template, got {template!r}")
            return ""
        try:
            names = template_names(template)
        except ExpressionError as error:
            self.add(path, located(error))
            return template
        self.unknown_names(names, template, self.known, path)
        return template

    def threshold(self) -> CompiledThreshold | None:
        rule = self.rule
        spec = rule.threshold
        if rule.when == "threshold" and spec is None:
            self.add(
                ("when",),
                "when: threshold needs threshold: {count: 5, within: 24h, match: ...}",
            )
            return None
        if spec is None:
            return None
        if rule.when != "threshold":
            self.add(
                ("threshold",), f"threshold: only applies to when: threshold, not '{rule.when}'"
            )
        path: Path = ("threshold",)
        if spec.count < 1:
            self.add((*path, "count"), f"count must be at least 1, got {spec.count}")
        try:
            within = parse_duration(spec.within)
        except ValueError as exc:
            self.add((*path, "within"), str(exc))
            within = None
        if within is not None and not within:
            self.add((*path, "within"), f"within must be longer than 0, got '{spec.within}'")
        known = self.known - THRESHOLD_ONLY_NAMES
        match = None
        if spec.match is not None:
            match = self.expression(spec.match, (*path, "match"), known)
        group_by = None
        if spec.group_by is not None:
            group_by = self.field_names.get(spec.group_by)
            if group_by is None and spec.group_by in known:
                group_by = spec.group_by
            if group_by is None:
                self.add(
                    (*path, "group_by"), unknown_field_message(spec.group_by, self.field_names)
                )
        return CompiledThreshold(spec.count, within or timedelta(0), match, group_by)

    # -- actions -------------------------------------------------------------------------------

    def action(self, item: Mapping[str, Any], path: Path) -> CompiledAction | None:
        names = [key for key in item if key in ACTIONS]
        if len(names) != 1:
            self.bad_action_keys(item, names, path)
            return None
        name = names[0]
        spec = ACTIONS[name]
        options = {key: value for key, value in item.items() if key != name}
        for key in options:
            if key not in spec.options:
                allowed = ", ".join(spec.options) or "none"
                self.add((*path, key), f"unknown option '{key}' for {name} (allowed: {allowed})")
        for key in spec.required:
            if key not in options:
                self.add(path, f"{name} needs {key}: ({spec.options[key]})")
        here = (*path, name)
        value = item[name]
        if name == "notify":
            return NotifyAction(
                self.targets(value, here),
                self.template(options.get("message", ""), (*path, "message")),
            )
        if name == "escalate":
            reassign = None
            if "reassign" in options:
                reassign = self.single_target(options["reassign"], (*path, "reassign"), "reassign")
            message = options.get("message", DEFAULT_ESCALATION_MESSAGE)
            return EscalateAction(
                self.targets(value, here), self.template(message, (*path, "message")), reassign
            )
        if name == "assign":
            target = self.single_target(value, here, "assign")
            return AssignAction(target) if target else None
        if name == "set_field":
            return self.set_field(value, here)
        if name == "call_webhook":
            return self.webhook(value, here)
        if value not in (None, {}):
            self.add(here, f"send_survey takes no options; write send_survey: {{}}, got {value!r}")
        return SendSurveyAction()

    def bad_action_keys(self, item: Mapping[str, Any], names: list[str], path: Path) -> None:
        expected = ", ".join(ACTIONS)
        if len(names) > 1:
            self.add(
                path,
                f"one action per item, found {' and '.join(names)}: start each with its own '- '",
            )
            return
        option_names = {option for spec in ACTIONS.values() for option in spec.options}
        unknown = [key for key in item if key not in option_names]
        if unknown:
            key = str(unknown[0])
            self.add(
                (*path, key),
                f"unknown action '{key}'{suggest(key, ACTIONS)}; expected one of: {expected}",
            )
        else:
            self.add(path, f"an action needs one of: {expected}")

    def targets(self, value: Any, path: Path) -> tuple[Target, ...]:
        if isinstance(value, Mapping):
            target = self.target(value, path)
            return (target,) if target else ()
        if isinstance(value, list) and value:
            found = (self.target(item, (*path, k)) for k, item in enumerate(value))
            return tuple(t for t in found if t is not None)
        self.add(path, f"expected a target like {{role: 客服}} or a list of them, got {value!r}")
        return ()

    def single_target(self, value: Any, path: Path, action: str) -> Target | None:
        if not isinstance(value, Mapping):
            self.add(path, f"{action} takes one target like {{person: lisi}}, got {value!r}")
            return None
        target = self.target(value, path)
        if target is not None and target.kind not in SINGLE_PERSON_TARGETS:
            self.add(
                (*path, target.kind),
                f"{action} needs one person: use person, department_head or department, "
                f"not {target.kind}",
            )
            return None
        if target and target.kind == "department" and target.id != "complaint":
            if not self.directory.head_of(target.id):
                self.add(
                    (*path, target.kind), f"department '{target.id}' has no head to {action} to"
                )
                return None
        return target

    def target(self, value: Any, path: Path) -> Target | None:
        kinds = ", ".join(TARGETS)
        if not isinstance(value, Mapping) or len(value) != 1:
            self.add(path, f"a target names exactly one of: {kinds}; got {value!r}")
            return None
        [(kind, raw)] = value.items()
        if kind not in TARGETS:
            self.add(
                (*path, kind),
                f"unknown target '{kind}'{suggest(str(kind), TARGETS)}; expected one of: {kinds}",
            )
            return None
        here = (*path, kind)
        if kind in FLAG_TARGETS:
            if raw is not True:
                self.add(here, f"write {{{kind}: true}}, got {raw!r}")
                return None
            return Target(kind)
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw:
            self.add(here, f"expected an id, got {raw!r}")
            return None
        problem = reference_problem(kind, raw, self.directory, self.groups)
        if problem:
            self.add(here, problem)
            return None
        return Target(kind, raw)

    def set_field(self, value: Any, path: Path) -> SetFieldAction | None:
        if not isinstance(value, Mapping) or "field" not in value or "value" not in value:
            self.add(path, f"write set_field: {{field: 字段, value: 值}}, got {value!r}")
            return None
        for key in value:
            if key not in ("field", "value"):
                self.add(
                    (*path, key), f"unknown option '{key}' for set_field (allowed: field, value)"
                )
        field = str(value["field"])
        key = self.field_names.get(field)
        if key is None:
            self.add((*path, "field"), unknown_field_message(field, self.field_names))
        new_value = value["value"]
        if isinstance(new_value, str):
            self.template(new_value, (*path, "value"))
        return SetFieldAction(key or field, new_value)

    def webhook(self, value: Any, path: Path) -> CallWebhookAction | None:
        if not isinstance(value, Mapping):
            self.add(path, f"write call_webhook: {{url: https://..., method: POST}}, got {value!r}")
            return None
        for key in value:
            if key not in WEBHOOK_OPTIONS:
                allowed = ", ".join(WEBHOOK_OPTIONS)
                self.add(
                    (*path, key), f"unknown option '{key}' for call_webhook (allowed: {allowed})"
                )
        url = value.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            self.add((*path, "url"), f"url must start with https:// or http://, got {url!r}")
        method = str(value.get("method", "POST")).upper()
        if method not in WEBHOOK_METHODS:
            self.add(
                (*path, "method"),
                f"unknown method '{value.get('method')}'; expected one of: "
                + ", ".join(WEBHOOK_METHODS),
            )
        headers = value.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(isinstance(k, str) for k in headers):
            self.add(
                (*path, "headers"),
                f"headers must be a mapping of names to values, got {headers!r}",
            )
            headers = {}
        payload = value.get("payload")
        if payload is not None:
            if isinstance(payload, Mapping):
                self.payload_templates(payload, (*path, "payload"))
            else:
                self.add((*path, "payload"), f"payload must be a mapping, got {payload!r}")
        return CallWebhookAction(str(url), method, {k: str(v) for k, v in headers.items()}, payload)

    def payload_templates(self, value: Any, path: Path) -> None:
        if isinstance(value, str):
            self.template(value, path)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                self.payload_templates(item, (*path, key))
        elif isinstance(value, list):
            for position, item in enumerate(value):
                self.payload_templates(item, (*path, position))
