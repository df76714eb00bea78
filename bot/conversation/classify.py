"""What a message outside a dialog means, the commands inside one, and survey answers."""

from __future__ import annotations

import re

from bot.conversation.model import Help, Intent, ProgressQuery, StartIntake
from bot.forms.scalars import bare, normalize, split_rating

# TS20261123-0001: the organisation's prefix, the local date, a per-day sequence.
COMPLAINT_NUMBER = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,6}\d{8}-\d{4,6})(?!\d)")

_HELP_WORDS = frozenset({"帮助", "help", "菜单", "怎么用", "使用说明"})
_PROGRESS_WORDS = frozenset(
    {
        "进度",
        "查询",
        "查询进度",
        "投诉进度",
        "查进度",
        "我的投诉",
        "查询投诉",
        "查看投诉",
        "处理进度",
    }
)
_GREETINGS = frozenset(
    {
        "你好",
        "您好",
        "在吗",
        "在不在",
        "有人吗",
        "hi",
        "hello",
        "哈喽",
        "喂",
        "你好在吗",
        "您好在吗",
    }
)
# Menu keys a channel may send for clicks, besides the menu item names themselves.
# Menu click keys (the WeChat menu's COMPLAIN / PROGRESS buttons; any case) -> the words they mean.
_CLICK_KEYS = {
    "complaint": "投诉",
    "complain": "投诉",
    "progress": "进度",
    "help": "帮助",
}
_QUERY_NOISE = re.compile(
    r"查询|查看|查一下|进度|投诉|编号|单号|怎么样了|如何了|处理|的|[\s:：,，。?？!！]"
)

_TRIGGER = r"(?:我要|我想|我需要|我想要|想|要)?投诉(?:一下)?"
_LEADING_TRIGGER = re.compile(rf"^{_TRIGGER}[\s,，:：。!！、]*")
_TRAILING_TRIGGER = re.compile(rf"[\s,，:：。!！、]*{_TRIGGER}[\s。!！]*$")

COMMANDS = {
    "cancel": frozenset({"取消", "取消投诉", "退出", "不投诉了", "算了"}),
    "back": frozenset({"上一步", "返回", "上一题", "返回上一步"}),
    "skip": frozenset({"跳过", "略过", "不填", "下一步"}),
    "help": frozenset({"帮助", "help", "怎么填"}),
    "confirm": frozenset(
        {"确认提交", "确认", "提交", "确定", "确定提交", "没问题", "对的", "好的", "是的", "可以"}
    ),
    "done": frozenset({"完成", "好了", "发完了", "没有了", "就这些", "传完了"}),
    "edit": frozenset({"修改", "更改", "改一下", "重新填写"}),
    "start": frozenset({"投诉", "我要投诉", "我想投诉"}),
    "progress": _PROGRESS_WORDS,
}


def find_number(text: str) -> str | None:
    """A complaint number in the text, upper-cased."""
    found = COMPLAINT_NUMBER.search(normalize(text))
    return found.group(1).upper() if found else None


def is_greeting(text: str) -> bool:
    return bare(text).lower() in _GREETINGS


def classify(text: str, *, click: bool = False) -> Intent | None:
    """The intent of a message outside a dialog, or None for anything else (free text)."""
    words = bare(text)
    lowered = words.lower()
    if click:
        words = _CLICK_KEYS.get(lowered, words)
        lowered = words.lower()
    if not words:
        return None
    number = find_number(words)
    if number and len(_QUERY_NOISE.sub("", words.upper().replace(number, ""))) == 0:
        return ProgressQuery(number)
    if lowered in _HELP_WORDS:
        return Help()
    if lowered in _PROGRESS_WORDS or (len(words) <= 8 and ("进度" in words or "查询" in words)):
        return ProgressQuery(None)
    if "投诉" in words:
        # A menu click carries a key, not the customer's words: nothing to keep as a description.
        return StartIntake(text="" if click else text.strip())
    return None


def command(text: str) -> str | None:
    """The dialog command a whole message is ('cancel', 'back', ...), or None."""
    word = bare(text).lower()
    for name, words in COMMANDS.items():
        if word in words:
            return name
    return None


def edit_target(text: str) -> str | None:
    """ "修改 联系电话" -> "联系电话"; "修改" alone -> ""; anything else -> None."""
    word = bare(text)
    for verb in sorted(COMMANDS["edit"], key=len, reverse=True):
        if word.startswith(verb):
            return word[len(verb) :].strip(" :：,，")
    return None


def complaint_details(text: str) -> str:
    """A start message without "我要投诉" at its start or end ("" when nothing is left)."""
    stripped = _LEADING_TRIGGER.sub("", text.strip(), count=1)
    stripped = _TRAILING_TRIGGER.sub("", stripped, count=1)
    return stripped.strip()


def parse_survey_answer(text: str) -> tuple[int, str] | None:
    """A satisfaction score and comment: "5", "五分", "★★★", "4 星，很满意" -> (4, "很满意")."""
    return split_rating(text)
