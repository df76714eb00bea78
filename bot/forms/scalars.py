"""Reading plain values from what people type: numbers, money, phones, e-mail, links, yes/no.

Every reader takes text (or an API value) and returns the typed value or raises Invalid with a
short Chinese message. Chat text is NFKC-normalised first, so full-width digits and punctuation
from Chinese input methods read like ASCII ones.
"""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit


class Invalid(Exception):
    """An answer cannot be read; `message` is shown to the person who typed it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalize(text: str) -> str:
    """Full-width to half-width (NFKC) and trimmed: for reading values, never for storing prose."""
    return unicodedata.normalize("NFKC", text).strip()


_TRAILING = " \t\r\n。.!！?？~～,，;；、"


def bare(text: str) -> str:
    """Normalised text without trailing punctuation: what a command or choice is compared by."""
    return normalize(text).strip(_TRAILING)


CHINESE_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "两": 2,
    "贰": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
    "十": 10,
}


def small_number(text: str) -> int | None:
    """1-99 written as digits or in Chinese (三, 十二, 二十); None otherwise."""
    text = normalize(text)
    if text.isascii() and text.isdigit():
        return int(text) if len(text) <= 6 else None
    if not text or any(ch not in CHINESE_DIGITS for ch in text):
        return None
    if "十" not in text:
        return CHINESE_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or "十" in ones:
        return None
    return (CHINESE_DIGITS[tens] if tens else 1) * 10 + (CHINESE_DIGITS[ones] if ones else 0)


_DECIMAL = re.compile(r"[+-]?\d+(?:\.\d+)?")
_MAX_DIGITS = 20


def read_decimal(raw: Any, message: str) -> Decimal:
    """A number from text ("1,200.5", "-3") or an API number; Invalid(message) otherwise."""
    if isinstance(raw, bool):
        raise Invalid(message)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, float):
        value = Decimal(repr(raw)) if math.isfinite(raw) else Decimal("NaN")
    elif isinstance(raw, str):
        text = normalize(raw).replace(",", "").replace(" ", "")
        if not _DECIMAL.fullmatch(text) or len(text) > _MAX_DIGITS + 2:
            raise Invalid(message)
        value = Decimal(text)
    else:
        raise Invalid(message)
    # Beyond 10^18 or 10 decimals nobody means it; refusing keeps arithmetic exact and cheap.
    if not value.is_finite() or value.adjusted() > 17 or value.as_tuple().exponent < -10:
        raise Invalid(message)
    return value


_MONEY_AFFIXES = re.compile(r"^(?:¥|RMB|CNY|人民币)|(?:元整|元|块钱|块|RMB|CNY)$", re.IGNORECASE)
CENT = Decimal("0.01")


def read_money(raw: Any) -> Decimal:
    """An amount in yuan ("¥1,200.50", "1200元", "1.2万") with at most two decimals."""
    message = "请输入金额，例如 1200 或 1200.50"
    factor = Decimal(1)
    if isinstance(raw, str):
        text = normalize(raw).replace(" ", "")
        for _ in range(2):
            text = _MONEY_AFFIXES.sub("", text)
        if text.endswith("万"):
            factor, text = Decimal(10000), text[:-1]
        raw = text
    amount = read_decimal(raw, message) * factor
    if amount != amount.quantize(CENT, rounding="ROUND_DOWN"):
        raise Invalid("金额最多保留两位小数")
    return amount.quantize(CENT)


_MOBILE = re.compile(r"1[3-9]\d{9}")
_PHONE_NOISE = re.compile(r"[\s\-()（）.]")


def read_phone(raw: Any) -> str:
    """A mainland mobile number as 11 digits: accepts spaces, dashes and a +86/0086 prefix."""
    message = "手机号格式不正确，请输入11位手机号"
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        raise Invalid(message)
    text = _PHONE_NOISE.sub("", normalize(raw))
    for prefix in ("+86", "0086", "86"):
        if text.startswith(prefix) and len(text) == len(prefix) + 11:
            text = text[len(prefix) :]
            break
    if not _MOBILE.fullmatch(text):
        raise Invalid(message)
    return text


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def read_email(raw: Any) -> str:
    """An e-mail address with its domain in lower case."""
    if not isinstance(raw, str):
        raise Invalid("邮箱格式不正确，例如 name@example.com")
    text = normalize(raw)
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise Invalid("邮箱格式不正确，例如 name@example.com")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}|localhost|\d{1,3}(?:\.\d{1,3}){3}")


def read_url(raw: Any) -> str:
    """An http(s) link; "www.example.com/x" gets https:// in front."""
    message = "网址格式不正确，例如 https://example.com"
    if not isinstance(raw, str):
        raise Invalid(message)
    text = normalize(raw)
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise Invalid(message) from exc
    if (
        parts.scheme.lower() not in ("http", "https")
        or not _HOST.fullmatch(host)
        or any(ch.isspace() for ch in text)
        or len(text) > 2000
    ):
        raise Invalid(message)
    return text


