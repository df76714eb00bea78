"""Tokenizer for the expression language: hand-written, one pass, positions kept for errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.errors import ExpressionError
from bot.expr.durations import parse_duration

KEYWORDS = frozenset({"and", "or", "not", "in", "contains", "true", "false", "null"})
OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",")

# Operators people bring from other languages, with what to write instead.
_MISTAKES = {
    "===": "==",
    "!==": "!=",
    "=>": ">=",
    "=<": "<=",
    "<>": "!=",
    "&&": "and",
    "||": "or",
    "=": "==",
    "!": "not",
    "&": "and",
    "|": "or",
}
# Characters a Chinese input method produces in place of ASCII ones.
_FULL_WIDTH = {
    "（": "(",
    "）": ")",
    "，": ",",
    "＝": "=",
    "＞": ">",
    "＜": "<",
    "！": "!",
    "【": "[",
    "】": "]",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "　": "a space",
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True, slots=True)
class Token:
    """kind is one of: number, string, duration, date, name, keyword, op, end."""

    kind: str
    text: str
    value: Any
    pos: int


def is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_"


def is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def tokenize(source: str) -> list[Token]:
    """Split `source` into tokens ending with an 'end' token; ExpressionError on bad input."""
    tokens: list[Token] = []
    i = 0
    n = len(source)
    while i < n:
        ch = source[i]
        if ch.isspace() and ch != "　":
            i += 1
            continue
        if ch.isdigit() and ch.isascii():
            token = _number(source, i)
        elif is_name_start(ch):
            j = i + 1
            while j < n and is_name_char(source[j]):
                j += 1
            word = source[i:j]
            token = Token("keyword" if word in KEYWORDS else "name", word, word, i)
        elif ch == "`":
            end = source.find("`", i + 1)
            if end < 0:
                raise ExpressionError("unclosed `name` (add the closing `)", source, i)
            name = source[i + 1 : end]
            if not name.strip():
                raise ExpressionError("empty `name` between backticks", source, i)
            token = Token("name", source[i : end + 1], name, i)
        elif ch in "\"'":
            token = _string(source, i)
        else:
            token = _operator(source, i)
        tokens.append(token)
        i = token.pos + len(token.text)
    tokens.append(Token("end", "", None, n))
    return tokens


def _operator(source: str, i: int) -> Token:
    for size in (3, 2, 1):
        text = source[i : i + size]
        if len(text) < size:
            continue
        if text in _MISTAKES:
            raise ExpressionError(
                f"unknown operator '{text}' (did you mean '{_MISTAKES[text]}'?)", source, i
            )
        if text in OPERATORS:
            return Token("op", text, text, i)
    ch = source[i]
    if ch in _FULL_WIDTH:
        hint = _FULL_WIDTH[ch]
        hint = hint if len(hint) > 1 else repr(hint)
        raise ExpressionError(
            f"unexpected full-width character '{ch}' (write {hint}"
            " with the input method in English mode)",
            source,
            i,
        )
    raise ExpressionError(f"unexpected character '{ch}'", source, i)


def _number(source: str, i: int) -> Token:
    match = _DATE.match(source, i)
    if match and not _continues_word(source, match.end()):
        text = match.group()
        try:
            value: Any = datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
        except ValueError:
            raise ExpressionError(f"invalid date '{text}'", source, i) from None
        return Token("date", text, value, i)
    match = _NUMBER.match(source, i)
    assert match is not None  # the caller saw a digit
    end = match.end()
    if end < len(source) and is_name_start(source[end]):
        while end < len(source) and is_name_char(source[end]):
            end += 1
        text = source[i:end]
        if "." in match.group():
            raise ExpressionError(
                f"durations take whole numbers ('{text}'): write e.g. 1h30m", source, i
            )
        try:
            return Token("duration", text, parse_duration(text), i)
        except ValueError as exc:
            raise ExpressionError(str(exc), source, i) from None
    text = match.group()
    return Token("number", text, Decimal(text) if "." in text else int(text), i)


def _continues_word(source: str, end: int) -> bool:
    return end < len(source) and (is_name_char(source[end]) or source[end] == ".")


def _string(source: str, i: int) -> Token:
    quote = source[i]
    out: list[str] = []
    j = i + 1
    while j < len(source):
        ch = source[j]
        if ch == quote:
            return Token("string", source[i : j + 1], "".join(out), i)
        if ch == "\\" and j + 1 < len(source):
            nxt = source[j + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            j += 2
            continue
        out.append(ch)
        j += 1
    raise ExpressionError(f"unclosed string (add the closing {quote})", source, i)
