"""`serve --workers 2` on PostgreSQL and Redis: one port, both workers answer, each card is sent
once across them, and SIGTERM to the parent stops both cleanly; on SQLite it is refused."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from storage.db import Database
from tests.integration.scale.conftest import MakeBot, RedisServer
from tests.integration.scale.harness import (
    HoldingWechat,
    Phone,
    all_sent,
    complain,
    complaint_numbers,
    customer,
    outbox,
)
from tests.integration.scale.process import socket_owner, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MIN_COMPLAINTS = 6
MAX_COMPLAINTS = 40  # the kernel picks a worker per connection: stop once both have answered
ACCEPTED = 'callbacks_total{channel="service",outcome="accepted"}'
CARDS_SENT = 'sends_total{channel="service",kind="news",outcome="sent"}'


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_two_workers_share_the_port_deliver_once_and_stop_cleanly_on_sigterm(
    pg: Database, wechat: HoldingWechat, make_bot: MakeBot, redis_server: RedisServer
) -> None:
    bot = make_bot(pg.url, redis_url=redis_server.url, workers=2)
    await bot.start()
    workers = bot.worker_pids()
    assert len(workers) == 2 and bot.pid not in workers

    phones: list[Phone] = []
    numbers = []
    answered: set[int | None] = set()
    while len(phones) < MAX_COMPLAINTS and (
        len(phones) < MIN_COMPLAINTS or not answered >= set(workers)
    ):
        phone = customer(wechat, bot.callback_url, len(phones))
        phone.locate = lambda client_port: socket_owner(bot.port, client_port, workers)
        phones.append(phone)
        numbers.append(await complain(phone))
        answered.update(phone.answered_by)
    assert answered == set(workers)  # both workers took callbacks on the one port

    await wait_for(lambda: all_sent(pg), "every card to be sent", bot=bot)
    assert sorted(await complaint_numbers(pg)) == sorted(numbers)
    assert len(set(numbers)) == len(numbers)  # numbers handed out once across workers
    for phone in phones:
        assert len(wechat.passive_acceptances(phone.openid)) == 1
        assert len(wechat.cards(phone.openid)) == 1  # each card sent by one worker only
    assert {row.attempts for row in await outbox(pg)} == {1}  # never claimed twice

    # /metrics: whichever worker the scrape lands on, the counters are the service's totals.
    scraped_by: set[int | None] = set()
    for _ in range(MAX_COMPLAINTS):
        metrics, worker = await bot.metrics_from_a_worker()
        scraped_by.add(worker)
        assert metrics[ACCEPTED] == 2 * len(phones), (worker, metrics[ACCEPTED])
        assert metrics[CARDS_SENT] == len(phones), (worker, metrics[CARDS_SENT])
        if scraped_by >= set(workers):
            break
    assert scraped_by == set(workers)

    # SIGTERM to the parent while sends are in flight: both workers stop, rows in hand are
    # handed back at once (SHUTDOWN_GRACE is 1 s), the parent exits 0.
    wechat.hold()
    late = [customer(wechat, bot.callback_url, 100 + i) for i in range(2)]
    for phone in late:
        await complain(phone)
    await wait_for(lambda: wechat.held == 2, "two sends in flight", bot=bot)
    assert await bot.terminate() == 0, bot.log_text()[-4000:]
    assert not any(alive(pid) for pid in workers)
    in_hand = [row for row in await outbox(pg) if row.status == "pending"]
    assert len(in_hand) == 2
    assert all(row.lease_owner is None and row.lease_until is None for row in in_hand)
    wechat.release()
    await wait_for(lambda: wechat.dropped == 2, "WeChat to drop the stopped senders' requests")
    assert all(wechat.cards(phone.openid) == [] for phone in late)


async def test_two_workers_on_sqlite_are_refused_with_exit_code_2(
    make_bot: MakeBot, tmp_path: Path
) -> None:
    bot = make_bot(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", workers=2)
    await bot.start(ready=False)
    assert bot.process is not None
    assert await bot.process.wait() == 2
    said = bot.log_text()
    assert "refusing to start 2 workers on SQLite" in said
    assert "set DATABASE_URL to PostgreSQL" in said
