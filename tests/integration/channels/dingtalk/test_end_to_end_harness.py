"""The DingTalk end-to-end harness (no tests here): the whole service with the DingTalk channel on.

`Desk` is create_app with the example config where every employee works in DingTalk, the
`staff-dingtalk` channel pointed at the fake DingTalk (interactive cards through a template, the
custom robot of the 管理层群 at the fake's oapi). The real dingtalk-stream client inside the
adapter connects to the fake gateway; clicks and chat messages are pushed through it exactly as
DingTalk frames them, and the outbox relay is driven by hand (`deliver`), so the fake's records
are exactly what each employee saw.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import LoadedConfig, load_config_text
from bot.service.wiring import Service
from bot.settings import Settings
from storage.db import Database
from storage.models import Complaint, OutboxMessage, TimelineEntry
from tests.fakes.clock import FakeClock
from tests.fakes.configs import ACCOUNTS, staff_in
from tests.fakes.dingtalk_gateway import Ack, CardInstance, FakeDingtalk

CHANNEL = "staff-dingtalk"
TEMPLATE_ID = "complaint-task.schema"
MGMT_TOKEN = "mgmt-robot-token"
MGMT_SECRET = "SECmgmtrobotsecret"
PUBLIC_URL = "https://bot.example.com"
QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
    "订单号": "202611230001",
}
# The DingTalk staffId of each person of the example directory.
STAFF = {person: ids[1] for person, ids in ACCOUNTS.items()}


def dingtalk_config(fake: FakeDingtalk) -> LoadedConfig:
    """Everyone in DingTalk, 管理层 as the third signer, cards through a template at the fake."""
    data = yaml.safe_load(
        staff_in("dingtalk", api_bases={CHANNEL: fake.base_url}, third_signer=True)
    )
    for channel in data["channels"]:
        if channel["name"] == CHANNEL:
            channel["oapi_base"] = fake.base_url
            # With a template id the adapter sends interactive cards (createAndDeliver) whose
            # clicks come back over the stream; without one, markdown ActionCards.
            channel["card_template_id"] = TEMPLATE_ID
    return load_config_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        environ={
            "DINGTALK_CLIENT_ID": fake.client_id,
            "DINGTALK_CLIENT_SECRET": fake.client_secret,
            "DINGTALK_ROBOT_CODE": fake.robot_code,
            "DINGTALK_MGMT_ACCESS_TOKEN": MGMT_TOKEN,
            "DINGTALK_MGMT_SECRET": MGMT_SECRET,
        },
    )


class ClockView:
    """The service's clock reading the test's FakeClock: tokens, signatures, pacing agree."""

    def __init__(self, clock: FakeClock):
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now


AppClient = Callable[[web.Application], Awaitable[TestClient]]


@dataclass
class Desk:
    client: TestClient
    service: Service
    fake: FakeDingtalk
    clock: FakeClock

    @property
    def db(self) -> Database:
        return self.service.rt.db

    # --- the outbox ----------------------------------------------------------------------------

    async def deliver(self) -> int:
        """Run the outbox relay until nothing is due."""
        total = 0
        while sent := await self.service.relay.run_once():
            total += sent
        return total

    async def pending_rows(self) -> int:
        async with self.db.read() as session:
            return await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending")
            )

    # --- what the fake shows -------------------------------------------------------------------

    def cards_of(self, user: str) -> dict[str, CardInstance]:
        """outTrackId -> card instance, for the cards delivered 1:1 to `user` (a staffId)."""
        space = f"dtv1.card//IM_ROBOT.{user}"
        return {ref: card for ref, card in self.fake.cards.items() if card.open_space_id == space}

    def view(self, user: str, ref: str) -> dict[str, str]:
        return self.fake.cards[ref].view(user)

    def open_cards(self, user: str) -> dict[str, dict[str, str]]:
        """The cards `user` can still act on (buttons shown)."""
        return {
            ref: card.view(user)
            for ref, card in self.cards_of(user).items()
            if card.view(user)["has_actions"] == "true"
        }

    def only_card(self, user: str) -> tuple[str, dict[str, str]]:
        cards = list(self.open_cards(user).items())
        assert len(cards) == 1, {ref: v["title"] for ref, v in cards}
        return cards[0]

    def updates(self) -> dict[str, int]:
        """outTrackId -> how many times the card was updated so far."""
        return {ref: card.updates for ref, card in self.fake.cards.items()}

    def texts_to(self, user: str) -> list[str]:
        """The robot's 1:1 text messages (batchSend sampleText) to `user`, in order."""
        return [
            m["msgParam"]["content"]
            for m in self.fake.robot_messages
            if m["userId"] == user and m["msgKey"] == "sampleText"
        ]

    # --- employees through DingTalk ------------------------------------------------------------

    async def click(
        self,
        user: str,
        ref: str,
        action: str,
        *,
        inputs: Mapping[str, str] | None = None,
        selections: Mapping[str, list[str]] | None = None,
        deliver: bool = True,
    ) -> str:
        """`user` presses `action` on card `ref` (with typed inputs); waits for the ACK."""
        params: dict[str, Any] = {f"input_{k}": v for k, v in (inputs or {}).items()}
        params.update({f"select_{k}": v for k, v in (selections or {}).items()})
        message_id = await self.fake.push_card_callback(ref, user, action=action, params=params)
        await self.fake.wait_acked(message_id)
        if deliver:
            await self.deliver()
        return message_id

    async def say(self, user: str, text: str) -> str:
        """`user` writes to the robot 1:1; returns the robot's answer (delivered via batchSend)."""
        before = len(self.texts_to(user))
        message_id = await self.fake.push_bot_message(
            text,
            sender_staff_id=user,
            sender_nick=user,
            conversation_id=f"cidp2p{user}",
            # Pointed at the fake, so an answer through the session webhook would be seen.
            extra={"sessionWebhook": f"{self.fake.base_url}/robot/sendBySession?session={user}"},
        )
        await self.fake.wait_acked(message_id)
        await self.deliver()
        answers = self.texts_to(user)[before:]
        assert len(answers) == 1, answers
        return answers[0]

    async def repush(self, message_id: str) -> Ack:
        """DingTalk pushes an event again after its ACK; waits for the second ACK."""
        seen = len(self.fake.acks_for(message_id))
        await self.fake.repush(message_id)
        await self.fake.wait_for(lambda: len(self.fake.acks_for(message_id)) > seen)
        return self.fake.acks_for(message_id)[-1]

    # --- the database --------------------------------------------------------------------------

    async def new_complaint(self, values: Mapping[str, str] = QUALITY) -> str:
        async with self.db.write() as session:
            lc = await self.service.complaints.create(
                session, values=dict(values), channel="playground", actor="customer"
            )
        await self.deliver()
        return lc.number

    async def timeline(self, number: str) -> list[tuple[str, str]]:
        async with self.db.read() as session:
            complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
            assert complaint is not None
            rows = await session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.complaint_id == complaint.id)
                .order_by(TimelineEntry.id)
            )
            return [(r.actor, r.summary) for r in rows]

    async def complaint(self, number: str) -> Complaint:
        async with self.db.read() as session:
            complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
            assert complaint is not None
            return complaint


def actions_of(view: Mapping[str, str]) -> list[str]:
    """The button ids a card view shows."""
    return [a["id"] for a in json.loads(view["actions"])]


def input_keys(view: Mapping[str, str]) -> list[str]:
    return [i["key"] for i in json.loads(view["inputs"])]


@asynccontextmanager
async def open_desk(
    make_client: AppClient, db: Database, data_dir: Path, fake: FakeDingtalk, clock: FakeClock
) -> AsyncIterator[Desk]:
    """The service on the test database with DingTalk on; connected to the fake's gateway.

    Each test module wraps this in its own fixture (a fixture imported from another module
    reads as a redefinition to the linter).
    """
    fake.add_group_robot(MGMT_TOKEN, MGMT_SECRET)
    settings = Settings(
        DATABASE_URL=db.url, DATA_DIR=data_dir, SECRET_KEY="test", PUBLIC_BASE_URL=PUBLIC_URL
    )
    app = create_app(settings, dingtalk_config(fake), clock=ClockView(clock), background=False)
    client = await make_client(app)
    desk = Desk(client, app[SERVICE], fake, clock)
    try:
        await fake.wait_connected()
        yield desk
    finally:
        await client.close()  # the app stops (and its stream client) before the fake goes away
