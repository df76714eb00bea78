"""Evaluation: every operator over every kind of value, missing values, type errors."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from bot.errors import ExpressionError
from bot.expr import parse

SHANGHAI = timezone(timedelta(hours=8))

ENV: dict[str, Any] = {
    "投诉类型": "产品质量",
    "type": "产品质量",
    "赔偿金额": Decimal("1500.00"),
    "单价": Decimal("2.50"),
    "数量": 4,
    "rating": 4.5,
    "step": "部门处理",
    "age": timedelta(hours=30),
    "created_at": datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI),
    "local_time": datetime(2026, 11, 23, 10, 0),
    "complaint_date": date(2026, 11, 23),
    "相关图片/视频": ["photo.jpg", "clip.mp4"],
    "tags": ("a", "b"),
    "empty_value": None,
    "flag": True,
    "description": "收到的杯子有裂纹",
}


def value(source: str, env: dict[str, Any] | None = None) -> Any:
    return parse(source).evaluate(ENV if env is None else env)


def error_of(source: str, env: dict[str, Any] | None = None) -> ExpressionError:
    expression = parse(source)
    with pytest.raises(ExpressionError) as caught:
        expression.evaluate(ENV if env is None else env)
    return caught.value


# -- the contract's examples -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('投诉类型 == "产品质量"', True),
        ("赔偿金额 > 1000", True),
        ('type in ["产品质量", "物流问题"]', True),
        ("单价 * 数量", Decimal("10.00")),
        ('step == "部门处理" and age > 24h', True),
    ],
)
def test_the_examples_from_the_config_contract(source: str, expected: Any) -> None:
    assert value(source) == expected


# -- equality ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 == 1", True),
        ("1 == 1.0", True),
        ("1 == 2", False),
        ("数量 == 4.00", True),
        ("rating == 4.5", True),
        ("0.1 == rating - 4.4", True),  # float 4.5 - Decimal 4.4 is computed in decimal
        ('"a" == "a"', True),
        ('"a" == "b"', False),
        ("true == true", True),
        ("true == 1", False),  # true/false is not a number
        ("false == 0", False),
        ("null == null", True),
        ("empty_value == null", True),
        ('empty_value == "a"', False),
        ('"1" == 1', False),  # different kinds: unequal, never an error
        ("24h == 1d", True),
        ("24h == 24", False),
        ("2026-11-23 == complaint_date", True),
        ("complaint_date == 2026-11-23T00:00", True),
        ("created_at == 2026-11-23T10:00", True),  # naive literal read in the value's zone
        ("[1, 2] == [1, 2.0]", True),
        ("[1, 2] == [2, 1]", False),
        ("[1] == 1", False),
        ("tags == ['a', 'b']", True),
        ('"a" != "b"', True),
        ("1 != 1", False),
        ('empty_value != "a"', True),
        ("null != null", False),
    ],
)
def test_equality(source: str, expected: bool) -> None:
    assert value(source) is expected


# -- ordering ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2.5", True),
        ("赔偿金额 >= 1500", True),
        ("rating > 4", True),
        ("rating < 赔偿金额", True),
        ('"apple" < "banana"', True),
        ('"b" >= "a"', True),
        ("age > 24h", True),
        ("age <= 1d", False),
        ("30m < 1h", True),
        ("created_at > 2026-11-22", True),
        ("created_at < 2026-11-23T09:59", False),
        ("local_time >= 2026-11-23T10:00", True),
        ("complaint_date < 2026-12-01", True),
        ("complaint_date > local_time", False),  # the date stands for its midnight
    ],
)
def test_ordering(source: str, expected: bool) -> None:
    assert value(source) is expected


@pytest.mark.parametrize("op", ["<", "<=", ">", ">="])
def test_ordering_with_a_missing_value_is_false(op: str) -> None:
    assert value(f"empty_value {op} 1") is False
    assert value(f"1 {op} empty_value") is False
    assert value(f"not (empty_value {op} 1)") is True


@pytest.mark.parametrize(
    ("source", "kinds"),
    [
        ('"a" > 1', "text with a number"),
        ("1 < description", "a number with text"),
        ("age > 1", "a duration with a number"),
        ("created_at > 1h", "a date and time with a duration"),
        ("complaint_date < 1", "a date with a number"),
        ("[1] < [2]", "a list with a list"),
        ("true > false", "true/false with true/false"),
    ],
)
def test_ordering_across_kinds_is_an_error_naming_both(source: str, kinds: str) -> None:
    error = error_of(source)
    assert f"cannot compare {kinds}" in error.message
    op_position = next(i for i, ch in enumerate(source) if ch in "<>")
    assert error.position == op_position


# -- in, not in, contains ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"a" in ["a", "b"]', True),
        ('"c" in ["a", "b"]', False),
        ("1 in [1.0, 2]", True),
        ('"a" in tags', True),
        ('"裂纹" in description', True),
        ('"完好" in description', False),
        ('"c" not in ["a", "b"]', True),
        ('"a" not in tags', False),
        ('"完好" not in description', True),
        ("empty_value in ['a']", False),
        ("empty_value not in ['a']", True),
        ("null in [null]", True),
        ("empty_value in 'abc'", False),
        ('"a" in empty_value', False),
        ('`相关图片/视频` contains "photo.jpg"', True),
        ('`相关图片/视频` contains "x"', False),
        ('description contains "杯子"', True),
        ('empty_value contains "a"', False),
        ("[[1], [2]] contains [2]", True),
    ],
)
def test_membership(source: str, expected: bool) -> None:
    assert value(source) is expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('"a" in 5', "'in' needs a list or text on its right, not a number"),
        ('"a" not in age', "'not in' needs a list or text on its right, not a duration"),
        ("1 in 'abc'", "cannot look for a number inside text"),
        ("5 contains 1", "'contains' needs a list or text on its left, not a number"),
        ("description contains 1", "cannot look for a number inside text"),
    ],
)
def test_membership_type_errors(source: str, message: str) -> None:
    assert message in error_of(source).message


# -- arithmetic --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2", 3),
        ("5 - 7", -2),
        ("6 * 7", 42),
        ("7 / 2", Decimal("3.5")),
        ("6 / 3", Decimal(2)),
        ("7 % 3", 1),
        ("1.5 + 1", Decimal("2.5")),
        ("单价 * 数量", Decimal("10.00")),
        ("rating * 2", 9.0),
        ("rating + 0.5", Decimal("5.0")),
        ("10 % 3.5", Decimal("3.0")),
        ("-数量", -4),
        ("-1.5", Decimal("-1.5")),
        ("2 * -3", -6),
        ('"投诉" + "编号"', "投诉编号"),
        ("1h + 30m", timedelta(minutes=90)),
        ("1d - 1h", timedelta(hours=23)),
        ("2h * 3", timedelta(hours=6)),
        ("3 * 2h", timedelta(hours=6)),
        ("1h * 1.5", timedelta(minutes=90)),
        ("3h / 2", timedelta(minutes=90)),
        ("age / 1h", Decimal(30)),
        ("age % 1d", timedelta(hours=6)),
        ("-age", timedelta(hours=-30)),
        ("created_at + 1d12h", datetime(2026, 11, 24, 22, 0, tzinfo=SHANGHAI)),
        ("1h + local_time", datetime(2026, 11, 23, 11, 0)),
        ("created_at - 30m", datetime(2026, 11, 23, 9, 30, tzinfo=SHANGHAI)),
        ("created_at - 2026-11-22T10:00", timedelta(days=1)),
        ("created_at - 2026-11-23", timedelta(hours=10)),
        ("2026-11-25 - complaint_date", timedelta(days=2)),
        ("complaint_date + 2d", date(2026, 11, 25)),
        ("complaint_date + 12h", datetime(2026, 11, 23, 12, 0)),
        ("complaint_date - 1w", date(2026, 11, 16)),
    ],
)
def test_arithmetic(source: str, expected: Any) -> None:
    result = value(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "%"])
def test_arithmetic_with_a_missing_value_is_missing(op: str) -> None:
    assert value(f"empty_value {op} 1") is None
    assert value(f"2 {op} empty_value") is None
    assert value("-empty_value") is None


def test_a_missing_value_makes_a_computed_condition_false() -> None:
    assert parse("empty_value * 2 > 10").is_true(ENV) is False


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('"a" + 1', "'+' cannot combine text with a number (text can only be joined with text)"),
        ('"a" * 2', "'*' cannot combine text with a number"),
        ("age + 1", "'+' cannot combine a duration with a number"),
        ("created_at + created_at", "'+' cannot combine a date and time with a date and time"),
        ("1h - created_at", "'-' cannot combine a duration with a date and time"),
        ("2 / 1h", "'/' cannot combine a number with a duration"),
        ("true + 1", "'+' cannot combine true/false with a number"),
        ("[1] + [2]", "'+' cannot combine a list with a list"),
        ("1 / 0", "division by zero"),
        ("1.5 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("1.5 % 0", "division by zero"),
        ("1h / 0", "division by zero"),
        ("1h / 0s", "division by zero"),
        ('-"a"', "'-' needs a number or a duration, not text"),
        ("-created_at", "'-' needs a number or a duration, not a date and time"),
        ("999999999d + 999999999d", "out of range"),
        ("999999999d * 10", "out of range"),
        ("created_at + 999999999d", "out of range"),
    ],
)
def test_arithmetic_type_errors(source: str, message: str) -> None:
    assert message in error_of(source).message


def test_type_error_points_at_the_operator() -> None:
    error = error_of("description + 1 > 0")
    assert error.position == len("description ")


# -- logic and conditions ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true and true", True),
        ("true and false", False),
        ("false or true", True),
        ("false or false", False),
        ("not true", False),
        ("not empty_value", True),
        ("not description", False),
        ("数量 and description", True),
        ("0 or ''", False),
    ],
)
def test_logic_gives_true_or_false(source: str, expected: bool) -> None:
    assert value(source) is expected


def test_and_or_short_circuit_past_errors_and_unknown_names() -> None:
    assert value("false and nope > 1") is False
    assert value('true or "a" > 1') is True


@pytest.mark.parametrize(
    ("result_source", "expected"),
    [
        ("null", False),
        ("0", False),
        ("0.0", False),
        ("1", True),
        ("''", False),
        ("'x'", True),
        ("[]", False),
        ("[0]", True),
        ("0s", False),
        ("1s", True),
        ("2026-11-23", True),
    ],
)
def test_is_true_coerces_for_conditions(result_source: str, expected: bool) -> None:
    assert parse(result_source).is_true({}) is expected


def test_an_unfilled_field_makes_a_condition_false_not_an_error() -> None:
    env = {"赔偿金额": None}
    assert parse("赔偿金额 > 1000").is_true(env) is False
    assert parse('赔偿金额 == "a"').is_true(env) is False


def test_an_identifier_absent_from_the_env_is_an_unknown_field() -> None:
    error = error_of("step == 'x' and 产品不 == 1", {"step": "x"})
    assert error.message == "unknown field '产品不'"
    assert error.position == len("step == 'x' and ")


def test_backticked_names_read_labels_with_punctuation() -> None:
    assert value("len(`相关图片/视频`) == 2") is True


# -- unknown_names -----------------------------------------------------------------------------


def test_unknown_names_reports_each_unknown_identifier_once_with_its_position() -> None:
    expression = parse("产品不 == 1 or x > 2 or 产品不 == 3 or zz")
    errors = expression.unknown_names({"x"})
    assert [(e.message, e.position) for e in errors] == [
        ("unknown field '产品不'", 0),
        ("unknown field 'zz'", len("产品不 == 1 or x > 2 or 产品不 == 3 or ")),
    ]
    assert all(e.source == expression.source for e in errors)


def test_unknown_names_suggests_close_known_names() -> None:
    [error] = parse("投诉类行 == 1").unknown_names({"投诉类型", "type"})
    assert error.message == "unknown field '投诉类行' (did you mean '投诉类型'?)"


def test_unknown_names_suggests_null_for_none() -> None:
    [error] = parse("x == None").unknown_names({"x"})
    assert "did you mean 'null'?" in error.message


def test_unknown_names_is_empty_when_all_are_known() -> None:
    assert parse("a == b").unknown_names(["a", "b", "c"]) == []


# -- functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len(description)", 8),
        ("len(tags)", 2),
        ("len(empty_value)", 0),
        ("lower('ABC')", "abc"),
        ("upper('abc')", "ABC"),
        ("trim('  a ')", "a"),
        ("lower(empty_value)", None),
        ("empty(empty_value)", True),
        ("empty('  ')", True),
        ("empty([])", True),
        ("empty('a')", False),
        ("empty(0)", False),
        ("abs(-2)", 2),
        ("abs(-1h)", timedelta(hours=1)),
        ("abs(empty_value)", None),
        ("round(2.5)", 3),
        ("round(10 / 3, 2)", Decimal("3.33")),
        ("round(rating)", 5),
        ("round(empty_value)", None),
        ("days(2)", timedelta(days=2)),
        ("hours(1.5)", timedelta(minutes=90)),
        ("minutes(数量)", timedelta(minutes=4)),
        ("hours(empty_value)", None),
        ("date(created_at)", date(2026, 11, 23)),
        ("date(complaint_date)", date(2026, 11, 23)),
        ("date(empty_value)", None),
        ("age > hours(数量 * 6)", True),
    ],
)
def test_functions(source: str, expected: Any) -> None:
    result = value(source)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("len(1)", "len() needs text or a list, not a number"),
        ("lower(1)", "lower() needs text, not a number"),
        ("abs('a')", "abs() needs a number or a duration, not text"),
        ("round('a')", "round() needs a number, not text"),
        ("round(1.5, 1.5)", "round()'s second argument must be a whole number"),
        ("days('a')", "days() needs a number, not text"),
        ("days(9999999999)", "out of range"),
        ("date(1)", "date() needs a date and time, not a number"),
    ],
)
def test_function_type_errors_name_the_function(source: str, message: str) -> None:
    error = error_of(source)
    assert message in error.message
    assert error.position == 0
