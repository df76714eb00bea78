"""Syntax: tokens, names, precedence, error messages with positions, size limits."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.errors import ExpressionError
from bot.expr import MAX_NESTING, MAX_SOURCE_LENGTH, parse
from bot.expr.nodes import Binary, Call, ListOf, Literal, Logical, Name, Negate, Not


def error_of(source: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        parse(source)
    return caught.value


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("42", 42),
        ("3.50", Decimal("3.50")),
        ('"产品质量"', "产品质量"),
        ("'单引号'", "单引号"),
        (r'"a\"b"', 'a"b'),
        (r"'it\'s'", "it's"),
        (r'"line\nnext\ttab\\"', "line\nnext\ttab\\"),
        (r'"keep \d"', "keep \\d"),
        ("true", True),
        ("false", False),
        ("null", None),
        ("24h", timedelta(hours=24)),
        ("30m", timedelta(minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
        ("1w", timedelta(weeks=1)),
        ("2026-11-23", date(2026, 11, 23)),
        ("2026-11-23T14:05", datetime(2026, 11, 23, 14, 5)),
        ("2026-11-23T14:05:09", datetime(2026, 11, 23, 14, 5, 9)),
    ],
)
def test_literals_parse_to_their_values(source: str, value: object) -> None:
    tree = parse(source).tree
    assert isinstance(tree, Literal)
    assert tree.value == value
    assert type(tree.value) is type(value)


def test_list_literal_allows_a_trailing_comma_and_nesting() -> None:
    assert parse('[1, "a", [2],]').evaluate({}) == [1, "a", [2]]
    assert parse("[]").evaluate({}) == []


@pytest.mark.parametrize(
    ("source", "names"),
    [
        ('投诉类型 == "产品质量"', {"投诉类型"}),
        ("order_no != null and _x2 > 1", {"order_no", "_x2"}),
        ("客户姓名2 == 客户姓名", {"客户姓名2", "客户姓名"}),
        ("`相关图片/视频` contains 'a'", {"相关图片/视频"}),
        ("`label with spaces` == 1", {"label with spaces"}),
        ("`and` == 1", {"and"}),
        ("len(description) > 5", {"description"}),
        ("1 + 2", set()),
    ],
)
def test_names_are_every_identifier_read(source: str, names: set[str]) -> None:
    assert parse(source).names == frozenset(names)


def test_function_names_are_not_field_names() -> None:
    assert parse("lower(x) == 'a'").names == frozenset({"x"})


def test_a_field_may_share_a_function_name_when_not_called() -> None:
    assert parse("date == 2026-01-01").names == frozenset({"date"})


def shape(source: str) -> str:
    """The tree as fully parenthesised text, to read precedence off it."""

    def render(node: object) -> str:
        if isinstance(node, Literal):
            return repr(node.value) if not isinstance(node.value, str) else node.value
        if isinstance(node, Name):
            return node.name
        if isinstance(node, Not):
            return f"(not {render(node.operand)})"
        if isinstance(node, Negate):
            return f"(-{render(node.operand)})"
        if isinstance(node, Logical | Binary):
            return f"({render(node.left)} {node.op} {render(node.right)})"
        if isinstance(node, ListOf):
            return "[" + ", ".join(render(i) for i in node.items) + "]"
        if isinstance(node, Call):
            return f"{node.function}(" + ", ".join(render(a) for a in node.args) + ")"
        raise AssertionError(node)

    return render(parse(source).tree)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c", "((a and b) or c)"),
        ("not a == b", "(not (a == b))"),
        ("not a and b", "((not a) and b)"),
        ("not not a", "(not (not a))"),
        ("a == b and c != d", "((a == b) and (c != d))"),
        ("a + b * c", "(a + (b * c))"),
        ("a * b + c", "((a * b) + c)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b / c", "((a / b) / c)"),
        ("a % b * c", "((a % b) * c)"),
        ("-a * b", "((-a) * b)"),
        ("- -a", "(-(-a))"),
        ("(a + b) * c", "((a + b) * c)"),
        ("a + b > c * 2", "((a + b) > (c * 2))"),
        ("x in [1, 2] or y not in [3]", "((x in [1, 2]) or (y not in [3]))"),
        ("tags contains 'a' and b", "((tags contains a) and b)"),
        ("step == 'x' and age > 24h", "((step == x) and (age > datetime.timedelta(days=1)))"),
        ("a <= b", "(a <= b)"),
        ("a >= b", "(a >= b)"),
        ("a < b", "(a < b)"),
        ("round(a + 1, 2)", "round((a + 1), 2)"),
    ],
)
def test_precedence(source: str, expected: str) -> None:
    assert shape(source) == expected


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("a ==", "expected a value after '=='", 4),
        ("a == )", "expected a value after '==' but found ')'", 5),
        ("", "empty expression", 0),
        ("   ", "empty expression", 0),
        ('type == "产品', "unclosed string", 8),
        ("`相关图片", "unclosed `name`", 0),
        ("`` == 1", "empty `name`", 0),
        ("a => 1", "unknown operator '=>' (did you mean '>='?)", 2),
        ("a =< 1", "did you mean '<='?", 2),
        ("a <> 1", "did you mean '!='?", 2),
        ("a = 1", "unknown operator '=' (did you mean '=='?)", 2),
        ("a === 1", "did you mean '=='?", 2),
        ("a && b", "did you mean 'and'?", 2),
        ("a || b", "did you mean 'or'?", 2),
        ("!a", "did you mean 'not'?", 0),
        ("a < b < c", "comparisons cannot be chained", 6),
        ("a == b == c", "comparisons cannot be chained", 7),
        ("(a + 1", "missing ')' to close the '(' at column 1", 6),
        ("a + 1)", "unmatched ')'", 5),
        ("a b", "unexpected 'b' after a complete value", 2),
        ("[1, 2", "expected ',' or ']' in the list opened at column 1", 5),
        ("[1 2]", "expected ',' or ']'", 3),
        ("foo(1)", "unknown function 'foo' (available: abs, date, days", 0),
        ("len(1, 2)", "len(x) takes 1 argument", 0),
        ("round()", "round(number, digits) takes 1 to 2 arguments", 0),
        ("len(1", "expected ',' or ')' in the call to len()", 5),
        ("a not b", "'not' here must be followed by 'in'", 2),
        ("12abc", "unknown unit 'abc' in duration '12abc'", 0),
        ("1.5h", "durations take whole numbers ('1.5h')", 0),
        ("1h1d", "write each unit once, largest first", 0),
        ("2026-13-01", "invalid date '2026-13-01'", 0),
        ("a # b", "unexpected character '#'", 2),
        ("（a）", "unexpected full-width character '（' (write '('", 0),
        ("type == “产品质量”", "unexpected full-width character '“'", 8),
        ("a　== 1", "full-width character '　' (write a space", 1),
        ("-", "expected a value after '-'", 1),
        ("not", "expected a value after 'not'", 3),
        ("+ 1", "expected a value but found '+'", 0),
        ("a + * b", "expected a value after '+' but found '*'", 4),
    ],
)
def test_syntax_errors_say_what_is_wrong_and_where(
    source: str, message: str, position: int
) -> None:
    error = error_of(source)
    assert message in error.message
    assert error.position == position
    assert error.source == source


def test_error_pointer_marks_the_column() -> None:
    error = error_of("a => 1")
    assert error.pointer() == "a => 1\n  ^"


def test_source_longer_than_the_limit_is_refused() -> None:
    error = error_of("a" * (MAX_SOURCE_LENGTH + 1))
    assert "too long" in error.message


def test_source_at_the_limit_is_accepted() -> None:
    assert parse("a" * MAX_SOURCE_LENGTH).names == frozenset({"a" * MAX_SOURCE_LENGTH})


def test_nesting_up_to_the_limit_is_accepted() -> None:
    source = "(" * MAX_NESTING + "1" + ")" * MAX_NESTING
    assert parse(source).evaluate({}) == 1


@pytest.mark.parametrize(
    "source",
    [
        "(" * (MAX_NESTING + 1) + "1" + ")" * (MAX_NESTING + 1),
        "[" * 60 + "]" * 60,
        "not " * 60 + "a",
        "-" * 60 + "1",
        "len(" * 60 + "x" + ")" * 60,
    ],
)
def test_deep_nesting_is_refused_with_an_error_not_a_crash(source: str) -> None:
    assert "nested too deeply" in error_of(source).message


def test_a_long_flat_chain_is_refused_as_too_complex() -> None:
    source = " + ".join(["1"] * 300)
    assert "too complex" in error_of(source).message


def test_a_long_flat_chain_within_the_limit_evaluates() -> None:
    assert parse(" + ".join(["1"] * 90)).evaluate({}) == 90


def test_a_non_text_source_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError):
        parse(42)  # type: ignore[arg-type]


def test_expressions_are_equal_and_hashable_by_source() -> None:
    assert parse("a == 1") == parse("a == 1")
    assert len({parse("a == 1"), parse("a == 1"), parse("a == 2")}) == 2
    assert str(parse("a == 1")) == "a == 1"


def test_keywords_are_lowercase_only() -> None:
    # 'True' is then a field name; the unknown-name check points at the keyword.
    [error] = parse("True == x").unknown_names({"x"})
    assert error.message == "unknown field 'True' (did you mean the keyword 'true'?)"
