"""What operators do to values: the type rules of the language, in one place.

Missing values (None, an unfilled field) make arithmetic give None and ordering comparisons false,
so a condition on an unfilled field is simply false. '==' across different kinds is false, never
an error; ordering or arithmetic across incompatible kinds is an error naming both kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal, DecimalException
from typing import Any

_MICROSECOND = timedelta(microseconds=1)


class EvalProblem(Exception):
    """A type error inside evaluation; the evaluator adds the source position."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def kind_of(value: Any) -> str:
    """The language's name for a value's kind, used in error messages."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, timedelta):
        return "a duration"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, list | tuple | set | frozenset):
        return "a list"
    return f"a {type(value).__name__}"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def is_list(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def is_moment(value: Any) -> bool:
    return isinstance(value, date)  # datetime is a date too


def truthy(value: Any) -> bool:
    """How a value counts as a condition: None, false, 0, empty text/list/duration are false."""
    if value is None:
        return False
    try:
        return bool(value)
    except Exception:  # an exotic value from the environment: present, so true
        return True


def to_decimal(value: int | float | Decimal) -> Decimal:
    # repr() of a float is its shortest round-tripping text: 0.1 -> Decimal('0.1'), not the binary.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _numbers(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring two numbers to one representation: Decimal wins over float, float over int."""
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return to_decimal(a), to_decimal(b)
    return a, b


def align_moments(a: date, b: date) -> tuple[date, date]:
    """Make a date and a datetime, or a naive and an aware datetime, comparable.

    A date stands for its midnight; a naive datetime is read in the other value's time zone
    (literals in conditions are written in local time, the service passes local datetimes).
    """
    if isinstance(a, datetime) != isinstance(b, datetime):
        if isinstance(a, datetime):
            b = datetime.combine(b, time(), tzinfo=a.tzinfo)
        else:
            assert isinstance(b, datetime)
            a = datetime.combine(a, time(), tzinfo=b.tzinfo)
    if isinstance(a, datetime) and isinstance(b, datetime):
        if a.tzinfo is None and b.tzinfo is not None:
            a = a.replace(tzinfo=b.tzinfo)
        elif b.tzinfo is None and a.tzinfo is not None:
            b = b.replace(tzinfo=a.tzinfo)
    return a, b


def equal(a: Any, b: Any) -> bool:
    """'==': values of different kinds are simply unequal."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        x, y = _numbers(a, b)
        return bool(x == y)
    if is_moment(a) and is_moment(b):
        x, y = align_moments(a, b)
        return x == y
    if is_list(a) and is_list(b):
        if isinstance(a, set | frozenset) or isinstance(b, set | frozenset):
            return len(a) == len(b) and all(contains(b, item) for item in a)
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if kind_of(a) != kind_of(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # an exotic value from the environment; unequal is the safe answer
        return False


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}


def order(op: str, a: Any, b: Any) -> bool:
    """'<', '<=', '>', '>=' on numbers, texts, durations or dates; False if a value is missing."""
    if a is None or b is None:
        return False
    compare = _ORDERING[op]
    if is_number(a) and is_number(b):
        x, y = _numbers(a, b)
        return compare(x, y)
    if is_moment(a) and is_moment(b):
        x, y = align_moments(a, b)
        return compare(x, y)
    if (
        isinstance(a, str)
        and isinstance(b, str)
        or (isinstance(a, timedelta) and isinstance(b, timedelta))
    ):
        return compare(a, b)
    raise EvalProblem(f"cannot compare {kind_of(a)} with {kind_of(b)} using '{op}'")


def contains(container: Any, item: Any) -> bool:
    """Membership for 'in' and 'contains': an element of a list, or a substring of text."""
    if container is None or item is None and not is_list(container):
        return False
    if is_list(container):
        return any(equal(element, item) for element in container)
    if isinstance(container, str):
        if not isinstance(item, str):
            raise EvalProblem(
                f"cannot look for {kind_of(item)} inside text; compare text with text"
            )
        return item in container
    raise EvalProblem(f"needs a list or text to look in, not {kind_of(container)}")


def _scale(td: timedelta, factor: Any) -> timedelta:
    microseconds = (td // _MICROSECOND) * to_decimal(factor)
    return timedelta(microseconds=int(microseconds.to_integral_value()))


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """'+', '-', '*', '/', '%'; None when either side is missing."""
    if a is None or b is None:
        return None
    try:
        result = _arithmetic(op, a, b)
    except ZeroDivisionError:
        raise EvalProblem("division by zero") from None
    except (OverflowError, DecimalException):
        raise EvalProblem(f"the result of '{op}' is out of range") from None
    if result is NotImplemented:
        raise EvalProblem(f"'{op}' cannot combine {kind_of(a)} with {kind_of(b)}{_hint(op, a, b)}")
    return result


def _arithmetic(op: str, a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        x, y = _numbers(a, b)
        if op in ("/", "%") and y == 0:
            raise ZeroDivisionError
        if op == "/":
            if isinstance(x, int) and isinstance(y, int):
                x, y = Decimal(x), Decimal(y)
            return x / y
        return _NUMBER_OPS[op](x, y)
    td = timedelta
    if op == "+":
        if isinstance(a, str) and isinstance(b, str):
            return a + b
        if isinstance(a, td) and isinstance(b, td):
            return a + b
        if is_moment(a) and isinstance(b, td):
            return _shift(a, b)
        if isinstance(a, td) and is_moment(b):
            return _shift(b, a)
    elif op == "-":
        if isinstance(a, td) and isinstance(b, td):
            return a - b
        if is_moment(a) and isinstance(b, td):
            return _shift(a, -b)
        if is_moment(a) and is_moment(b):
            x, y = align_moments(a, b)
            return x - y  # type: ignore[operator]
    elif op == "*":
        if isinstance(a, td) and is_number(b):
            return _scale(a, b)
        if is_number(a) and isinstance(b, td):
            return _scale(b, a)
    elif op == "/":
        if isinstance(a, td) and is_number(b):
            if b == 0:
                raise ZeroDivisionError
            return _scale(a, 1 / to_decimal(b))
        if isinstance(a, td) and isinstance(b, td):
            if not b:
                raise ZeroDivisionError
            return Decimal(a // _MICROSECOND) / Decimal(b // _MICROSECOND)
    elif op == "%" and isinstance(a, td) and isinstance(b, td):
        return a % b
    return NotImplemented


def _shift(moment: date, delta: timedelta) -> date:
    """A date moved by whole days stays a date; by anything finer it becomes a datetime."""
    if not isinstance(moment, datetime) and delta % timedelta(days=1):
        moment = datetime.combine(moment, time())
    return moment + delta


_NUMBER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "%": lambda x, y: x % y,
}


def _hint(op: str, a: Any, b: Any) -> str:
    if op == "+" and (isinstance(a, str) or isinstance(b, str)):
        return " (text can only be joined with text)"
    return ""


def negate(value: Any) -> Any:
    """Unary minus on a number or a duration; None stays None."""
    if value is None:
        return None
    if is_number(value) or isinstance(value, timedelta):
        try:
            return -value
        except OverflowError:
            raise EvalProblem("the result of '-' is out of range") from None
    raise EvalProblem(f"'-' needs a number or a duration, not {kind_of(value)}")
