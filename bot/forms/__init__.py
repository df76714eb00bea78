"""The form engine: form definitions, answer parsing, validation, defaults and display."""

from __future__ import annotations

from bot.forms.answers import is_empty, parse_answer, required_message
from bot.forms.check import check_form
from bot.forms.definition import (
    ATTACHMENT_KINDS,
    FIELD_TYPES,
    RESERVED_NAMES,
    FieldDefinition,
    FieldType,
    FormDefinition,
    field_names,
)
from bot.forms.engine import (
    compute,
    defaults,
    form_env,
    validate,
    visibility,
    visible_fields,
)
from bot.forms.questions import question_for
from bot.forms.results import FieldProblem, FormContext, FormResult
from bot.forms.scalars import split_rating
from bot.forms.values import display_value, dump_value, dump_values, load_values

__all__ = [
    "ATTACHMENT_KINDS",
    "FIELD_TYPES",
    "RESERVED_NAMES",
    "FieldDefinition",
    "FieldProblem",
    "FieldType",
    "FormContext",
    "FormDefinition",
    "FormResult",
    "check_form",
    "compute",
    "defaults",
    "display_value",
    "dump_value",
    "dump_values",
    "field_names",
    "form_env",
    "is_empty",
    "load_values",
    "parse_answer",
    "question_for",
    "required_message",
    "split_rating",
    "validate",
    "visibility",
    "visible_fields",
]
