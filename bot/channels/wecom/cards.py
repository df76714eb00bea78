"""The neutral Card as a WeCom template_card: the message/send body minus `touser`.

Shapes (WeCom docs 90236 "模板卡片消息" and 94888 "更新模版卡片消息"):
- active card, no select: `button_interaction` with one callback button per action;
- one select: `button_interaction` + `button_selection` (every button click carries the choice);
- two or more selects: `multiple_interaction` (≤ 3 select_list entries) + one `submit_button`.
  It has a single submit button, so with several actions the action itself becomes a select
  (question key `_action`) and the submit key is `act:*`;
- text-only buttons (评论, 回复客户; bot.cards.model.TEXT_ACTIONS) are left out: no free text;
- settled card, or one without actions: `text_notice`. WeCom has no zero-button
  button_interaction (button_list is required) and text_notice needs `card_action`, so the card
  links to `card.url` or, failing that, the `link` the adapter passes (the service's address).

Click keys: a button's key is `act:<action id>`; `EventKey` comes back verbatim in the click event.
`task_id` is the card ref itself (refs must already be WeCom-safe, see `wecom_task_id`), so the
TaskId of a click is the ref the service looks the card up by. A replacement card for the same ref
gets `<ref>@<suffix>` (task ids are single-use); `card_ref_from_task_id` strips the suffix.
Text limits are the docs' recommended lengths; longer texts are cut with "…".
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from bot.cards.model import Card, CardAction, CardOption, CardSelect
from bot.errors import BotError

# --- WeCom limits (docs 90236/94888; "建议不超过 N 个字" counts characters) ---
MAX_BUTTONS = 6  # button_list
MAX_FIELDS = 6  # horizontal_content_list
MAX_SELECTS = 3  # multiple_interaction select_list
MAX_OPTIONS = 10  # option_list of a button_selection / select_list entry
TASK_ID_BYTES = 128  # "只能由数字、字母和“_-@”组成，最长128字节"
KEY_BYTES = 1024  # button key, question_key, submit_button key
OPTION_ID_BYTES = 128
TITLE_CHARS = 26  # main_title.title (older docs 26, newer 36: keep the stricter)
DESC_CHARS = 30  # main_title.desc (older 30, newer 44)
SOURCE_DESC_CHARS = 13  # source.desc
SUB_TITLE_CHARS = 112  # sub_title_text (older 112, newer 160)
KEYNAME_CHARS = 5  # horizontal_content_list.keyname
VALUE_CHARS = 26  # horizontal_content_list.value (older 26, newer 30)
BUTTON_TEXT_CHARS = 10  # button_list.text, submit_button.text
OPTION_TEXT_CHARS = 16  # option_list.text
SELECT_TITLE_CHARS = 13  # button_selection.title / select_list.title
QUOTE_TEXT_CHARS = 112  # quote_area.quote_text (no documented limit; kept to sub_title's)
JUMP_TITLE_CHARS = 18  # jump_list.title
TIMELINE_LINES = 3  # the short timeline: the last few events

# A ref leaves room for "@<12 hex>" inside the 128-byte task_id.
CARD_REF_BYTES = 100
_REF_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
_TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_@-]+$")

ACTION_KEY_PREFIX = "act:"
CHOICE_QUESTION_KEY = "_action"  # the pseudo-select listing the actions on a multiple_interaction
CHOICE_SUBMIT_KEY = "act:*"  # submit key meaning "the action is the `_action` selection"
TASK_ID_SEPARATOR = "@"

_TONE_COLOR = {"info": 0, "muted": 0, "warning": 1, "danger": 2, "success": 3}  # source.desc_color
_BUTTON_STYLE = {"primary": 1, "danger": 2, "default": 4}  # button_list.style (1–4)


class WecomCardError(BotError):
    """A card cannot be rendered for WeCom (unsafe ref, option id too long, no link)."""


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending in "…" when cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def clip_bytes(text: str, limit: int, *, at_line: bool = False) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, ending in "…"; `at_line` cuts at a line end."""
    data = text.encode()
    if len(data) <= limit:
        return text
    ellipsis = "…"
    head = data[: limit - len(ellipsis.encode())].decode(errors="ignore")
    if at_line and "\n" in head:
        # Drop the partial last line unless that throws away most of the text.
        cut = head.rstrip("\n").rfind("\n")
        if cut >= len(head) // 2:
            return head[:cut] + "\n" + ellipsis
    return head + ellipsis


