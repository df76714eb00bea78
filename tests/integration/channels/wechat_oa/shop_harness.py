"""The WeChat end-to-end harness (no tests here): the whole service with the WeChat channel on.

`Shop` is create_app with the example config, the `service` channel pointed at the fake WeChat
server, and a customer's phone that builds callbacks exactly as WeChat does. The outbox relay is
driven by hand (`deliver`), so the fake server's `seen` list is exactly what the customer saw,
in order: passive replies (reported by the phone) and every custom or template message.
Staff act through ComplaintService as the people of the example directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import LoadedConfig, load_config_text
from bot.service.loaded import load_complaint
from bot.service.wiring import Service
from bot.settings import Settings
from bot.workflow import Action, ActionKind
from storage.db import Database
from storage.models import Base, Complaint, TimelineEntry
from tests.fakes.configs import example_data
from tests.fakes.wechat_oa_server import FakeClock, FakeWechatServer, SeenMessage
from tests.fakes.wechat_phone import WechatPhone

TEMPLATE_ID = "TPL_progress_0001"  # the template the fake WeChat knows
CHANNEL = "service"
PUBLIC_URL = "https://bot.example.com"
OPENID = "oCustomer000000000000000001"
# Checked by the survey test: survey.answered fires once per answer.
SURVEY_RULE = {
    "name": "评价后通知客服主管",
    "when": "survey.answered",
    "then": [{"notify": {"department_head": "cs"}, "message": "客户评价了投诉 {number}"}],
}


def wechat_config(fake: FakeWechatServer) -> LoadedConfig:
    """The example config, the WeChat channel at the fake, a fallback template, one more rule."""
    data = example_data()
    for channel in data["channels"]:
        if channel["name"] == CHANNEL:
            channel["api_base"] = fake.url
            channel["fallback_template"] = TEMPLATE_ID
    data["rules"].append(SURVEY_RULE)
    return load_config_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
        environ={
            "WECHAT_APP_ID": fake.app_id,
            "WECHAT_APP_SECRET": fake.app_secret,
            "WECHAT_TOKEN": fake.token,
            "WECHAT_AES_KEY": fake.encoding_aes_key,
        },
    )


def shop_settings(db_url: str, data_dir: Path) -> Settings:
    return Settings(
        DATABASE_URL=db_url,
        DATA_DIR=data_dir,
        SECRET_KEY="wechat-e2e-secret",
        PUBLIC_BASE_URL=PUBLIC_URL,
        INTAKE_IDLE_TIMEOUT=timedelta(minutes=30),
    )


AppClient = Callable[[web.Application], Awaitable[TestClient]]


@dataclass
class Shop:
    """The running service, the fake WeChat, its clock and one customer's phone."""

    make_client: AppClient
    settings: Settings
    config: LoadedConfig
    fake: FakeWechatServer
    clock: FakeClock
    client: TestClient = field(init=False)
    service: Service = field(init=False)
    phone: WechatPhone = field(init=False)

    async def start(self) -> None:
        """Build and serve a new app (a restart keeps the database and the phone)."""
        app = create_app(self.settings, self.config, clock=self.clock, background=False)
        self.client = await self.make_client(app)
        self.service = app[SERVICE]
        url = str(self.client.make_url(f"/callbacks/wechat/{CHANNEL}"))
        if not hasattr(self, "phone"):
            self.phone = WechatPhone.for_server(self.fake, url, openid=OPENID)
        else:
            self.phone.callback_url = url

    async def restart(self) -> None:
        await self.client.close()
        await self.start()

    @property
    def db(self) -> Database:
        return self.service.rt.db

    # --- the customer --------------------------------------------------------------------------

    async def say(self, text: str, phone: WechatPhone | None = None) -> str:
        """The customer writes; the passive reply they saw (the outbox is then delivered)."""
        reply = await (phone or self.phone).send_text(text)
        assert reply.status == 200, reply.body
        await self.deliver()
        self.clock.advance(seconds=5)
        return reply.text or ""

    async def click(self, key: str) -> str:
        reply = await self.phone.click(key)
        assert reply.status == 200, reply.body
        await self.deliver()
        self.clock.advance(seconds=5)  # events dedupe by sender + CreateTime (seconds)
        return reply.text or ""

    def seen(self, openid: str = OPENID) -> list[SeenMessage]:
        return self.fake.messages_for(openid)

    def texts(self, openid: str = OPENID) -> list[str]:
        return self.fake.texts_for(openid)

    # --- staff and the outbox ------------------------------------------------------------------

    async def deliver(self) -> int:
        """Run the outbox relay until nothing is due."""
        total = 0
        while sent := await self.service.relay.run_once():
            total += sent
        return total

    async def act(self, person: str, kind: ActionKind, number: str, **values: Any) -> None:
        """`person` takes `kind` on their open task of complaint `number`."""
        async with self.db.read() as session:
            lc = await load_complaint(session, self.service.rt, number=number)
        task = next(t for t in lc.state.tasks if t.assignee == person or person in t.candidates)
        async with self.db.write() as session:
            await self.service.complaints.act(
                session, number, Action(kind, person, task_id=task.task_id, values=values)
            )
        await self.deliver()

    async def reply_to_customer(self, person: str, number: str, text: str) -> None:
        async with self.db.write() as session:
            await self.service.complaints.comment(
                session, number, actor=f"person:{person}", text=text, to_customer=True
            )
        await self.deliver()

    async def timeline(self, number: str) -> list[tuple[str, str]]:
        async with self.db.read() as session:
            complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
            rows = await session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.complaint_id == complaint.id)
                .order_by(TimelineEntry.id)
            )
            return [(r.actor, r.summary) for r in rows]

    async def complaint(self, number: str) -> Complaint:
        async with self.db.read() as session:
            return await session.scalar(select(Complaint).where(Complaint.number == number))

    async def row_counts(self) -> dict[str, int]:
        """Rows in every table: what "no state change" is checked against."""
        counts = {}
        async with self.db.read() as session:
            for table in Base.metadata.sorted_tables:
                counts[table.name] = await session.scalar(select(func.count()).select_from(table))
        return counts


@asynccontextmanager
async def open_shop(
    make_client: AppClient,
    db: Database,
    data_dir: Path,
    server: FakeWechatServer,
    clock: FakeClock,
    *,
    database_url: str | None = None,
) -> AsyncIterator[Shop]:
    """The service on the test database, the WeChat channel on, the relay driven by hand.

    Each test module wraps this in its own `shop` fixture (fixtures imported from another
    module read as redefinitions to the linter).
    """
    running = Shop(
        make_client,
        shop_settings(database_url or db.url, data_dir),
        wechat_config(server),
        server,
        clock,
    )
    await running.start()
    try:
        yield running
    finally:
        await running.phone.close()
