"""The scale tests' platform and customers: a fake WeChat that can hold sends, customers' phones
that build callbacks exactly as WeChat does (and can say which worker process answered each
one), whole complaints, and what the database holds afterwards.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select, update

from bot.delivery.outbox import utc_now
from storage.db import Database
from storage.models import Complaint, InboundEvent, OutboxMessage
from tests.fakes.wechat_oa_server import FakeWechatServer
from tests.fakes.wechat_phone import Callback, PhoneReply, WechatPhone
from tests.fakes.wecom_server import FakeWecom
from tests.integration.scale.process import PATIENCE, free_port

ACCEPTED = "您的投诉已提交，编号："
NUMBER = re.compile(r"编号：(TS\d{8}-\d{4})")


# --- the platform ------------------------------------------------------------------------------


class HoldingWechat(FakeWechatServer):
    """The fake WeChat on the real clock, whose customer-service sends can be held in flight.

    While held (`hold()`), a send waits before WeChat looks at it (a failure queued with
    `fail_next` still answers at once). When released, a send whose
    sender is gone (killed, or gave up at shutdown) is dropped unprocessed: it never reached
    WeChat's backend, so the customer never saw it. That is the case the service can make
    exactly-once; a send WeChat processed but whose answer was lost would be shown twice,
    because WeChat's customer-service API takes no idempotency key.
    """

    def __init__(self) -> None:
        super().__init__(clock=lambda: datetime.now(UTC), message_allowance=None)
        self._gate = asyncio.Event()
        self._gate.set()
        self.held = 0
        self.dropped = 0
        self.phones: list[WechatPhone] = []  # closed with the server

    async def close(self) -> None:
        for phone in self.phones:
            await phone.close()
        await super().close()

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    async def _custom_send(self, request: web.Request) -> web.Response:
        # An injected failure (fail_next) answers at once, held or not: it is the platform's.
        if not self._gate.is_set() and not self._failures.get(request.path):
            self.held += 1
            await self._gate.wait()
            if request.transport is None or request.transport.is_closing():
                self.dropped += 1
                return web.Response(status=499, text="client went away")
        return await super()._custom_send(request)

    def passive_acceptances(self, openid: str) -> list[str]:
        """The acceptance replies (with the complaint number) the customer saw."""
        return [
            m.text for m in self.messages_for(openid) if m.via == "passive" and ACCEPTED in m.text
        ]

    def cards(self, openid: str) -> list[str]:
        """The complaint cards (news) the customer received."""
        return [m.text for m in self.messages_for(openid) if m.msgtype == "news"]


class RealClock:
    """The real time in the shape tests.fakes.clock.FakeClock has (for FakeWecom)."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return datetime.now(UTC).timestamp()


def wecom_env(fake: FakeWecom) -> dict[str, str]:
    """The environment that turns scale.yaml's `staff` WeCom channel on, at `fake`."""
    return {
        "WECOM_CORP_ID": fake.corp_id,
        "WECOM_AGENT_ID": str(fake.agent_id),
        "WECOM_SECRET": fake.secret,
        "WECOM_TOKEN": "scale-wecom-callback-token",
        "WECOM_AES_KEY": "a" * 43,
        "WECOM_API_BASE": fake.base_url,
    }


# --- the customers ------------------------------------------------------------------------------


class Phone(WechatPhone):
    """A WechatPhone on connections that are never reused, noting which process answered.

    A fresh connection per callback lets the kernel spread them over `serve --workers N`. With
    `locate` set, each callback goes out from a port of our choosing and its connection is kept
    open until `locate(client_port)` (see `socket_owner`) has named the process holding the
    server's end of it.
    """

    locate: Callable[[int], int | None] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answered_by: list[int | None] = []

    async def post(self, callback: Callback) -> PhoneReply:
        if self.locate is not None:
            port = free_port()
            connector = aiohttp.TCPConnector(local_addr=("127.0.0.1", port))
            async with aiohttp.ClientSession(connector=connector) as session:
                status, body = await self._post(session, callback)
                self.answered_by.append(self.locate(port))  # still open: kept alive
        else:
            if self._session is None:
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(force_close=True),
                    timeout=aiohttp.ClientTimeout(total=PATIENCE),
                )
            status, body = await self._post(self._session, callback)
        return PhoneReply(status, body, self._read_reply(status, body))

    async def _post(self, session: aiohttp.ClientSession, callback: Callback) -> tuple[int, str]:
        async with session.post(
            self.callback_url,
            params=callback.query,
            data=callback.body,
            headers={"Content-Type": "text/xml"},
        ) as resp:
            return resp.status, await resp.text()


def customer(fake: HoldingWechat, url: str, index: int) -> Phone:
    """Customer `index`: their own openid and MsgIds (WeChat's MsgIds are unique per account)."""
    phone = Phone(
        url,
        token=fake.token,
        app_id=fake.app_id,
        clock=fake.clock,
        encoding_aes_key=fake.encoding_aes_key,
        mode="safe",
        openid=f"oScale{index:021d}",
        server=fake,
    )
    phone._msg_id = 24_000_000_000_000_000 + index * 1000
    fake.phones.append(phone)
    return phone


async def describe(phone: WechatPhone, text: str | None = None) -> PhoneReply:
    """The customer's first message: the description (the form's only field)."""
    reply = await phone.send_text(text or f"{phone.openid[-4:]} 号客户：快递把杯子压碎了")
    assert reply.status == 200, reply.body
    assert reply.text and "请确认您的投诉登记表信息" in reply.text, reply.text
    return reply


async def confirm(phone: WechatPhone) -> PhoneReply:
    return await phone.send_text("确认提交")


def number_in(reply: PhoneReply) -> str:
    match = NUMBER.search(reply.text or "")
    assert reply.status == 200 and match, (reply.status, reply.body)
    return match.group(1)


async def complain(phone: WechatPhone) -> str:
    """A whole complaint (description, 确认提交); its number."""
    await describe(phone)
    return number_in(await confirm(phone))


# --- what the database holds ------------------------------------------------------------------


async def complaint_numbers(db: Database) -> list[str]:
    async with db.read() as session:
        return list((await session.scalars(select(Complaint.number).order_by(Complaint.id))).all())


async def inbound_count(db: Database, dedupe_key: str) -> int:
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(InboundEvent)
                .where(InboundEvent.dedupe_key == dedupe_key)
            )
            or 0
        )


async def outbox(db: Database) -> list[OutboxMessage]:
    async with db.read() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def all_sent(db: Database) -> bool:
    rows = await outbox(db)
    return bool(rows) and all(row.status == "sent" for row in rows)


async def expire_leases(db: Database) -> int:
    """The dead relay's leases run out (120 s in production; moved into the past, not waited)."""
    async with db.write() as session:
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.lease_until.is_not(None))
            .values(lease_until=utc_now() - timedelta(seconds=1))
        )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def msg_key(phone: WechatPhone) -> str:
    """The dedupe key of the phone's last delivery."""
    assert phone.last is not None
    return f"msg:{phone.last.fields['MsgId']}"