def wecom_task_id(ref: str) -> str:
    """The task_id for a card ref: the ref itself, which must be ≤ 100 bytes of [A-Za-z0-9_-]."""
    if not _REF_PATTERN.match(ref) or len(ref.encode()) > CARD_REF_BYTES:
        raise WecomCardError(
            f"card ref {ref!r} is not WeCom-safe: use at most {CARD_REF_BYTES} characters "
            "of [A-Za-z0-9_-] (the ref becomes the card's task_id)"
        )
    return ref


def fresh_task_id(ref: str, salt: str) -> str:
    """A new task_id for another card with the same ref: `<ref>@<hash of salt>`, deterministic."""
    suffix = hashlib.sha256(salt.encode()).hexdigest()[:12]
    return f"{wecom_task_id(ref)}{TASK_ID_SEPARATOR}{suffix}"


def card_ref_from_task_id(task_id: str) -> str:
    """The card ref a click's TaskId belongs to (drops a replacement card's "@suffix")."""
    return task_id.partition(TASK_ID_SEPARATOR)[0]


def is_valid_task_id(task_id: str) -> bool:
    """True when WeCom accepts `task_id` (charset and length)."""
    return bool(_TASK_ID_PATTERN.match(task_id)) and len(task_id.encode()) <= TASK_ID_BYTES


def action_key(action_id: str) -> str:
    """The button key (EventKey) that stands for a workflow action."""
    key = ACTION_KEY_PREFIX + action_id
    if len(key.encode()) > KEY_BYTES:
        raise WecomCardError(f"action id {action_id[:40]!r}… is too long for a WeCom button key")
    return key


def action_from_event_key(event_key: str) -> str:
    """The workflow action an EventKey stands for ("act:accept" -> "accept")."""
    if event_key.startswith(ACTION_KEY_PREFIX):
        return event_key[len(ACTION_KEY_PREFIX) :]
    return event_key


def render_wecom_card(
    card: Card, *, agent_id: int | str, task_id: str | None = None, link: str | None = None
) -> dict[str, Any]:
    """The message/send body (minus touser) showing `card`; same card, same body.

    Template cards have no text input, so text-only buttons (评论, 回复客户) are left out: in
    WeCom the employee writes to the app instead ("回复客户：…").
    """
    card = card.without_free_text()
    tid = task_id if task_id is not None else wecom_task_id(card.ref)
    if not is_valid_task_id(tid):
        raise WecomCardError(f"task_id {tid!r} is not valid for WeCom")
    active = bool(card.actions) and not card.settled
    template = _common(card, tid)
    if not active:
        template = _text_notice(card, template, link)
    elif len([s for s in card.selects if s.options]) >= 2:
        template = _multiple_interaction(card, template)
    else:
        template = _button_interaction(card, template)
    return {"msgtype": "template_card", "agentid": int(agent_id), "template_card": template}


def card_as_markdown(card: Card) -> str:
    """The card as WeCom markdown, for group robots (which cannot show interactive cards)."""
    lines = [f'**{card.title}** <font color="comment">{card.badge}</font>']
    if card.subtitle:
        lines.append(card.subtitle)
    lines.extend(f"> {f.label}：{f.value}" for f in card.fields)
    lines.extend(f"{e.at} {e.text}" for e in card.timeline[-TIMELINE_LINES:])
    if card.outcome:
        lines.append(f'<font color="info">{card.outcome}</font>')
    if card.notice:
        lines.append(f'<font color="warning">{card.notice}</font>')
    if card.url:
        lines.append(f"[查看详情]({card.url})")
    return "\n".join(lines)


# --- pieces -------------------------------------------------------------------------------------


def _common(card: Card, task_id: str) -> dict[str, Any]:
    template: dict[str, Any] = {
        "source": {
            "desc": clip(card.badge, SOURCE_DESC_CHARS),
            "desc_color": _TONE_COLOR.get(card.badge_tone, 0),
        },
        "main_title": {
            "title": _label(card.title, TITLE_CHARS, card.complaint_number),
            "desc": clip(card.subtitle or card.complaint_number, DESC_CHARS),
        },
        "task_id": task_id,
    }
    quote = _quote(card)
    if quote:
        template["quote_area"] = quote
    timeline = "\n".join(f"{e.at} {e.text}" for e in card.timeline[-TIMELINE_LINES:])
    if timeline:
        template["sub_title_text"] = clip(timeline, SUB_TITLE_CHARS)
    if card.fields:
        template["horizontal_content_list"] = [
            {"keyname": _label(f.label, KEYNAME_CHARS, "—"), "value": clip(f.value, VALUE_CHARS)}
            for f in card.fields[:MAX_FIELDS]
        ]
    if card.url:
        template["jump_list"] = [
            {"type": 1, "title": clip("查看详情", JUMP_TITLE_CHARS), "url": card.url}
        ]
        template["card_action"] = {"type": 1, "url": card.url}
    return template


