"""Everything the intake says to the customer, in one place: short, polite Chinese."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from bot.expr import duration_in_chinese
from bot.forms import FieldDefinition, FormDefinition, display_value, question_for
from bot.forms.questions import numbered

WELCOME = "您好，很抱歉给您带来不便，我们来登记您的投诉。随时回复“取消”可退出，回复“上一步”可返回。"
DESCRIPTION_KEPT = "已记录您的问题描述。"
HELP = (
    "您好，我是客服助手，可以为您：\n"
    "1. 登记投诉：回复“投诉”\n"
    "2. 查询进度：回复“进度”，或直接发送投诉编号"
)
DIALOG_HELP = (
    "正在登记投诉，请回答下面的问题。\n"
    "回复“上一步”返回上一题，“跳过”跳过选填项，“修改”更改已填内容，“取消”退出登记。"
)
CONFIRM_PROMPT = "回复“确认提交”提交投诉，或回复“修改”更改内容。"
CANCELLED = "已取消本次投诉登记。如需投诉，请随时回复“投诉”。"
ALREADY_FIRST = "已经是第一个问题了。"
FINISH_QUESTIONS_FIRST = "还有问题没有回答，请先回答："
IN_PROGRESS = "您正在登记投诉，请继续回答："
STUCK_HINT = "如需帮助请回复“帮助”，不想继续可回复“取消”。"
NOT_UNDERSTOOD_VOICE = "抱歉，没能识别语音内容，请用文字回复。"
NOT_NEEDED_HERE = "当前问题不需要这个内容。"
SKIP_HINT = "（可回复“跳过”）"
SUMMARY_MAX = 200


def ask(field: FieldDefinition, *, current: str | None = None) -> str:
    """The question for a field, marked skippable when optional, with its current answer if any."""
    question = question_for(field)
    if not field.required:
        if field.type in ("image", "file") and field.multiple:
            question += "\n没有可回复“跳过”。"
        elif "\n" in question:
            question += f"\n{SKIP_HINT}"
        else:
            question += SKIP_HINT
    if current:
        question += f"\n当前填写：{current}"
    return question


def cannot_skip(field: FieldDefinition) -> str:
    return f"“{field.label}”是必填项，不能跳过。"


def received(kind: str, field: FieldDefinition | None, count: int = 0) -> str:
    """ "已收到图片，已添加到“相关图片/视频”。" and how to go on when several may follow."""
    name = {"image": "图片", "video": "视频", "voice": "语音", "file": "文件"}.get(kind, "文件")
    if field is None:
        return f"已收到{name}。"
    text = f"已收到{name}，已添加到“{field.label}”"
    if field.multiple:
        text += f"（共{count}个）"
    return text + "。"


def more_files(field: FieldDefinition) -> str:
    return f"可继续发送{field.label}，发完请回复“完成”。"


def shorten(text: str, limit: int = SUMMARY_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(form: FormDefinition, fields: list[FieldDefinition], values: Mapping[str, Any]) -> str:
    """Every answered field with its display value, then how to confirm or change."""
    lines = [f"请确认您的{form.title}信息："]
    for field in fields:
        shown = display_value(field, values.get(field.key))
        lines.append(f"{field.label}：{shorten(shown)}")
    lines.append(CONFIRM_PROMPT)
    return "\n".join(lines)


def edit_menu(fields: list[FieldDefinition], values: Mapping[str, Any]) -> str:
    """The numbered list of what can be changed."""
    items = [f"{f.label}（{shorten(display_value(f, values.get(f.key)), 20)}）" for f in fields]
    return f"请回复要修改的项目序号或名称：\n{numbered(items)}\n回复“上一步”返回。"


def expired_message(idle: timedelta) -> str:
    """Said when an intake ends because the customer stopped answering."""
    return (
        f"由于超过{duration_in_chinese(idle)}没有收到您的回复，本次投诉登记已结束。"
        "如需投诉，请重新回复“投诉”。"
    )


def submitted_message(number: str, response_within: timedelta | None = None) -> str:
    """Said right after submission: the number, when we answer, how to follow up."""
    text = f"您的投诉已提交，编号：{number}。"
    if response_within is not None:
        text += f"我们会在{duration_in_chinese(response_within)}内联系您。"
    return text + "回复“进度”或发送编号可随时查询处理进度。"
