"""The whole service under WeChat's retries and an attacker's deliveries (both databases).

Retries, sequential or concurrent, change state once and get the same passive reply; hostile
deliveries are refused with a 4xx and change no row in any table; a database that cannot be
reached makes the callback answer 503, so WeChat delivers again later, and that retry counts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from wechatpy.crypto import _get_signature

from storage.db import Database
from storage.models import Base, Complaint, Conversation, InboundEvent, OutboxMessage
from tests.fakes.wechat_oa_server import FakeClock, FakeWechatServer
from tests.fakes.wechat_phone import Callback, WechatPhone, plain_xml
from tests.integration.channels.wechat_oa.payloads import BILLION_LAUGHS, EXTERNAL_ENTITY
from tests.integration.channels.wechat_oa.shop_harness import (
    AppClient,
    Shop,
    open_shop,
)

NUMBER = "TS20261123-0001"
UP_TO_CONFIRM = (
    "快递把我的杯子压碎了",
    "王小明",
    "13912345678",
    "跳过",
    "物流问题",
    "跳过",
    "跳过",
)


async def _ready_to_confirm(shop: Shop) -> Callback:
    """An intake at its summary, and the signed delivery of the customer's 确认提交."""
    for text in UP_TO_CONFIRM:
        await shop.say(text)
    phone = shop.phone
    fields = phone.fields("text", Content="确认提交")
    shop.fake.customer_wrote(phone.openid)
    return phone.build(fields)


async def _outbox_to_customer(shop: Shop) -> list[str]:
    async with shop.db.read() as session:
        rows = await session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.target == f"user:{shop.phone.openid}")
        )
        return list(rows.all())


@pytest.mark.parametrize("how", ["sequential", "concurrent"])
async def test_a_delivery_three_times_makes_one_complaint_and_one_reply(shop: Shop, how: str):
    callback = await _ready_to_confirm(shop)
    before = await shop.row_counts()
    if how == "sequential":
        replies = [await shop.phone.post(callback) for _ in range(3)]
    else:
        replies = await asyncio.gather(*(shop.phone.post(callback) for _ in range(3)))
    assert [r.status for r in replies] == [200, 200, 200]
    texts = {r.text for r in replies}
    assert len(texts) == 1
    assert next(iter(texts)).startswith(f"您的投诉已提交，编号：{NUMBER}。")
    after = await shop.row_counts()
    assert after["complaints"] == before["complaints"] + 1 == 1
    assert after["inbound_events"] == before["inbound_events"] + 1
    sent = await shop.deliver()
    assert (await _outbox_to_customer(shop)).count("news") == 1
    news = [m for m in shop.seen() if m.msgtype == "news"]
    assert len(news) == 1 and sent >= 1


# --- hostile deliveries: each is built from a genuine one, then spoiled --------------------------


def _encrypt_value(callback: Callback) -> str:
    body = callback.body.decode()
    start = body.index("<Encrypt><![CDATA[") + len("<Encrypt><![CDATA[")
    return body[start : body.index("]]></Encrypt>")]


def forged_signature(phone: WechatPhone, genuine: Callback) -> Callback:
    return replace(genuine, query={**genuine.query, "signature": "0" * 40})


def forged_msg_signature(phone: WechatPhone, genuine: Callback) -> Callback:
    return replace(genuine, query={**genuine.query, "msg_signature": "0" * 40})


def wrong_app_id(phone: WechatPhone, genuine: Callback) -> Callback:
    intruder = phone.other(phone.openid)
    intruder.app_id = "wxffffffffffffffff"  # same key and token, another account's AppID inside
    return intruder.build(genuine.fields)


def stale_timestamp(phone: WechatPhone, genuine: Callback) -> Callback:
    return phone.resigned(genuine, timestamp=int(phone.clock().timestamp()) - 600)