def _quote(card: Card) -> dict[str, Any] | None:
    """The outcome and this viewer's notice, in the quote area (they matter most)."""
    parts = [p for p in (card.outcome, card.notice) if p]
    if not parts:
        return None
    title = "处理结果" if card.outcome else "提示"
    return {"type": 0, "title": title, "quote_text": clip("\n".join(parts), QUOTE_TEXT_CHARS)}


def _text_notice(card: Card, template: dict[str, Any], link: str | None) -> dict[str, Any]:
    if "card_action" not in template:
        if not link:
            raise WecomCardError(
                f"card {card.ref!r} has no buttons and no url: a WeCom text_notice needs a link"
            )
        template["card_action"] = {"type": 1, "url": link}
    return {"card_type": "text_notice", **template}


def _button_interaction(card: Card, template: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"card_type": "button_interaction", **template}
    select = next((s for s in card.selects if s.options), None)
    if select is not None:
        out["button_selection"] = _select(select)
    out["button_list"] = [_button(a) for a in card.actions[:MAX_BUTTONS]]
    return out


def _multiple_interaction(card: Card, template: dict[str, Any]) -> dict[str, Any]:
    selects = [s for s in card.selects if s.options]
    actions = list(card.actions)
    if len(actions) == 1:
        select_list = [_select(s) for s in selects[:MAX_SELECTS]]
        submit = {
            "text": _label(actions[0].label, BUTTON_TEXT_CHARS, "提交"),
            "key": action_key(actions[0].id),
        }
    else:
        # The chooser starts on the action the selects are for: whoever changes a select most
        # likely means that action (WeCom preselects the first option otherwise).
        wanted = {a for s in selects for a in s.for_actions}
        preselected = next((a.id for a in actions if a.id in wanted), actions[0].id)
        chooser = CardSelect(
            key=CHOICE_QUESTION_KEY,
            title="操作",
            options=tuple(CardOption(id=a.id, text=a.label) for a in actions),
            selected=preselected,
        )
        select_list = [_select(s) for s in selects[: MAX_SELECTS - 1]] + [_select(chooser)]
        submit = {"text": "提交", "key": CHOICE_SUBMIT_KEY}
    return {
        "card_type": "multiple_interaction",
        **template,
        "select_list": select_list,
        "submit_button": submit,
    }


def _button(action: CardAction) -> dict[str, Any]:
    return {
        "type": 0,
        "text": _label(action.label, BUTTON_TEXT_CHARS, action.id),
        "style": _BUTTON_STYLE.get(action.style, 1),
        "key": action_key(action.id),
    }


def _select(select: CardSelect) -> dict[str, Any]:
    if len(select.key.encode()) > KEY_BYTES:
        raise WecomCardError(f"select key {select.key[:40]!r}… is too long for WeCom")
    options = _limit_options(select.options, select.selected)
    for option in options:
        if not option.id or len(option.id.encode()) > OPTION_ID_BYTES:
            raise WecomCardError(
                f"option id {option.id[:40]!r} of select {select.key!r} must be 1–"
                f"{OPTION_ID_BYTES} bytes for WeCom"
            )
    out: dict[str, Any] = {
        "question_key": select.key,
        "title": clip(select.title, SELECT_TITLE_CHARS),
        "option_list": [
            {"id": o.id, "text": _label(o.text, OPTION_TEXT_CHARS, o.id)} for o in options
        ],
    }
    if select.selected and any(o.id == select.selected for o in options):
        out["selected_id"] = select.selected
    return out


def _label(text: str, limit: int, fallback: str) -> str:
    """`text` clipped, or the clipped fallback when it is blank (WeCom requires these texts)."""
    return clip(text, limit) or clip(fallback, limit)


def _limit_options(options: Sequence[CardOption], selected: str | None) -> list[CardOption]:
    """At most MAX_OPTIONS options, keeping the selected one visible."""
    kept = list(options[:MAX_OPTIONS])
    if selected and all(o.id != selected for o in kept):
        chosen = next((o for o in options if o.id == selected), None)
        if chosen is not None:
            kept[-1] = chosen
    return kept
