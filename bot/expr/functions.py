"""The fixed table of functions an expression may call; nothing else is callable."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bot.expr.values import EvalProblem, is_list, is_number, kind_of, to_decimal


@dataclass(frozen=True)
class Function:
    """One callable function, with metadata an editor can list."""

    name: str
    params: tuple[str, ...]
    min_args: int
    description: str  # Chinese, for people editing config
    impl: Callable[..., Any]

    @property
    def max_args(self) -> int:
        return len(self.params)

    @property
    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"

    @property
    def arity_text(self) -> str:
        if self.min_args == self.max_args:
            count = self.max_args
            return f"{count} argument{'s' if count != 1 else ''}"
        return f"{self.min_args} to {self.max_args} arguments"


def _len(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str) or is_list(value):
        return len(value)
    raise EvalProblem(f"len() needs text or a list, not {kind_of(value)}")


def _text(name: str, method: Callable[[str], str]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise EvalProblem(f"{name}() needs text, not {kind_of(value)}")
        return method(value)

    return apply


def _abs(value: Any) -> Any:
    if value is None:
        return None
    if is_number(value) or isinstance(value, timedelta):
        return abs(value)
    raise EvalProblem(f"abs() needs a number or a duration, not {kind_of(value)}")


def _round(value: Any, digits: Any = 0) -> Any:
    if value is None:
        return None
    if not is_number(value):
        raise EvalProblem(f"round() needs a number, not {kind_of(value)}")
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 10:
        raise EvalProblem("round()'s second argument must be a whole number from 0 to 10")
    # Half up, as people round money; not Python's banker's rounding.
    rounded = to_decimal(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return int(rounded) if digits == 0 else rounded


def _unit(name: str, unit: timedelta) -> Callable[[Any], Any]:
    def apply(amount: Any) -> Any:
        if amount is None:
            return None
        if not is_number(amount):
            raise EvalProblem(f"{name}() needs a number, not {kind_of(amount)}")
        microseconds = to_decimal(amount) * (unit // timedelta(microseconds=1))
        try:
            return timedelta(microseconds=int(microseconds))
        except OverflowError:
            raise EvalProblem(f"{name}({amount}) is out of range") from None

    return apply


def _date(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise EvalProblem(f"date() needs a date and time, not {kind_of(value)}")


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return is_list(value) and len(value) == 0


_TABLE = (
    Function("len", ("x",), 1, "文本的字数或列表的项数", _len),
    Function("lower", ("text",), 1, "转为小写", _text("lower", str.lower)),
    Function("upper", ("text",), 1, "转为大写", _text("upper", str.upper)),
    Function("trim", ("text",), 1, "去掉首尾空白", _text("trim", str.strip)),
    Function("empty", ("x",), 1, "未填写（空值、空文本或空列表）", _empty),
    Function("abs", ("x",), 1, "绝对值", _abs),
    Function("round", ("number", "digits"), 1, "四舍五入到指定小数位（默认取整）", _round),
    Function("days", ("n",), 1, "n 天的时长", _unit("days", timedelta(days=1))),
    Function("hours", ("n",), 1, "n 小时的时长", _unit("hours", timedelta(hours=1))),
    Function("minutes", ("n",), 1, "n 分钟的时长", _unit("minutes", timedelta(minutes=1))),
    Function("date", ("datetime",), 1, "取日期部分", _date),
)
FUNCTIONS: dict[str, Function] = {f.name: f for f in _TABLE}
