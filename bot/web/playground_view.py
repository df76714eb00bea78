"""What the playground page is told: directory, groups, clock, and each delivery as JSON.

Shared by the page handlers (bot/web/playground.py), the chat endpoints and the live stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.appkeys import CONFIG, SERVICE, SETTINGS
from bot.cards.model import Card
from bot.channels.playground import PlaygroundAdapter
from bot.channels.playground.adapter import Delivery
from bot.channels.playground.cards import PlatformSettings, platform_of, platform_payloads
from bot.config.loader import LoadedConfig
from bot.service.clock import OffsetClock
from bot.service.wiring import Service

PLATFORM_NAMES = {"wecom": "企业微信", "dingtalk": "钉钉", "wechat_oa": "微信公众号", "": "体验台"}
CARD_KINDS = ("card", "card_update")
CLOCK_STEPS = (1, 24, 48)
CUSTOMER_PREFIX = "c-"
# Client-made ids (customer session, message id): short and URL-safe.
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
LOCATIONS = (
    {
        "id": "lujiazui",
        "label": "上海市浦东新区陆家嘴环路1000号（陆家嘴门店）",
        "lat": 31.2397,
        "lng": 121.4998,
    },
    {
        "id": "sanlitun",
        "label": "北京市朝阳区三里屯路19号（三里屯门店）",
        "lat": 39.9334,
        "lng": 116.4551,
    },
    {
        "id": "nanshan",
        "label": "深圳市南山区科技园科苑路15号（南山门店）",
        "lat": 22.5405,
        "lng": 113.9345,
    },
)
# Menu items send their own name as the click key: the intake's classifier understands names.
MENU = (
    {"label": "我要投诉", "key": "我要投诉"},
    {"label": "查询进度", "key": "查询进度"},
    {"label": "使用帮助", "key": "帮助"},
)

NOT_ON = "体验台渠道未开启：请在配置的 channels 中加入 type: playground 的渠道。"
CLOCK_OFF = "体验台时钟未开启：服务以 PLAYGROUND_CLOCK=false 启动，只用真实时间。"
REAL_CHANNELS_ON = (
    "已接入真实渠道（{names}），快进时间会让真实投诉提前超时，所以体验台不能调整时钟。"
)


class PlaygroundError(web.HTTPException):
    """A 4xx/5xx with a JSON body {"error": <Chinese message>, "field": <name or null>}."""

    def __init__(self, status: int, message: str, *, field: str | None = None):
        self.status_code = status
        super().__init__(
            text=web.json_response({"error": message, "field": field}).text,
            content_type="application/json",
        )


def adapter_of(app: web.Application) -> PlaygroundAdapter | None:
    for adapter in app[SERVICE].adapters.values():
        if isinstance(adapter, PlaygroundAdapter):
            return adapter
    return None


def require_adapter(request: web.Request) -> PlaygroundAdapter:
    adapter = adapter_of(request.app)
    if adapter is None:
        raise PlaygroundError(404, NOT_ON)
    return adapter


def clock_refusal(service: Service) -> str | None:
    """Why the clock control is off, or None when it may move the clock.

    Only when every channel that is on is the playground: with a real platform on, moving time
    would make real complaints overdue. (Decided from the adapters that are on, not from the
    config: example.yaml lists real channels that stay off without credentials.)
    """
    if not any(isinstance(a, PlaygroundAdapter) for a in service.adapters.values()):
        return NOT_ON
    real = [a for a in service.adapters.values() if a.platform != "playground"]
    if real:
        names = "、".join(dict.fromkeys(PLATFORM_NAMES.get(a.platform, a.platform) for a in real))
        return REAL_CHANNELS_ON.format(names=names)
    if not isinstance(service.rt.clock, OffsetClock):
        return CLOCK_OFF
    return None


def clock_state(service: Service) -> dict[str, Any]:
    clock = service.rt.clock
    offset = clock.offset if isinstance(clock, OffsetClock) else timedelta(0)
    reason = clock_refusal(service)
    now = service.rt.now()
    return {
        "available": reason is None,
        "reason": reason,
        "now": now.isoformat(),
        "now_text": now.astimezone(service.rt.tz).strftime("%Y-%m-%d %H:%M"),
        "offset_hours": round(offset / timedelta(hours=1), 2),
        "steps": list(CLOCK_STEPS),
        "timezone": str(service.rt.tz),
    }


def boot_data(app: web.Application) -> dict[str, Any]:
    """Everything the page needs before its first event: who is who, groups, clock, presets."""
    config = app[CONFIG]
    adapter = adapter_of(app)
    directory = config.directory
    heads = {d.head for d in directory.departments.values() if d.head}
    people = [
        {
            "id": p.id,
            "name": p.name,
            "department": p.department,
            "department_name": directory.department_name(p.department),
            "roles": list(p.roles),
            "head": p.id in heads,
            "platform": platform_of(p),
            "platform_name": PLATFORM_NAMES[platform_of(p)],
        }
        for p in directory.people.values()
    ]
    groups = []
    for group in config.groups.values():
        platform = getattr(config.channels.get(group.channel), "type", "")
        groups.append(
            {
                "id": group.id,
                "name": group.name,
                "platform": platform,
                "platform_name": PLATFORM_NAMES.get(platform, platform),
            }
        )
    return {
        "channel": adapter.name if adapter else None,
        "organization": config.organization.name,
        "people": people,
        "groups": groups,
        "clock": clock_state(app[SERVICE]),
        "locations": list(LOCATIONS),
        "menu": list(MENU),
        "image_limit": IMAGE_LIMIT,
    }


IMAGE_LIMIT = 5 * 1024 * 1024


@dataclass(frozen=True)
class Viewer:
    """Which targets one page follows: its own customer, every person, every group."""

    customer: str | None  # "user:c-<session>"
    people: frozenset[str]

    def follows(self, target: str) -> bool:
        kind, _, ident = target.partition(":")
        if kind == "group":
            return True
        if kind == "system":
            return True
        return target == self.customer or (kind == "user" and ident in self.people)


def viewer_for(config: LoadedConfig, customer_session: str | None) -> Viewer:
    customer = f"user:{CUSTOMER_PREFIX}{customer_session}" if customer_session else None
    return Viewer(customer=customer, people=frozenset(config.directory.people))


class DeliveryView:
    """Deliveries as the page's JSON; card deliveries carry the real platforms' payloads."""

    def __init__(self, app: web.Application):
        config = app[CONFIG]
        self.directory = config.directory
        self.platforms = PlatformSettings.from_channels(
            config.channels, app[SETTINGS].public_base_url
        )

    def __call__(self, delivery: Delivery) -> dict[str, Any]:
        out = delivery.to_dict()
        if delivery.kind in CARD_KINDS and "card" in delivery.payload:
            person_id = delivery.target.partition(":")[2]
            card = Card.from_dict(delivery.payload["card"])
            out["platforms"] = platform_payloads(
                card,
                self.directory.person(person_id),
                person_id,
                self.platforms,
                update=delivery.kind == "card_update",
            )
        return out
