"""WeChat callbacks benchmark: whole intakes, encrypted the way WeChat sends them, at a fixed rate.

    .venv/bin/python bench/wechat_callbacks.py --db sqlite --rate 200 --duration 60
    .venv/bin/python bench/wechat_callbacks.py --db postgresql --rate 200 --duration 60

One `python -m bot serve` process (the example config; the `service` WeChat channel pointed at
an in-process fake WeChat, which also receives the outbox's cards and notices) is driven
open-loop: request j is due at t0 + j/rate and is sent then, whatever happened to the earlier
ones, and its latency is measured from that due time. A slow server therefore shows up as
latency instead of silently lowering the offered load (no coordinated omission).

The load is many customers, each going through a realistic intake a few seconds per message:
free text first, name, a wrong phone and the right one, 跳过, type (the four in turn),
order number (for 服务态度/其他 it answers the photo question and is asked again), 跳过,
确认提交, 进度. Each customer's messages are `--gap` seconds apart, so the rate is made of
rate x gap customers in flight. PostgreSQL runs on its own database (created and dropped here,
on TEST_DATABASE_URL's server); SQLite on a file in a temporary directory. `--profile FILE`
runs the server under cProfile; BENCH_SERVER_WRAPPER=script.py runs it as `python script.py
<serve arguments>` (a sampling profiler, say). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_P99_MS = 100.0
MAX_RUN_SECONDS = 240  # callbacks are signed up front; WeChat's timestamp window is 300 s
CHANNEL = "service"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the customers -------------------------------------------------------------------------------

Step = Callable[[int], str]
TYPES = ("产品质量", "物流问题", "服务态度", "其他")
SCRIPT: tuple[Step, ...] = (
    lambda c: "你们的快递把我买的杯子压碎了，外箱也破了",
    lambda c: f"王小明{c % 1000}",
    lambda c: "1391234",  # a wrong phone, asked again
    lambda c: f"139{c % 100_000_000:08d}",
    lambda c: "跳过",  # 客户编号
    lambda c: TYPES[c % len(TYPES)],  # 订单号 is asked for the first two only
    lambda c: f"2026{c % 100_000_000:08d}",  # 订单号
    lambda c: "跳过",  # 图片
    lambda c: "确认提交",
    lambda c: "进度",
)
SUBMIT_STEP = 8


@dataclass(frozen=True)
class Slot:
    index: int
    customer: int
    step: int
    at: float  # seconds after the start


def plan(rate: float, seconds: float, gap: float) -> list[Slot]:
    """Every request of the run, in time order: `rate` a second once the ramp is over.

    A new customer starts every len(SCRIPT)/rate seconds and sends step k at
    (customer * len(SCRIPT) + k) / rate + k * gap: each customer's messages are `gap` seconds
    apart, customers are at different steps at any moment (no wave of 确认提交 at once), and the
    requests are exactly 1/rate apart after the first len(SCRIPT) * gap seconds.
    """
    length = len(SCRIPT)
    timed = []
    customer = 0
    while customer * length / rate < seconds:
        for step in range(length):
            at = (customer * length + step) / rate + step * gap
            if at < seconds:
                timed.append((at, customer, step))
        customer += 1
    timed.sort()
    return [Slot(i, c, k, at) for i, (at, c, k) in enumerate(timed)]


# --- the service under test ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory: Path, api_base: str) -> Path:
    import yaml

    from tests.fakes.configs import example_data

    data = example_data()
    for channel in data["channels"]:
        if channel["name"] == CHANNEL:
            channel["api_base"] = api_base
    path = directory / "bench.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def postgres_urls(name: str) -> tuple[str, str]:
    """(admin URL, the bench database's URL) on TEST_DATABASE_URL's server."""
    from sqlalchemy.engine import make_url

    base = make_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    )
    admin = base.render_as_string(hide_password=False)
    return admin, base.set(database=name).render_as_string(hide_password=False)


async def postgres_admin(admin_url: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


class Server:
    """`python -m bot serve` in a child process (optionally under cProfile)."""

    def __init__(
        self, env: dict[str, str], port: int, config: Path, log_path: Path, profile: Path | None
    ):
        self.port = port
        command = [sys.executable]
        if profile is not None:
            command += ["-m", "cProfile", "-o", str(profile)]
        wrapper = os.environ.get("BENCH_SERVER_WRAPPER")  # e.g. a sampling profiler's script
        command += [wrapper] if wrapper else ["-m", "bot", "serve"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--config", str(config)]
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT
        )

    async def ready(self, session: Any, within: float = 90.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}; see its log")
            try:
                async with session.get(f"http://127.0.0.1:{self.port}/readyz") as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("server not ready in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # graceful: cProfile writes its file
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# --- the load ------------------------------------------------------------------------------------


@dataclass
class Result:
    due: float
    sent: float
    done: float
    status: int
    step: int
    submitted: bool = False


async def drive(
    url: str, slots: list[Slot], rate: float, server: Any, openids: list[str], phones: list[Any]
) -> list[Result]:
    import aiohttp

    from tests.fakes.wechat_phone import WechatPhone

    log(f"signing {len(slots)} callbacks ...")
    callbacks = [
        phones[s.customer].build(
            phones[s.customer].fields("text", Content=SCRIPT[s.step](s.customer))
        )
        for s in slots
    ]
    results: list[Result | None] = [None] * len(slots)
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=2000, limit_per_host=2000)
    timeout = aiohttp.ClientTimeout(total=30)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(slot: Slot, due: float) -> None:
            phone: WechatPhone = phones[slot.customer]
            server.customer_wrote(openids[slot.customer])  # opens the 48 h window
            callback = callbacks[slot.index]
            sent = loop.time()
            submitted = False
            try:
                async with session.post(
                    url,
                    params=callback.query,
                    data=callback.body,
                    headers={"Content-Type": "text/xml"},
                ) as response:
                    body = await response.text()
                    status = response.status
                if slot.step == SUBMIT_STEP and status == 200:
                    text = phone._read_reply(status, body).get("Content", "")
                    submitted = "编号" in text
            except (aiohttp.ClientError, TimeoutError, OSError):
                status = -1
            results[slot.index] = Result(due, sent, loop.time(), status, slot.step, submitted)

        tasks = set()
        t0 = loop.time() + 0.5
        for slot in slots:
            due = t0 + slot.at
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(slot, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
    return [r for r in results if r is not None]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summarize(results: list[Result], warmup: float, rate: float, duration: float) -> dict[str, Any]:
    t0 = min(r.due for r in results)
    measured = [r for r in results if r.due - t0 >= warmup]
    ok = [r for r in measured if r.status == 200]
    latencies = [(r.done - r.due) * 1000 for r in ok]
    lag = [(r.sent - r.due) * 1000 for r in measured]
    span = max(r.done for r in measured) - min(r.due for r in measured)
    series: dict[int, list[float]] = {}
    for r in ok:
        series.setdefault(int(r.due - t0 - warmup), []).append((r.done - r.due) * 1000)
    return {
        "per_second_max_ms": [round(max(series.get(s, [0.0])), 1) for s in range(max(series) + 1)]
        if series
        else [],
        "offered_rate": rate,
        "seconds": duration,
        "requests": len(measured),
        "ok": len(ok),
        "errors": len(measured) - len(ok),
        "statuses": sorted({r.status for r in measured}),
        "throughput": round(len(ok) / span, 1) if span > 0 else 0.0,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p90_ms": round(percentile(latencies, 90), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "generator_lag_p99_ms": round(percentile(lag, 99), 1),
        "submitted": sum(r.submitted for r in results),
        "p99_ms_by_step": {
            step: round(percentile([(r.done - r.due) * 1000 for r in ok if r.step == step], 99), 1)
            for step in sorted({r.step for r in ok})
        },
    }


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` and its threads (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} vCPU ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


async def count_rows(database_url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from storage.db import Database
    from storage.models import Complaint, InboundEvent, OutboxMessage

    db = Database(database_url)
    try:
        async with db.read() as session:
            return {
                "complaints": await session.scalar(select(func.count()).select_from(Complaint)),
                "inbound_events": await session.scalar(
                    select(func.count()).select_from(InboundEvent)
                ),
                "outbox": await session.scalar(select(func.count()).select_from(OutboxMessage)),
                "outbox_sent": await session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(OutboxMessage.status == "sent")
                ),
            }
    finally:
        await db.dispose()


async def bench(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """One run on one database: the server, the fake WeChat, the load; the summary."""
    from tests.fakes.wechat_oa_server import FakeWechatServer

    total_seconds = args.warmup + args.duration
    if total_seconds > MAX_RUN_SECONDS:
        raise SystemExit(f"warmup + duration must stay under {MAX_RUN_SECONDS} s")
    if args.warmup < args.gap * len(SCRIPT):
        log(f"note: the first {args.gap * len(SCRIPT):g} s ramp up; a shorter warmup measures them")
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-wechat-{kind}-"))
    db_name = f"bench_wechat_{os.getpid()}"
    if kind == "postgresql":
        admin_url, database_url = postgres_urls(db_name)
        await postgres_admin(admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        await postgres_admin(admin_url, f'CREATE DATABASE "{db_name}"')
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    server_fake = FakeWechatServer(clock=lambda: datetime.now(UTC), message_allowance=None)
    await server_fake.start()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(workdir / "data"),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "SECRET_KEY": "bench-secret",
        "LOG_LEVEL": args.log_level,
        "PLAYGROUND_CLOCK": "false",
        "WECHAT_APP_ID": server_fake.app_id,
        "WECHAT_APP_SECRET": server_fake.app_secret,
        "WECHAT_TOKEN": server_fake.token,
        "WECHAT_AES_KEY": server_fake.encoding_aes_key,
    }
    env.pop("REDIS_URL", None)
    config = write_config(workdir, server_fake.url)
    profile = args.profile
    if profile is not None and args.db == "both":
        profile = profile.with_name(f"{profile.stem}-{kind}{profile.suffix}")
    server = Server(env, port, config, workdir / "server.log", profile)
    try:
        return await _run(args, kind, server, server_fake, port, total_seconds, database_url)
    finally:
        if kind == "postgresql":
            await postgres_admin(admin_url, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        for name in ("bench.db", "bench.db-wal", "bench.db-shm"):
            (workdir / name).unlink(missing_ok=True)  # the server's log stays for a look


async def _run(
    args: argparse.Namespace,
    kind: str,
    server: Server,
    server_fake: Any,
    port: int,
    total_seconds: float,
    database_url: str,
) -> dict[str, Any]:
    import aiohttp

    from tests.fakes.wechat_phone import WechatPhone

    workdir = Path(server.log.name).parent
    try:
        async with aiohttp.ClientSession() as session:
            await server.ready(session)
        url = f"http://127.0.0.1:{port}/callbacks/wechat/{CHANNEL}"
        slots = plan(args.rate, total_seconds, args.gap)
        customers = max(s.customer for s in slots) + 1
        openids = [f"oBench{c:021d}" for c in range(customers)]
        first = WechatPhone.for_server(server_fake, url, openid=openids[0])
        phones = [first.other(o) if i else first for i, o in enumerate(openids)]
        for c, phone in enumerate(phones):  # MsgIds are unique across the account
            phone._msg_id = 24_000_000_000_000_000 + c * 100
        log(
            f"{kind}: {len(slots)} callbacks at {args.rate}/s for {total_seconds:g} s "
            f"({customers} customers, {args.gap:g} s between a customer's messages)"
        )
        load_before, cpu_before = os.getloadavg()[0], process_cpu(server.process.pid)
        results = await drive(url, slots, args.rate, server_fake, openids, phones)
        cpu_seconds = process_cpu(server.process.pid) - cpu_before
        load_after = os.getloadavg()[0]
        await asyncio.sleep(2 * 1.0)  # let the relay send the last cards
    finally:
        server.stop()
        await server_fake.close()
    summary = summarize(results, args.warmup, args.rate, args.duration)
    summary["db"] = kind
    summary["customers"] = customers
    # CPU the server process used per request (its relay included): what the load costs,
    # whatever else the machine was doing; 1000 / this is one core's capacity.
    summary["server_cpu_ms_per_request"] = round(cpu_seconds * 1000 / max(1, len(results)), 2)
    summary["load_average"] = [round(load_before, 2), round(load_after, 2)]
    summary["rows"] = await count_rows(database_url)
    summary["news_to_fake"] = sum(1 for m in server_fake.seen if m.msgtype == "news")
    summary["server_log"] = str(workdir / "server.log")
    return summary


def report(summary: dict[str, Any]) -> None:
    verdict = "met" if summary["p99_ms"] <= TARGET_P99_MS and summary["errors"] == 0 else "NOT met"
    log(
        f"{summary['db']}: offered {summary['offered_rate']}/s, got {summary['throughput']}/s; "
        f"p50 {summary['p50_ms']} ms, p90 {summary['p90_ms']} ms, p99 {summary['p99_ms']} ms, "
        f"max {summary['max_ms']} ms; errors {summary['errors']} {summary['statuses']}; "
        f"generator lag p99 {summary['generator_lag_p99_ms']} ms; "
        f"server CPU {summary['server_cpu_ms_per_request']} ms/request; "
        f"load average {summary['load_average'][0]} -> {summary['load_average'][1]}; "
        f"{summary['submitted']} intakes submitted, rows {summary['rows']}; "
        f"target p99 < {TARGET_P99_MS:g} ms {verdict}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument(
        "--warmup",
        type=float,
        default=30.0,
        help="unmeasured seconds first (the ramp: len(script) x gap)",
    )
    parser.add_argument(
        "--gap", type=float, default=3.0, help="seconds between one customer's messages"
    )
    parser.add_argument("--log-level", default="INFO", help="the server's LOG_LEVEL")
    parser.add_argument("--profile", help="write the server's cProfile stats to this file")
    parser.add_argument("--json", action="store_true", help="print the summaries as JSON")
    args = parser.parse_args()
    args.profile = Path(args.profile).resolve() if args.profile else None
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    summaries = []
    log(f"machine: {machine()}")
    for kind in kinds:
        summary = asyncio.run(bench(args, kind))
        report(summary)
        summaries.append(summary)
    if args.json:
        print(json.dumps({"machine": machine(), "runs": summaries}, ensure_ascii=False, indent=2))
    return 0 if all(s["p99_ms"] <= TARGET_P99_MS and not s["errors"] for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
