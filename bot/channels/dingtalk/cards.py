"""The neutral Card as a DingTalk interactive card (卡片平台), or a markdown ActionCard fallback.

The interactive card is a template the operator imports once (config/dingtalk_card_template.json)
filled through `cardParamMap`: every value a string, lists as JSON strings. Buttons send
`{"action": <CardAction.id>}` plus one param per control (`input_<key>`, `select_<key>`), which
inbound.parse_card_callback reads back. Tenants without a template get a robot ActionCard whose
buttons are `dtmd://` links: a tap sends the typed command ("受理 TS20261123-0001") to the bot.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from bot.cards.model import Card
from bot.channels.dingtalk.inbound import ACTION_PARAM, INPUT_PREFIX, SELECT_PREFIX

# The variables the template declares; render_card_params fills exactly these.
TEMPLATE_VARIABLES = (
    "kind",
    "complaint_number",
    "title",
    "badge",
    "badge_tone",
    "subtitle",
    "fields",
    "timeline",
    "actions",
    "selects",
    "inputs",
    "has_actions",
    "outcome",
    "settled",
    "notice",
    "url",
    "summary_md",
)
PRIVATE_VARIABLES = ("notice",)  # set per viewer through privateData

ACTION_CARD_MAX_BUTTONS = 5  # sampleActionCard (1 button) .. sampleActionCard5 (5, vertical)
USER_ID_TYPE_USERID = 1  # userIdType: 1 = staff userId, 2 = unionId


@dataclass(frozen=True)
class CardSpace:
    """Where a card is delivered: a 1:1 chat with the robot, or a group by openConversationId."""

    kind: Literal["user", "group"]
    id: str

    @property
    def open_space_id(self) -> str:
        space = "IM_ROBOT" if self.kind == "user" else "IM_GROUP"
        return f"dtv1.card//{space}.{self.id}"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def command_text(card: Card, label: str) -> str:
    """The typed command a button stands for: "受理 TS20261123-0001" (see card_as_text)."""
    return f"{label} {card.complaint_number}"


def command_link(command: str) -> str:
    """A link that, tapped in DingTalk, sends `command` as the user's own message to the bot."""
    return "dtmd://dingtalkclient/sendMessage?content=" + quote(command, safe="")


def card_markdown(card: Card, *, reply_hints: bool = False) -> str:
    """The card as DingTalk markdown: fields, timeline, outcome; optionally the typed commands."""
    lines = [f"#### 【{card.title}】{card.badge}"]
    if card.subtitle:
        lines.append(card.subtitle)
    lines.extend(f"- **{f.label}**：{f.value}" for f in card.fields)
    if card.timeline:
        lines.append("")
        lines.append("**进展**")
        lines.extend(f"- {e.at} {e.text}" for e in card.timeline)
    if card.outcome:
        lines.append("")
        lines.append(f"**{card.outcome}**")
    if card.notice:
        lines.append("")
        lines.append(f"> 提示：{card.notice}")
    if reply_hints and card.actions:
        lines.append("")
        lines.append(
            "可回复：" + "、".join(f"「{command_text(card, a.label)}」" for a in card.actions)
        )
    if card.url:
        lines.append("")
        lines.append(f"[查看详情]({card.url})")
    return "\n".join(lines)


def render_card_params(card: Card) -> dict[str, str]:
    """The public template variables (cardParamMap): strings only, lists as JSON strings."""
    return {
        "kind": card.kind,
        "complaint_number": card.complaint_number,
        "title": card.title,
        "badge": card.badge,
        "badge_tone": card.badge_tone,
        "subtitle": card.subtitle,
        "fields": _json([{"label": f.label, "value": f.value} for f in card.fields]),
        "timeline": _json([{"at": e.at, "text": e.text} for e in card.timeline]),
        "actions": _json(
            [
                {"id": a.id, "label": a.label, "style": a.style, "params": {ACTION_PARAM: a.id}}
                for a in card.actions
            ]
        ),
        "selects": _json(
            [
                {
                    "key": s.key,
                    "param": SELECT_PREFIX + s.key,
                    "title": s.title,
                    "options": [{"id": o.id, "text": o.text} for o in s.options],
                    "selected": s.selected or "",
                    "for_actions": list(s.for_actions),
                }
                for s in card.selects
            ]
        ),
        "inputs": _json(
            [
                {
                    "key": i.key,
                    "param": INPUT_PREFIX + i.key,
                    "label": i.label,
                    "required": i.required,
                    "placeholder": i.placeholder,
                    "for_actions": list(i.for_actions),
                }
                for i in card.inputs
            ]
        ),
        "has_actions": "true" if card.actions else "false",
        "outcome": card.outcome or "",
        "settled": "true" if card.settled else "false",
        # Notices are per viewer (privateData); the public value stays empty.
        "notice": "",
        "url": card.url or "",
        "summary_md": card_markdown(card.with_notice(None)),
    }


