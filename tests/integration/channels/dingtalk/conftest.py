"""The DingTalk adapter against the fake DingTalk: real HTTP, the real dingtalk-stream client."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.cards.model import Card, CardAction, CardField
from bot.channels.base import AdapterContext, OutboundMessage
from bot.channels.dingtalk import DingtalkAdapter
from bot.channels.dingtalk.outbound import RobotSilence
from bot.config.channels import DingtalkChannel, GroupConfig
from bot.delivery.tokens import AccessTokenCache
from tests.fakes.clock import FakeClock
from tests.fakes.dingtalk_gateway import FakeDingtalk

ROBOT_TOKEN = "mgmt-robot-token"
ROBOT_SECRET = "SECmgmtrobotsecret"
GROUPS = {
    "management-group": GroupConfig(
        id="management-group",
        name="管理层群",
        channel="staff-dingtalk",
        webhook_token=ROBOT_TOKEN,
        webhook_secret=ROBOT_SECRET,
    ),
    "bare-group": GroupConfig(id="bare-group", name="无机器人群", channel="staff-dingtalk"),
}
_ids = itertools.count(1)


def outbound(kind: str, target: str, payload: dict[str, Any]) -> OutboundMessage:
    n = next(_ids)
    return OutboundMessage(
        id=n,
        kind=kind,  # type: ignore[arg-type]
        target=target,
        payload=payload,
        idempotency_key=f"outbox:{n}",
    )


def task_card(ref: str = "task:17:zhangsan", **changes: Any) -> Card:
    card = Card(
        ref=ref,
        kind="task",
        complaint_number="TS20261123-0001",
        title="投诉待受理",
        badge="待受理",
        fields=(CardField("客户姓名", "王女士"),),
        actions=(CardAction("accept", "受理", "primary"), CardAction("transfer", "转交")),
    )
    return Card.from_dict({**card.to_dict(), **changes})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(clock=clock, ack_timeout=0.3, known_users={"0101", "0103"}) as gw:
        gw.add_group_robot(ROBOT_TOKEN, ROBOT_SECRET)
        yield gw


MakeAdapter = Callable[..., DingtalkAdapter]


@pytest.fixture
async def make_adapter(fake: FakeDingtalk, clock: FakeClock) -> AsyncIterator[MakeAdapter]:
    """Builds adapters pointed at the fake (stopped at the end of the test)."""
    made: list[DingtalkAdapter] = []

    def make(
        *,
        gateway: FakeDingtalk | None = None,
        silence: RobotSilence | None = None,
        tokens: AccessTokenCache | None = None,
        reconnect_delays: tuple[float, ...] = (0.05, 0.1),
        **config: Any,
    ) -> DingtalkAdapter:
        gw = gateway or fake
        settings: dict[str, Any] = {
            "name": "staff-dingtalk",
            "type": "dingtalk",
            "client_id": gw.client_id,
            "client_secret": gw.client_secret,
            "api_base": gw.base_url,
            "oapi_base": gw.base_url,
            **config,
        }
        context = AdapterContext(
            groups=GROUPS,
            tokens=tokens or AccessTokenCache(),
            clock=clock,
            public_base_url="http://bot.test",
        )
        adapter = DingtalkAdapter(
            DingtalkChannel(**settings),
            context,
            reconnect_delays=reconnect_delays,
            silence=silence,
        )
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.stop()
