"""Whole-form work: defaults, visibility, computed fields, validation of many answers at once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import lru_cache
from typing import Any

from bot.errors import ExpressionError
from bot.expr import Expression, parse
from bot.forms.answers import is_empty, parse_field, required_message
from bot.forms.definition import (
    FieldDefinition,
    FormDefinition,
    field_names,
    is_now_default,
    profile_default,
)
from bot.forms.results import FieldProblem, FormContext, FormResult


@lru_cache(maxsize=2048)
def compiled(source: str) -> Expression | None:
    """The parsed expression, or None when it does not parse (check_form reports that)."""
    try:
        return parse(source)
    except ExpressionError:
        return None


def form_env(form: FormDefinition, values: Mapping[str, Any]) -> dict[str, Any]:
    """Names for expressions: each field by key and by label; a missing field is None."""
    env: dict[str, Any] = {}
    for field in form.fields:
        env[field.label] = values.get(field.key, values.get(field.label))
    for field in form.fields:
        env[field.key] = env[field.label]
    return env


def _holds(source: str | None, env: Mapping[str, Any]) -> bool:
    """A visible_if condition; one that cannot be evaluated hides the field (condition not met)."""
    if source is None:
        return True
    expression = compiled(source)
    if expression is None:
        return True
    try:
        return expression.is_true(env)
    except ExpressionError:
        return False


def visibility(form: FormDefinition, values: Mapping[str, Any]) -> dict[str, bool]:
    """Key -> shown; a hidden field reads as None to the conditions of the fields after it."""
    env = form_env(form, values)
    shown: dict[str, bool] = {}
    for field in form.fields:
        shown[field.key] = _holds(field.visible_if, env)
        if not shown[field.key]:
            env[field.label] = None
            env[field.key] = None
    return shown


def visible_fields(form: FormDefinition, values: Mapping[str, Any]) -> list[FieldDefinition]:
    """The fields shown for these values, in form order."""
    shown = visibility(form, values)
    return [field for field in form.fields if shown[field.key]]


def dependencies(form: FormDefinition, field: FieldDefinition) -> set[str]:
    """Keys of the fields a computed field's formula reads."""
    expression = compiled(field.formula) if field.formula else None
    if expression is None:
        return set()
    names = field_names(form)
    return {names[name] for name in expression.names if name in names}


def computed_order(form: FormDefinition) -> list[FieldDefinition]:
    """Computed fields with each after the computed fields it reads; fields in a cycle left out."""
    computed = {f.key: f for f in form.fields if f.type == "computed"}
    order: list[FieldDefinition] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(key: str) -> bool:
        if key in done:
            return True
        if key in visiting:
            return False
        visiting.add(key)
        ok = all(visit(dep) for dep in dependencies(form, computed[key]) if dep in computed)
        visiting.discard(key)
        if ok:
            done.add(key)
            order.append(computed[key])
        return ok

    for key in computed:
        visit(key)
    return order


def compute(form: FormDefinition, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` with every computed field (re)computed; a formula that fails gives None."""
    out = dict(values)
    for field in form.fields:
        if field.type == "computed":
            out[field.key] = None
    for field in computed_order(form):
        expression = compiled(field.formula) if field.formula else None
        if expression is None:
            continue
        try:
            out[field.key] = expression.evaluate(form_env(form, out))
        except (ExpressionError, ArithmeticError, TypeError, ValueError):
            out[field.key] = None
    return out


def default_source(field: FieldDefinition, ctx: FormContext) -> Any:
    """The raw default of a field: a profile value, the current time, or the constant."""
    key = profile_default(field)
    if key is not None:
        return ctx.profile.get(key)
    if is_now_default(field):
        return ctx.local_now
    return field.default


def defaults(form: FormDefinition, ctx: FormContext) -> dict[str, Any]:
    """Typed default values; a profile value that is missing or invalid is left out."""
    out: dict[str, Any] = {}
    for field in form.fields:
        if field.type == "computed" or field.default is None:
            continue
        value, problem = parse_field(field, default_source(field, ctx), ctx)
        if problem is None and value is not None:
            out[field.key] = value
    return out


def _scope(form: FormDefinition, only: Collection[str] | None) -> set[str]:
    if only is None:
        return {f.key for f in form.fields}
    return {form.require(name).key for name in only}


def validate(
    form: FormDefinition,
    raw: Mapping[str, Any],
    ctx: FormContext,
    *,
    only: Collection[str] | None = None,
    partial: bool = False,
) -> FormResult:
    """Parse and check answers (keyed by key or label) and report every problem at once.

    Fields outside `only` are still read, for visibility and formulas, but neither checked nor
    returned. Hidden fields are dropped without complaint. With `partial`, a required field that
    was not supplied at all is not reported (a supplied empty one is). Computed fields are always
    recomputed and returned.
    """
    problems: list[FieldProblem] = []
    supplied: dict[str, Any] = {}
    for name, value in raw.items():
        field = form.field(name)
        if field is None:
            problems.append(FieldProblem(name, name, f"没有“{name}”这一项"))
        elif field.type != "computed":
            supplied[field.key] = value
    scope = _scope(form, only)
    typed: dict[str, Any] = {}
    parse_problems: dict[str, FieldProblem] = {}
    for field in form.fields:
        if field.key in supplied:
            typed[field.key], problem = parse_field(field, supplied[field.key], ctx)
            if problem is not None:
                parse_problems[field.key] = problem
    shown = visibility(form, compute(form, typed))
    typed = compute(form, {k: v for k, v in typed.items() if shown[k]})
    values: dict[str, Any] = {}
    for field in form.fields:
        key = field.key
        if field.type == "computed":
            values[key] = typed.get(key)
            continue
        if key not in scope or not shown[key]:
            continue
        if key in parse_problems:
            problems.append(parse_problems[key])
            continue
        if key in supplied:
            values[key] = typed[key]
        if field.required and is_empty(typed.get(key)) and (key in supplied or not partial):
            problems.append(FieldProblem(key, field.label, required_message(field)))
    return FormResult(values=values, problems=tuple(problems))