def _private_notice(card: Card, viewer: str | None) -> dict[str, Any]:
    if viewer is None:
        return {}
    return {viewer: {"cardParamMap": {"notice": card.notice or ""}}}


def render_dingtalk_card(
    card: Card,
    *,
    template_id: str,
    robot_code: str,
    space: CardSpace | None = None,
    callback_type: Literal["STREAM", "HTTP"] = "STREAM",
    callback_route_key: str | None = None,
) -> dict[str, Any]:
    """The createAndDeliver body; without `space` the delivery part is left out (previews)."""
    body: dict[str, Any] = {
        "cardTemplateId": template_id,
        "outTrackId": card.ref,
        "cardData": {"cardParamMap": render_card_params(card)},
        "callbackType": callback_type,
        "userIdType": USER_ID_TYPE_USERID,
    }
    if callback_type == "HTTP" and callback_route_key:
        body["callbackRouteKey"] = callback_route_key
    if space is None:
        return body
    body["openSpaceId"] = space.open_space_id
    if space.kind == "user":
        if card.notice:
            body["privateData"] = _private_notice(card, space.id)
        # A task card is addressed to one person: forwarding it would hand out its buttons.
        body["imRobotOpenSpaceModel"] = {"supportForward": False}
        body["imRobotOpenDeliverModel"] = {"spaceType": "IM_ROBOT", "robotCode": robot_code}
    else:
        body["imGroupOpenSpaceModel"] = {"supportForward": False}
        body["imGroupOpenDeliverModel"] = {"robotCode": robot_code}
    return body


def render_card_update(card: Card, *, viewer: str | None = None) -> dict[str, Any]:
    """The PUT /v1.0/card/instances body: every public variable, `viewer`'s notice privately.

    Updating by key with the full variable set replaces what everyone sees (outcome shown, the
    actions list emptied), while other viewers' private notices stay theirs.
    """
    body: dict[str, Any] = {
        "outTrackId": card.ref,
        "cardData": {"cardParamMap": render_card_params(card)},
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
        "userIdType": USER_ID_TYPE_USERID,
    }
    if viewer is not None:
        body["privateData"] = _private_notice(card, viewer)
    return body


def render_action_card(card: Card) -> tuple[str, dict[str, str]]:
    """(msgKey, msgParam) for the robot batchSend: a markdown ActionCard with command buttons.

    A tap sends a bare command, so buttons that need typed text (评论, 回复客户) are left out.
    """
    card = card.without_free_text()
    title = f"{card.title} {card.badge}"
    buttons = card.actions[:ACTION_CARD_MAX_BUTTONS]
    text = card_markdown(card, reply_hints=len(card.actions) > len(buttons))
    if not buttons:
        return "sampleMarkdown", {"title": title, "text": text}
    if len(buttons) == 1:
        command = command_text(card, buttons[0].label)
        return "sampleActionCard", {
            "title": title,
            "text": text,
            "singleTitle": buttons[0].label,
            "singleURL": command_link(command),
        }
    param = {"title": title, "text": text}
    for index, action in enumerate(buttons, start=1):
        param[f"actionTitle{index}"] = action.label
        param[f"actionURL{index}"] = command_link(command_text(card, action.label))
    return f"sampleActionCard{len(buttons)}", param
