"""SIGTERM while a send is in flight: the send finishes within SHUTDOWN_GRACE, is recorded once,
and the process exits 0, even when a second SIGTERM arrives meanwhile (systemd and a terminal's
Ctrl-C signal every process of the group, and `serve --workers` forwards the same signal again).
A send that outlives the grace is handed back instead: see test_workers.py."""

from __future__ import annotations

import signal

import pytest

from storage.db import Database
from tests.integration.scale.conftest import MakeBot
from tests.integration.scale.harness import HoldingWechat, complain, customer, outbox
from tests.integration.scale.process import wait_for

pytestmark = pytest.mark.slow


async def test_sigterm_twice_lets_the_send_in_flight_finish_then_exits_0(
    sqlite_db: Database, wechat: HoldingWechat, make_bot: MakeBot
) -> None:
    bot = make_bot(sqlite_db.url, env={"SHUTDOWN_GRACE": "30"})
    await bot.start()
    phone = customer(wechat, bot.callback_url, 1)
    wechat.hold()
    number = await complain(phone)
    await wait_for(lambda: wechat.held == 1, "the card's send to be in flight", bot=bot)

    assert bot.process is not None
    bot.process.send_signal(signal.SIGTERM)
    await wait_for(bot.refusing, "the service to stop taking connections", bot=bot)
    bot.process.send_signal(signal.SIGTERM)  # again, while it is stopping: not obeyed
    await wait_for(lambda: "while stopping" in bot.log_text(), "the repeat to be noted", bot=bot)
    assert bot.process.returncode is None  # still waiting for the send in hand
    wechat.release()  # WeChat answers now, inside the grace
    assert await bot.exited() == 0, bot.log_text()[-4000:]

    [row] = await outbox(sqlite_db)
    assert (row.status, row.attempts, row.lease_owner) == ("sent", 1, None)
    assert wechat.dropped == 0
    cards = wechat.cards(phone.openid)
    assert len(cards) == 1 and number in cards[0]
