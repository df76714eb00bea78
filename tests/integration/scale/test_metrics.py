"""/metrics on a running service: the series an operator alerts on exist and move.

One process on SQLite, a 2 s time limit and a ticker that (after its first run at start) does
not tick again for an hour, as when the ticker is stuck: the complaint's timer comes due and
waits, so the tick lag grows. A send fails once (WeChat -1) and its retry is held at WeChat, so
the outbox's oldest row ages. The restart's catch-up fires the late timer: an SLA breach.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from storage.db import Database
from tests.integration.scale.conftest import MakeBot
from tests.integration.scale.harness import HoldingWechat, complain, customer
from tests.integration.scale.process import BotProcess, wait_for

pytestmark = pytest.mark.slow

CALLBACKS = 'callbacks_total{channel="service",outcome="%s"}'
SENDS = 'sends_total{channel="service",kind="news",outcome="%s"}'
SEND_FAILED = 'send_failures_total{channel="service",code="-1"}'
BREACHES = 'sla_breaches_total{level="breached"}'
PENDING = 'outbox_depth{status="pending"}'
OLDEST = "outbox_oldest_pending_seconds"
LAG = "tick_lag_seconds"

Metrics = dict[str, float]


async def scraped(bot: BotProcess, check: Callable[[Metrics], bool], what: str) -> Metrics:
    """Scrape /metrics until `check(metrics)` holds; that scrape."""
    seen: Metrics = {}

    async def holds() -> bool:
        seen.clear()
        seen.update(await bot.metrics())
        return check(seen)

    await wait_for(holds, what, bot=bot)
    return dict(seen)


async def test_metrics_show_callbacks_outbox_failures_breaches_and_tick_lag(
    sqlite_db: Database, wechat: HoldingWechat, make_bot: MakeBot
) -> None:
    env = {"SCALE_TIME_LIMIT": "2s", "TICK_INTERVAL": "3600"}
    bot = make_bot(sqlite_db.url, env=env)
    await bot.start()
    first = await bot.metrics()
    for gauge in ("database_up", PENDING, OLDEST, LAG, "timers_pending", "outbox_leased"):
        assert gauge in first
    assert first["database_up"] == 1.0 and first[LAG] == 0.0 and first[PENDING] == 0.0

    # Callbacks by outcome; a send that fails by code; its retry held in flight.
    wechat.hold()
    wechat.fail_next("/cgi-bin/message/custom/send", -1)
    phone = customer(wechat, bot.callback_url, 1)
    await complain(phone)
    assert (await phone.redeliver()).status == 200
    failed = await scraped(bot, lambda m: m.get(SEND_FAILED) == 1, "the failed send")
    assert failed[CALLBACKS % "accepted"] == 2 and failed[CALLBACKS % "duplicate"] == 1
    assert failed[SENDS % "retry"] == 1 and failed[PENDING] == 1

    # Nobody ticks: the timer is due and waits; the row waits for WeChat. Both ages grow.
    late = await scraped(bot, lambda m: m[LAG] > 0, "a due, unfired timer")
    later = await scraped(
        bot, lambda m: m[LAG] > late[LAG] and m[OLDEST] > late[OLDEST], "the ages to grow"
    )
    assert later[PENDING] == 1 and later["timers_pending"] == 1
    assert BREACHES not in later

    wechat.release()
    sent = await scraped(bot, lambda m: m[PENDING] == 0, "the card to be sent")
    assert sent[SENDS % "sent"] == 1 and sent[OLDEST] == 0

    # A restart's catch-up fires the timer that came due meanwhile (counters are per process).
    assert await bot.terminate() == 0
    await bot.start()
    after = await scraped(bot, lambda m: m.get(BREACHES) == 1, "the breach")
    assert after['timers_fired_total{level="breached"}'] == 1
    assert after[LAG] == 0 and after["timers_pending"] == 0
    assert len(wechat.cards(phone.openid)) == 1
