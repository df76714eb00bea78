"""A small, safe expression language for conditions, visibility rules and computed fields.

Never Python eval: a hand-written tokenizer and Pratt parser build a tree of frozen nodes, and a
tiny evaluator walks it.

Language (loosest binding first):
    or · and · not · == != < <= > >= in, not in, contains (no chaining) · + - · * / % · unary -
Values: 42, 3.50 (Decimal), "text" or 'text', true, false, null, [a, b], durations 30m 24h 1d12h
(units s m h d w, largest first), dates 2026-11-23 and date-times 2026-11-23T14:05.
Names: letters (CJK too), digits, _ (投诉类型, order_no); `backticks` for any label.
Functions: len lower upper trim empty abs round days hours minutes date (see FUNCTIONS).
Types (bot/expr/values.py): == across kinds is false, never an error; ordering or arithmetic
across kinds is an ExpressionError naming both. null in arithmetic gives null; ordering with
null is false, so a condition on an unfilled field is false. int/int division gives a Decimal.
datetime - datetime is a duration; a date stands for its midnight; a naive date-time is read in
the other operand's time zone. A name absent from the env is an "unknown field" error.
Limits: 2000 characters, 50 levels of brackets/not/minus, tree height 100.
"""

from __future__ import annotations

from bot.expr.durations import duration_in_chinese, format_duration, parse_duration
from bot.expr.expression import Expression, parse, unknown_field_message
from bot.expr.functions import FUNCTIONS, Function
from bot.expr.parser import MAX_DEPTH, MAX_NESTING, MAX_SOURCE_LENGTH
from bot.expr.templates import check_template, format_value, render_template, template_names

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_NESTING",
    "MAX_SOURCE_LENGTH",
    "Expression",
    "Function",
    "check_template",
    "duration_in_chinese",
    "format_duration",
    "format_value",
    "parse",
    "parse_duration",
    "render_template",
    "template_names",
    "unknown_field_message",
]
