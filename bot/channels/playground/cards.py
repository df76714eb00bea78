"""What the real platforms would be sent for a playground card: the "平台原始数据" toggle.

The bodies come from the real renderers (bot/channels/wecom/cards.py, bot/channels/dingtalk/
cards.py) with the arguments the real adapters pass, so the page shows exactly what WeCom's
message/send and DingTalk's createAndDeliver would receive. Values that only exist once a
platform is configured (agent id, card template id, robot code) are placeholders until then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.cards.model import Card
from bot.config.channels import ChannelBase, DingtalkChannel, WecomChannel
from bot.domain.directory import Person

# Used while the platform's channel has no value of its own (shown in `notes`).
EXAMPLE_AGENT_ID = 1000002
TEMPLATE_PLACEHOLDER = "<钉钉卡片模板 ID>"
ROBOT_PLACEHOLDER = "<钉钉机器人 robotCode>"
RESPONSE_CODE_PLACEHOLDER = "<点击回调中的 ResponseCode>"

WECOM_SEND = "POST /cgi-bin/message/send"
WECOM_UPDATE = "POST /cgi-bin/message/update_template_card"
DINGTALK_SEND = "POST /v1.0/card/instances/createAndDeliver"
DINGTALK_UPDATE = "PUT /v1.0/card/instances"


@dataclass(frozen=True)
class PlatformSettings:
    """The parts of the WeCom and DingTalk channel configs that end up in card payloads."""

    agent_id: int = EXAMPLE_AGENT_ID
    agent_id_is_example: bool = True
    template_id: str = TEMPLATE_PLACEHOLDER
    robot_code: str = ROBOT_PLACEHOLDER
    callback: Mapping[str, Any] | None = None  # render_dingtalk_card callback options
    link: str = "http://127.0.0.1:8080"

    @classmethod
    def from_channels(
        cls, channels: Mapping[str, ChannelBase], public_base_url: str
    ) -> PlatformSettings:
        """Read the first WeCom and DingTalk channels of the config (on or off)."""
        wecom = next((c for c in channels.values() if isinstance(c, WecomChannel)), None)
        ding = next((c for c in channels.values() if isinstance(c, DingtalkChannel)), None)
        agent = str(wecom.agent_id).strip() if wecom and wecom.agent_id is not None else ""
        callback: dict[str, Any] = {"callback_type": "STREAM"}
        if ding is not None and ding.mode == "http":
            callback = {"callback_type": "HTTP", "callback_route_key": ding.name}
        return cls(
            agent_id=int(agent) if agent.isdigit() else EXAMPLE_AGENT_ID,
            agent_id_is_example=not agent.isdigit(),
            template_id=(ding.card_template_id if ding and ding.card_template_id else None)
            or TEMPLATE_PLACEHOLDER,
            robot_code=(ding.robot_code or ding.client_id if ding else None) or ROBOT_PLACEHOLDER,
            callback=callback,
            link=public_base_url,
        )


def platform_of(person: Person | None) -> str:
    """Where this person works: "wecom", "dingtalk" or "" (only the playground)."""
    if person is None:
        return ""
    if person.works_in in ("wecom", "dingtalk"):
        return person.works_in
    return next((p for p in person.accounts if p in ("wecom", "dingtalk")), "")


def platform_payloads(
    card: Card, person: Person | None, person_id: str, settings: PlatformSettings, *, update: bool
) -> dict[str, Any]:
    """{"wecom": {api, body} | {error}, "dingtalk": {api, body} | {error}, "notes": [...]}."""
    accounts = person.accounts if person else {}
    wecom_user = accounts.get("wecom", person_id)
    ding_user = accounts.get("dingtalk", person_id)
    return {
        "wecom": _safely(lambda: _wecom(card, wecom_user, settings, update=update)),
        "dingtalk": _safely(lambda: _dingtalk(card, ding_user, settings, update=update)),
        "notes": _notes(settings, person, update=update),
    }


def _wecom(card: Card, user: str, settings: PlatformSettings, *, update: bool) -> dict[str, Any]:
    from bot.channels.wecom.cards import render_wecom_card

    body = render_wecom_card(card, agent_id=settings.agent_id, link=settings.link)
    if update:
        # WeCom's adapter updates a clicked card with the click's single-use ResponseCode.
        return {
            "api": WECOM_UPDATE,
            "body": {
                "userids": [user],
                "agentid": settings.agent_id,
                "response_code": RESPONSE_CODE_PLACEHOLDER,
                "template_card": body["template_card"],
            },
        }
    return {"api": WECOM_SEND, "body": {"touser": user, **body}}


def _dingtalk(card: Card, user: str, settings: PlatformSettings, *, update: bool) -> dict[str, Any]:
    try:
        from bot.channels.dingtalk.cards import (
            CardSpace,
            render_card_update,
            render_dingtalk_card,
        )
    except ImportError:  # the DingTalk renderer is optional: show WeCom alone without it
        return {"error": "钉钉卡片渲染器尚未提供"}
    if update:
        return {"api": DINGTALK_UPDATE, "body": render_card_update(card, viewer=user)}
    body = render_dingtalk_card(
        card,
        template_id=settings.template_id,
        robot_code=settings.robot_code,
        space=CardSpace("user", user),
        **dict(settings.callback or {"callback_type": "STREAM"}),
    )
    return {"api": DINGTALK_SEND, "body": body}


def _safely(render: Any) -> dict[str, Any]:
    try:
        return render()
    except Exception as exc:  # a card a platform cannot show: say why beside the rendering
        return {"error": f"{type(exc).__name__}: {exc}"}


def _notes(settings: PlatformSettings, person: Person | None, *, update: bool) -> list[str]:
    notes: list[str] = []
    if person is not None and not person.accounts:
        notes.append("此人没有配置企业微信/钉钉账号，用其 ID 代替。")
    if settings.agent_id_is_example:
        example = EXAMPLE_AGENT_ID
        notes.append(f"企业微信 agentid 为示例值 {example}（配置 WECOM_AGENT_ID 后显示真实值）。")
    if settings.template_id == TEMPLATE_PLACEHOLDER:
        notes.append("钉钉 cardTemplateId 为占位符；未配置卡片模板时钉钉改发 ActionCard 消息。")
    if settings.robot_code == ROBOT_PLACEHOLDER:
        notes.append("钉钉 robotCode 为占位符（配置 DINGTALK_CLIENT_ID 后显示真实值）。")
    if update:
        notes.append("这是卡片更新：企业微信用点击回调里的一次性 ResponseCode 更新原卡片。")
    return notes
