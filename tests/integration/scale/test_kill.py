"""A service process SIGKILLed before its commit, after it, and mid-send, on SQLite and PostgreSQL:
no complaint lost, no reply doubled, and the rows it held delivered once by the next process.

The test runs a real `python -m bot serve`, drives it with WeChat callbacks, kills it at an exact
moment (a BOT_TEST_PAUSE_* fault point, or a send held at the fake WeChat), starts a new process
on the same database and redelivers the callback with the same MsgId, as WeChat does when it got
no answer. A relay's lease is 120 s; the tests move the dead process's leases into the past
(`expire_leases`) instead of waiting for them to run out.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from bot.service.inbound import PAUSE_AFTER_COMMIT, PAUSE_BEFORE_COMMIT
from storage.db import Database
from tests.integration.scale.conftest import MakeBot
from tests.integration.scale.harness import (
    HoldingWechat,
    Phone,
    all_sent,
    complaint_numbers,
    confirm,
    customer,
    describe,
    expire_leases,
    inbound_count,
    msg_key,
    number_in,
    outbox,
)
from tests.integration.scale.process import BotProcess, FaultPoint, wait_for

pytestmark = pytest.mark.slow


async def unanswered(call: asyncio.Task[object]) -> None:
    """The callback in flight when the process died got no answer (so WeChat retries it)."""
    with pytest.raises(aiohttp.ClientError):
        await call


async def delivered_once(db: Database, wechat: HoldingWechat, phone: Phone, number: str) -> None:
    """One complaint, one stored delivery, one acceptance reply and one card for this customer."""
    await wait_for(lambda: all_sent(db), "every outbox row to be sent")
    assert (await complaint_numbers(db)).count(number) == 1
    assert await inbound_count(db, msg_key(phone)) == 1
    acceptances = wechat.passive_acceptances(phone.openid)
    assert len(acceptances) == 1 and number in acceptances[0]
    cards = wechat.cards(phone.openid)
    assert len(cards) == 1 and number in cards[0]


async def killed_before_commit(
    bot: BotProcess, db: Database, wechat: HoldingWechat, pause: FaultPoint, phone: Phone
) -> None:
    """确认提交 is in its transaction when the process dies: nothing of it may remain."""
    await describe(phone)
    pause.arm()
    call = asyncio.create_task(confirm(phone))
    await wait_for(pause.reached, "确认提交 to reach its commit", bot=bot)
    assert await bot.kill() == -signal.SIGKILL
    await unanswered(call)
    pause.disarm()
    assert await complaint_numbers(db) == []  # rolled back with the process
    assert await inbound_count(db, msg_key(phone)) == 0
    assert await outbox(db) == []


async def retried_after_the_kill_before_commit(
    db: Database, wechat: HoldingWechat, phone: Phone
) -> None:
    """WeChat retries (same MsgId, fresh signature): the complaint is created now, once."""
    assert phone.last is not None
    lost = await phone.post(phone.resigned(phone.last))  # an answer lost on the way back ...
    number = number_in(lost)
    retry = await phone.redeliver()  # ... so WeChat tries a third time: the same answer
    assert retry.text == lost.text
    await delivered_once(db, wechat, phone, number)


async def killed_after_commit(
    bot: BotProcess, db: Database, wechat: HoldingWechat, pause: FaultPoint, phone: Phone
) -> str:
    """确认提交 is committed, the answer not yet sent, when the process dies; its number."""
    await describe(phone)
    before = await complaint_numbers(db)
    wechat.hold()  # whatever the dying relay sends never reaches WeChat
    pause.arm()
    call = asyncio.create_task(confirm(phone))
    await wait_for(pause.reached, "确认提交 to be committed", bot=bot)
    assert await bot.kill() == -signal.SIGKILL
    await unanswered(call)
    pause.disarm()
    wechat.release()
    [number] = [n for n in await complaint_numbers(db) if n not in before]  # it is stored ...
    assert wechat.passive_acceptances(phone.openid) == []  # ... but the customer was not told
    assert wechat.cards(phone.openid) == []
    await expire_leases(db)
    return number


async def killed_mid_send(
    bot: BotProcess, db: Database, wechat: HoldingWechat, phone: Phone
) -> str:
    """The card's send is in flight (held at WeChat) when the process dies; the number."""
    await describe(phone)
    wechat.hold()
    held = wechat.held
    number = number_in(await confirm(phone))  # the customer has the acceptance reply
    await wait_for(lambda: wechat.held == held + 1, "the card's send to be in flight", bot=bot)
    [row] = [r for r in await outbox(db) if r.status == "pending"]
    assert row.attempts == 1 and row.lease_owner is not None
    assert await bot.kill() == -signal.SIGKILL
    dropped = wechat.dropped
    wechat.release()
    await wait_for(lambda: wechat.dropped == dropped + 1, "WeChat to drop the dead's request")
    assert wechat.cards(phone.openid) == []
    assert await expire_leases(db) == 1
    return number


async def test_a_process_killed_before_commit_after_commit_and_mid_send_loses_and_doubles_nothing(
    db: Database, wechat: HoldingWechat, make_bot: MakeBot, tmp_path: Path
) -> None:
    before_commit = FaultPoint(tmp_path / "pause-before-commit")
    after_commit = FaultPoint(tmp_path / "pause-after-commit")
    bot = make_bot(
        db.url,
        env={PAUSE_BEFORE_COMMIT: str(before_commit), PAUSE_AFTER_COMMIT: str(after_commit)},
    )
    first, second, third = (customer(wechat, bot.callback_url, i) for i in (1, 2, 3))

    await bot.start()
    await killed_before_commit(bot, db, wechat, before_commit, first)
    await bot.start()
    await retried_after_the_kill_before_commit(db, wechat, first)

    number = await killed_after_commit(bot, db, wechat, after_commit, second)
    await bot.start()
    retry = await second.redeliver()
    assert number_in(retry) == number  # the reply stored with the first delivery
    await delivered_once(db, wechat, second, number)

    number = await killed_mid_send(bot, db, wechat, third)
    await bot.start()
    await delivered_once(db, wechat, third, number)
    row = next(r for r in await outbox(db) if r.target == f"user:{third.openid}")
    assert row.attempts == 2 and row.lease_owner is None  # sent again, by the new process

    assert len(await complaint_numbers(db)) == 3
    assert [len(wechat.cards(p.openid)) for p in (first, second, third)] == [1, 1, 1]
