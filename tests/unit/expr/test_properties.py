"""Properties: hostile or random input only ever raises ExpressionError."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ExpressionError
from bot.expr import format_value, parse, render_template, template_names
from bot.expr.lexer import KEYWORDS

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.decimals(min_value=-(10**6), max_value=10**6, places=2),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.text(max_size=5),
    st.timedeltas(min_value=timedelta(days=-1000), max_value=timedelta(days=1000)),
    st.dates(),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
)

TOKENS = st.sampled_from(
    [
        "a", "b", "`c d`", "1", "2.5", "0", "24h", "1d12h", "2026-11-23", "2026-11-23T14:05",
        '"x"', "'y'", "true", "false", "null", "and", "or", "not", "in", "not in", "contains",
        "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",",
        "len(", "round(", "days(", "empty(",
    ]
)  # fmt: skip


def evaluate_or_expression_error(source: str, env: dict[str, Any]) -> None:
    try:
        expression = parse(source)
    except ExpressionError:
        return
    try:
        expression.evaluate(env)
        expression.is_true(env)
    except ExpressionError:
        pass


@settings(max_examples=400)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=60))
def test_random_ascii_never_raises_anything_but_expression_error(source: str) -> None:
    evaluate_or_expression_error(source, {})


@settings(max_examples=400)
@given(st.text(max_size=40))
def test_random_unicode_never_raises_anything_but_expression_error(source: str) -> None:
    evaluate_or_expression_error(source, {})


@settings(max_examples=600)
@given(st.lists(TOKENS, max_size=25), VALUES, VALUES, VALUES)
def test_token_soup_over_any_values_never_raises_anything_but_expression_error(
    tokens: list[str], a: Any, b: Any, c: Any
) -> None:
    evaluate_or_expression_error(" ".join(tokens), {"a": a, "b": b, "c d": c})


OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "in", "contains"]


@settings(max_examples=600)
@given(VALUES, st.sampled_from(OPERATORS), VALUES)
def test_every_operator_over_every_kind_is_a_value_or_an_expression_error(
    a: Any, op: str, b: Any
) -> None:
    evaluate_or_expression_error(f"a {op} b", {"a": a, "b": b})


@given(VALUES, VALUES)
def test_equality_never_raises_and_is_symmetric(a: Any, b: Any) -> None:
    env = {"a": a, "b": b}
    assert parse("a == b").evaluate(env) == parse("b == a").evaluate(env)
    assert parse("a != b").evaluate(env) is not parse("a == b").evaluate(env)


@given(VALUES)
def test_a_value_equals_itself(a: Any) -> None:
    assert parse("a == a").evaluate({"a": a}) is True


NAME_START = st.characters(categories=("Lu", "Ll", "Lo"))
NAMES = st.builds(
    lambda first, rest: first + rest,
    NAME_START,
    st.text(alphabet=st.characters(categories=("Lu", "Ll", "Lo", "Nd")), max_size=6),
).filter(lambda n: n not in KEYWORDS)


@given(NAMES, VALUES)
def test_any_letter_name_reads_its_value(name: str, v: Any) -> None:
    expression = parse(f"{name} == x")
    assert expression.names == frozenset({name, "x"})
    assert expression.evaluate({name: v, "x": v}) is True


@given(st.text(alphabet=st.characters(exclude_characters="`"), min_size=1, max_size=10))
def test_any_backticked_label_is_one_name(label: str) -> None:
    if not label.strip():
        return
    assert parse(f"`{label}`").names == frozenset({label})


@given(st.text(max_size=40))
def test_template_names_raise_only_expression_error(template: str) -> None:
    try:
        names = template_names(template)
    except ExpressionError:
        return
    env = {name: 1 for name, _ in names}
    render_template(template, env)


@given(st.text(alphabet=st.characters(exclude_characters="{}"), max_size=30))
def test_text_without_braces_renders_unchanged(text: str) -> None:
    assert render_template(text, {}) == text


@given(VALUES)
def test_format_value_always_gives_text(v: Any) -> None:
    assert isinstance(format_value(v), str)


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**9), max_value=10**9))
def test_decimals_are_written_without_exponent_or_trailing_zeros(d: Decimal) -> None:
    text = format_value(d)
    assert "E" not in text
    assert Decimal(text) == d
    assert not ("." in text and text.endswith("0"))


@given(st.dates())
def test_date_literals_round_trip(d: date) -> None:
    if d.year < 1000:
        return
    assert parse(d.isoformat()).evaluate({}) == d