_YES = frozenset("是 是的 对 对的 有 要 需要 好 好的 可以 同意 确认 y yes true ok 1 ✓ √".split())
_NO = frozenset("否 不 不是 不对 没有 无 不要 不需要 不用 不同意 n no false 0 ×".split())


def read_boolean(raw: Any) -> bool:
    """是/否 and their many spellings; API booleans as they are."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = bare(raw).lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
    raise Invalid("请回复“是”或“否”")


_STARS = re.compile(r"([★☆]{1,5})(?![★☆])")
_SCORE = re.compile(r"([1-5])(?:\s*(?:分|星级|颗星|颗|星))?(?![\d.])")
_CHINESE_SCORE = re.compile(r"([一二两三四五])\s*(?:分|星级|颗星|颗|星)|([一二两三四五])$")
# Longest first, so 非常不满意 is not read as 满意.
_SCORE_WORDS = (
    ("非常不满意", 1),
    ("很不满意", 1),
    ("非常满意", 5),
    ("十分满意", 5),
    ("不太满意", 2),
    ("很满意", 5),
    ("不满意", 2),
    ("太差了", 1),
    ("很差", 1),
    ("满分", 5),
    ("满意", 4),
    ("一般", 3),
    ("还行", 3),
    ("差评", 1),
)
_SEPARATORS = " \t\r\n,，。.!！:：;；、~～-—"


def _folded(text: str) -> tuple[str, list[int]]:
    """NFKC per character, with the original index of every folded character (and the end)."""
    folded: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        piece = unicodedata.normalize("NFKC", ch)
        folded.append(piece)
        origin.extend([index] * len(piece))
    origin.append(len(text))
    return "".join(folded), origin


def split_rating(raw: Any) -> tuple[int, str] | None:
    """A 1-5 score opening an answer, and the rest ("4 星，很满意" -> (4, "很满意")).

    The score is read from normalised text; the rest is the customer's own words, unchanged.
    """
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return (raw, "") if 1 <= raw <= 5 else None
    if isinstance(raw, Decimal | float):
        finite = raw.is_finite() if isinstance(raw, Decimal) else math.isfinite(raw)
        return (int(raw), "") if finite and raw in (1, 2, 3, 4, 5) else None
    if not isinstance(raw, str):
        return None
    original = raw.strip()
    text, origin = _folded(original)

    def rest_after(end: int) -> str:
        return original[origin[end] :].strip(_SEPARATORS)

    stars = _STARS.match(text)
    if stars:
        filled = stars.group(1).count("★")
        if not 1 <= filled <= 5:
            return None
        return filled, rest_after(stars.end())
    score = _SCORE.match(text) or _CHINESE_SCORE.match(text)
    if score:
        digit = next(group for group in score.groups() if group)
        value = int(digit) if digit.isdigit() else CHINESE_DIGITS[digit]
        return value, rest_after(score.end())
    for word, value in _SCORE_WORDS:
        if text.startswith(word):
            return value, original if rest_after(len(word)) else ""
    return None


def read_rating(raw: Any) -> int:
    """A score 1-5 from "5", "五星", "★★★★", "4分" or an API integer."""
    found = split_rating(raw)
    if found is None:
        raise Invalid("请回复1到5之间的分数，例如 5 或 ★★★★★")
    return found[0]
