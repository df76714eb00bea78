"""Redis and PostgreSQL going away under a running service, then coming back.

Redis only carries speed (token cache, rate windows): while it is down, callbacks keep being
answered and sends keep going. PostgreSQL is the authority: while it is unreachable, callbacks
answer 503 so WeChat retries, nothing is half-written, and the pool recovers when it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.engine import make_url

from bot.service.inbound import PAUSE_BEFORE_COMMIT
from storage.db import Database
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.wecom_server import FakeWecom
from tests.integration.scale.conftest import MakeBot, RedisServer
from tests.integration.scale.harness import (
    HoldingWechat,
    Phone,
    RealClock,
    all_sent,
    complain,
    complaint_numbers,
    confirm,
    customer,
    describe,
    expire_leases,
    inbound_count,
    msg_key,
    number_in,
    wecom_env,
)
from tests.integration.scale.process import BotProcess, FaultPoint, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    fake = FakeWecom(clock=RealClock())  # type: ignore[arg-type]  # the same two methods
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


def staff_cards(wecom: FakeWecom) -> list[str]:
    """The task cards (template_card) the WeCom member received, by complaint title."""
    return [
        str(body["template_card"].get("main_title", {}).get("title", ""))
        for body in wecom.delivered
        if body.get("msgtype") == "template_card"
    ]


def each_once(wechat: HoldingWechat, wecom: FakeWecom, phones: list[Phone]) -> None:
    """Every customer: one acceptance reply and one card; staff: one task card per complaint."""
    for phone in phones:
        assert len(wechat.passive_acceptances(phone.openid)) == 1, phone.openid
        assert len(wechat.cards(phone.openid)) == 1, phone.openid
    cards = staff_cards(wecom)
    assert len(cards) == len(phones) == len(set(cards))


async def test_redis_stopped_during_callbacks_and_sends_then_started_again(
    pg: Database,
    wechat: HoldingWechat,
    wecom: FakeWecom,
    make_bot: MakeBot,
    redis_server: RedisServer,
) -> None:
    bot = make_bot(pg.url, redis_url=redis_server.url, env=wecom_env(wecom))
    await bot.start()
    redis = redis_server.client()
    phones: list[Phone] = []

    async def a_complaint() -> str:
        phone = customer(wechat, bot.callback_url, len(phones))
        phones.append(phone)
        return await complain(phone)

    try:
        # Redis up: the tokens and the WeCom member's send window live in it.
        await a_complaint()
        await wait_for(lambda: all_sent(pg), "the first cards", bot=bot)
        assert await redis.keys("complaint-bot:token:*")
        assert await redis.keys("complaint-bot:pace:*")

        # Redis stops while a send is in flight ...
        wechat.hold()
        await a_complaint()
        await wait_for(lambda: wechat.held == 1, "a send in flight", bot=bot)
        await redis_server.stop()
        wechat.release()
        # ... and stays down through callbacks, sends and a token WeChat revokes.
        fetched = wechat.token_fetch_count
        wechat.revoke_tokens()
        for _ in range(2):
            await a_complaint()  # complain() asserts every callback was answered 200
        await wait_for(lambda: all_sent(pg), "the cards sent while Redis is down", bot=bot)
        assert wechat.token_fetch_count > fetched  # a new token, fetched without Redis
        assert "Redis unavailable" in bot.log_text()

        # Redis is back (empty: it kept nothing). The pacer tries it again once its pause
        # (5 s) is over: complaints keep coming, a few a second, until the shared window shows
        # up in the new Redis. (At most 24 more cards: the member's 30 a minute never binds.)
        await redis_server.start()
        for _ in range(24):
            await a_complaint()
            if await redis.keys("complaint-bot:pace:*"):
                break
            await asyncio.sleep(0.3)  # spreads the load over the pause; nothing is timed
        else:
            pytest.fail(f"the pacer never went back to Redis:\n{bot.log_text()[-4000:]}")
        assert "shared limits resumed" in bot.log_text()
        await wait_for(lambda: all_sent(pg), "the cards after Redis returned", bot=bot)
    finally:
        await redis.aclose()

    assert len(await complaint_numbers(pg)) == len(phones)
    each_once(wechat, wecom, phones)


@pytest.fixture
async def pg_proxy(pg: Database) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A TcpProxy in front of the test's PostgreSQL, and the database URL through it."""
    url = make_url(pg.url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        yield (
            proxy,
            url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        )
    finally:
        await proxy.close()


async def readyz(bot: BotProcess) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{bot.base_url}/readyz") as resp:
            return resp.status


async def test_postgres_unreachable_callbacks_answer_503_nothing_half_written_pool_recovers(
    pg: Database,
    pg_proxy: tuple[TcpProxy, str],
    wechat: HoldingWechat,
    make_bot: MakeBot,
    tmp_path: Path,
) -> None:
    proxy, url = pg_proxy
    pause = FaultPoint(tmp_path / "pause-before-commit")
    bot = make_bot(url, env={PAUSE_BEFORE_COMMIT: str(pause.path)})
    await bot.start()
    first, second, third = (customer(wechat, bot.callback_url, i) for i in range(3))
    numbers = [await complain(first)]

    # The database goes away: open connections reset, new ones refused.
    await proxy.cut()
    for attempt in (second.send_text("快递把我的杯子压碎了"), second.redeliver()):
        refused = await attempt
        assert refused.status == 503, refused.body  # not 200: WeChat must retry
    assert await readyz(bot) == 503
    assert await inbound_count(pg, msg_key(second)) == 0

    # It comes back: WeChat's next retry is taken, once; the pool reconnected by itself.
    await proxy.restore()
    retried = await second.redeliver()
    assert retried.status == 200 and "请确认您的投诉登记表信息" in (retried.text or "")
    numbers.append(number_in(await confirm(second)))
    assert await readyz(bot) == 200

    # Cut in the middle of a transaction: 确认提交 has written its rows, not committed them.
    await describe(third)
    pause.arm()
    call = asyncio.create_task(confirm(third))
    await wait_for(pause.reached, "确认提交 to reach its commit", bot=bot)
    await proxy.cut()
    pause.disarm()
    assert (await call).status == 503
    assert await inbound_count(pg, msg_key(third)) == 0
    assert await complaint_numbers(pg) == numbers  # nothing of the third was kept
    await proxy.restore()
    numbers.append(number_in(await third.redeliver()))
    await wait_for(lambda: all_sent(pg), "the cards so far to be sent", bot=bot)

    # Cut while a card is in flight: WeChat takes it, and the relay cannot record that until
    # the database is back. It keeps trying (the old relay gave up after 4 tries, leaving the
    # row to be sent again after its lease): recorded once the database returns, sent once.
    fourth = customer(wechat, bot.callback_url, 3)
    wechat.hold()
    numbers.append(await complain(fourth))
    await wait_for(lambda: wechat.held == 1, "the card's send to be in flight", bot=bot)
    await proxy.cut()
    wechat.release()
    await wait_for(lambda: len(wechat.cards(fourth.openid)) == 1, "WeChat to take the card")
    await wait_for(
        lambda: bot.log_text().count("could not record sent for row") >= 5,
        "the relay to try recording more often than it used to",
        bot=bot,
    )
    await proxy.restore()
    await wait_for(lambda: all_sent(pg), "the card to be recorded as sent", bot=bot)
    assert await expire_leases(pg) == 0  # nothing left leased to be sent a second time
    assert "it is sent again after its lease" not in bot.log_text()

    assert await complaint_numbers(pg) == numbers
    for phone in (first, second, third, fourth):
        assert len(wechat.passive_acceptances(phone.openid)) == 1
        assert len(wechat.cards(phone.openid)) == 1
    metrics = await bot.metrics()
    assert metrics['callbacks_total{channel="service",outcome="unavailable"}'] >= 3
    assert metrics['sends_total{channel="service",kind="news",outcome="sent"}'] == 4
    assert metrics["database_up"] == 1.0