def truncated_base64(phone: WechatPhone, genuine: Callback) -> Callback:
    # Correctly signed, so it is the decoder that must refuse it.
    encrypt = _encrypt_value(genuine)
    cut = encrypt[:-9]
    body = genuine.body.decode().replace(encrypt, cut).encode()
    query = dict(genuine.query)
    query["msg_signature"] = _get_signature(phone.token, query["timestamp"], query["nonce"], cut)
    return Callback(query, body, genuine.fields)


def not_xml(phone: WechatPhone, genuine: Callback) -> Callback:
    return replace(genuine, body="投诉 please {json: true}".encode())


def billion_laughs(phone: WechatPhone, genuine: Callback) -> Callback:
    return replace(genuine, body=BILLION_LAUGHS.encode())


def billion_laughs_encrypted(phone: WechatPhone, genuine: Callback) -> Callback:
    return phone.build_xml(BILLION_LAUGHS)


def external_entity(phone: WechatPhone, genuine: Callback) -> Callback:
    return replace(genuine, body=EXTERNAL_ENTITY.encode())


def external_entity_encrypted(phone: WechatPhone, genuine: Callback) -> Callback:
    return phone.build_xml(EXTERNAL_ENTITY)


def ten_megabytes(phone: WechatPhone, genuine: Callback) -> Callback:
    return replace(genuine, body=plain_xml({"Content": "投" * (10 * 1024 * 1024 // 3)}).encode())


ATTACKS: list[Callable[[WechatPhone, Callback], Callback]] = [
    forged_signature,
    forged_msg_signature,
    wrong_app_id,
    stale_timestamp,
    truncated_base64,
    not_xml,
    billion_laughs,
    billion_laughs_encrypted,
    external_entity,
    external_entity_encrypted,
    ten_megabytes,
]


async def test_hostile_deliveries_are_refused_and_change_nothing(shop: Shop):
    await shop.say("你们的快递把我的东西弄坏了")  # an intake is open: a change would show
    phone = shop.phone
    before = await shop.row_counts()
    seen = len(shop.fake.seen)
    for attack in ATTACKS:
        genuine = phone.build(phone.fields("text", Content="王小明"))
        try:
            status = (await phone.post(attack(phone, genuine))).status
        except aiohttp.ClientError:  # the server may close the connection mid-upload (413)
            status = 413 if attack is ten_megabytes else 0
        assert 400 <= status < 500, attack.__name__
        assert await shop.row_counts() == before, attack.__name__
    await shop.deliver()
    assert len(shop.fake.seen) == seen
    # A genuine delivery afterwards is taken as usual.
    assert (
        await shop.say("王小明") == "请输入联系电话（11位手机号）\n请留下11位手机号，方便我们联系您"
    )


# --- the database goes away ---------------------------------------------------------------------


class TcpProxy:
    """A TCP forwarder on 127.0.0.1; stopping it cuts every connection, starting it again works."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.ensure_future(self._pipe(reader, up_writer)),
            asyncio.ensure_future(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._tasks.difference_update(pipes)
        self._writers.difference_update((writer, up_writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def _count_rows(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            t.name: await session.scalar(select(func.count()).select_from(t))
            for t in Base.metadata.sorted_tables
        }


async def test_an_unreachable_database_answers_503_and_the_retry_counts(
    aiohttp_client: AppClient,
    db: Database,
    tmp_path: Path,
    server: FakeWechatServer,
    clock: FakeClock,
):
    if db.is_sqlite:
        # SQLite "unreachable": the database file cannot be opened at all.
        unopenable = tmp_path / "a-directory.db"
        unopenable.mkdir()
        async with open_shop(
            aiohttp_client,
            db,
            tmp_path / "data",
            server,
            clock,
            database_url=f"sqlite+aiosqlite:///{unopenable}",
        ) as shop:
            reply = await shop.phone.send_text("你们的快递把我的东西弄坏了")
            assert reply.status == 503 and reply.text is None
        assert (await _count_rows(db))["inbound_events"] == 0
        return
    url = make_url(db.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with open_shop(
            aiohttp_client, db, tmp_path / "data", server, clock, database_url=proxied
        ) as shop:
            assert (await shop.say("你们的快递把我的东西弄坏了")).endswith("请输入客户姓名")
            await proxy.stop()
            before = await _count_rows(db)
            down = await shop.phone.send_text("王小明")
            assert down.status == 503 and down.text is None  # WeChat will deliver it again
            assert await _count_rows(db) == before
            await proxy.start()
            retry = await shop.phone.redeliver()
            assert retry.status == 200
            assert retry.text == "请输入联系电话（11位手机号）\n请留下11位手机号，方便我们联系您"
            async with shop.db.read() as session:
                keys = (await session.scalars(select(InboundEvent.dedupe_key))).all()
                complaints = await session.scalar(select(func.count()).select_from(Complaint))
            assert len(keys) == len(set(keys)) == 2 and complaints == 0
    finally:
        if proxy._server is not None:
            await proxy.stop()


async def test_two_messages_at_once_from_one_customer_both_count(shop: Shop):
    """A name and a photo sent together: neither answer is lost to the other's commit."""
    await shop.say("你们的快递把我的东西弄坏了")
    phone = shop.phone
    media_id = shop.fake.add_media(b"\x89PNG photo", "image/png", "photo.png", "image")
    shop.fake.customer_wrote(phone.openid)
    name = phone.build(phone.fields("text", Content="王小明"))
    photo = phone.build(phone.fields("image", PicUrl="http://mmbiz.qpic.cn/x/0", MediaId=media_id))
    replies = await asyncio.gather(phone.post(name), phone.post(photo))
    assert [r.status for r in replies] == [200, 200]
    async with shop.db.read() as session:
        state = await session.scalar(select(Conversation.state))
    values = state["dialog"]["values"]
    assert values["customer_name"] == "王小明"
    assert [item["kind"] for item in values["media"]] == ["image"]


async def test_a_pool_busy_past_its_timeout_answers_503_and_the_retry_counts(shop: Shop):
    """Every pooled connection busy: the callback answers 503 within DB_POOL_TIMEOUT (WeChat
    gives up after 5 s), changes nothing, and WeChat's retry is handled once a connection frees."""
    if shop.db.is_sqlite:
        pytest.skip("PostgreSQL's connection pool (SQLite opens a connection per session)")
    shop.settings = shop.settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout": 0.2})
    await shop.restart()
    engine = shop.db.write_engine
    assert engine.pool.timeout() == 0.2
    held = [await engine.connect() for _ in range(1 + engine.pool._max_overflow)]  # type: ignore[attr-defined]
    try:
        busy = await shop.phone.send_text("你们的快递把我的东西弄坏了")
        assert busy.status == 503 and busy.text is None
    finally:
        for conn in held:
            await conn.close()
    assert (await _count_rows(shop.db))["inbound_events"] == 0
    retry = await shop.phone.redeliver()
    assert retry.status == 200 and retry.text is not None and retry.text.endswith("请输入客户姓名")


async def test_a_conversation_older_than_the_customer_record_is_taken_over(shop: Shop):
    """The sender and their conversation are read in one query; a conversation row without a
    customer row (kept from before, say) is used, not inserted twice."""
    now = shop.clock.now()
    async with shop.db.write() as session:
        session.add(
            Conversation(channel="service", user_id=shop.phone.openid, state={}, updated_at=now)
        )
    assert (await shop.say("你们的快递把我的东西弄坏了")).endswith("请输入客户姓名")
    assert (await shop.say("王小明")).startswith("请输入联系电话")
    async with shop.db.read() as session:
        conversations = (await session.scalars(select(Conversation))).all()
    assert len(conversations) == 1
    assert conversations[0].state["dialog"]["values"]["customer_name"] == "王小明"
