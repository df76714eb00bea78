"""Event-condition-action rules: "when EVENT, if CONDITION, then ACTIONS", as pure functions.

compile_rules checks the YAML shapes at load time; evaluate_rules turns one event into effects
(frozen data in bot/rules/effects.py) that the service carries out.
"""

from __future__ import annotations

from bot.rules.catalog import ACTIONS, EVENT_NAMES, EVENTS, RESERVED_NAMES, TARGETS, ActionSpec
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
from bot.rules.compiler import compile_rules
from bot.rules.definitions import RuleDefinition, ThresholdDefinition
from bot.rules.effects import (
    Assign,
    CallWebhook,
    Effect,
    Escalate,
    Notify,
    Recipient,
    RuleFailed,
    RuleOutcome,
    SendSurvey,
    SetField,
)
from bot.rules.engine import RuleEvent, evaluate_rules, resolve_targets, threshold_count

__all__ = [
    "ACTIONS",
    "EVENTS",
    "EVENT_NAMES",
    "RESERVED_NAMES",
    "TARGETS",
    "ActionSpec",
    "Assign",
    "AssignAction",
    "CallWebhook",
    "CallWebhookAction",
    "CompiledAction",
    "CompiledRule",
    "CompiledThreshold",
    "Effect",
    "Escalate",
    "EscalateAction",
    "Notify",
    "NotifyAction",
    "Recipient",
    "RuleDefinition",
    "RuleEvent",
    "RuleFailed",
    "RuleOutcome",
    "SendSurvey",
    "SendSurveyAction",
    "SetField",
    "SetFieldAction",
    "Target",
    "ThresholdDefinition",
    "compile_rules",
    "evaluate_rules",
    "resolve_targets",
    "threshold_count",
]
