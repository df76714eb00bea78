"""SLA sweep benchmark: the ticker's claim of due timers among 1,000,000 complaints (PostgreSQL).

    .venv/bin/python bench/sla_sweep.py                          # the figures in bench/README.md
    .venv/bin/python bench/sla_sweep.py --complaints 100000 --due 500 --repeat 5   # a quick look

Targets (the issue): with 1,000,000 complaints of which 5,000 have a timer due, the claim uses an
index and takes under 50 ms; with 10x more closed rows it is under 20 % slower.

The data lives in a database of its own on TEST_DATABASE_URL's server, created, migrated with the
project's migrations and dropped here (--keep keeps it). It is generated server-side in batches
(INSERT ... SELECT generate_series, progress printed):
- closed complaints (status closed, 3 of 4) and cancelled ones, each with its step's two timers
  settled: "breached" fired, "escalated" cancelled;
- open complaints (in_progress), each with two pending timers due in the future;
- `--due` of the open complaints have their "breached" timer due already: what a tick must fire.
Then `--closed-factor` (10) times the closed rows: more closed complaints and their timers.

Measured in each phase, after VACUUM ANALYZE:
1. `bot.delivery.timers.claim_due(session, now, limit)` (a Core `SELECT … FOR UPDATE SKIP
   LOCKED` of the columns `fire` needs, plain `DueTimer`s back) with the ticker's batch (100)
   and with all the due timers at once (`--due`), each `--repeat` times in a transaction that is
   rolled back; median and p95 of the wall time, and EXPLAIN (ANALYZE, BUFFERS) of the claim's
   SQL; also the claim followed by the batch's one "fired" UPDATE (`mark_fired`), and, for
   comparison, the former claim (ORM `SELECT Timer … FOR UPDATE`, an object per row);
2. a whole `TimerTicker.tick()`, which fires every due timer in batches of 100, with a fire that
   does nothing and with one that writes one outbox row (then each timer costs a savepoint);
   the timers are set pending again afterwards.
The figures are printed, and written as JSON with --json. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_CLAIM_MS = 50.0
TARGET_SLOWDOWN = 0.20
BATCH = 100  # TimerTicker's default batch
OPEN_SHARE = 0.05  # of the base complaints, still open (pending timers)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the database ------------------------------------------------------------------------------


def urls(name: str) -> tuple[str, str]:
    """(admin URL, the bench database's URL) on TEST_DATABASE_URL's server."""
    from sqlalchemy.engine import make_url

    base = make_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    )
    return base.render_as_string(hide_password=False), base.set(database=name).render_as_string(
        hide_password=False
    )


async def admin(admin_url: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


# Complaints :first .. :last and their step's two timers. Closed (and cancelled) complaints have
# their timers settled days ago; open ones have them pending in the future, except the "breached"
# timer of complaints below :due_below, which came due within the last hour.
PARAMS_CTE = """
WITH p AS (SELECT CAST(:now AS timestamptz) AS now, CAST(:open AS boolean) AS open,
                  CAST(:first AS bigint) AS first, CAST(:last AS bigint) AS last,
                  CAST(:due_below AS bigint) AS due_below)
"""
COMPLAINTS_SQL = f"""
INSERT INTO complaints (id, number, form, flow, "values", status, type, priority, channel,
                        department, assignee, current_step, created_at, updated_at, closed_at,
                        reassigned, reopened)
{PARAMS_CTE}
SELECT g, 'TS' || to_char(p.now - (g % 365) * interval '1 day', 'YYYYMMDD') || '-' || g,
       'complaint', 'complaint', '{{}}'::jsonb,
       CASE WHEN p.open THEN 'in_progress' WHEN g % 4 = 0 THEN 'cancelled' ELSE 'closed' END,
       (ARRAY['产品质量','物流问题','服务态度','其他'])[1 + g % 4], 'normal', 'service',
       (ARRAY['product','logistics','support','cs'])[1 + g % 4], 'zhangsan',
       CASE WHEN p.open THEN 'handle' END,
       p.now - (g % 365 + 5) * interval '1 day',
       p.now - (g % 365 + 2) * interval '1 day',
       CASE WHEN NOT p.open THEN p.now - (g % 365 + 2) * interval '1 day' END,
       0, 0
FROM p, generate_series(p.first, p.last) AS g
"""
TIMERS_SQL = f"""
INSERT INTO timers (complaint_id, subject, step_id, level, due_at, status, fired_at, attempts)
{PARAMS_CTE}
SELECT g, 'TS-' || g || ':handle:1', 'handle', level.name,
       CASE WHEN NOT p.open THEN p.now - (g % 365 + 5) * interval '1 day' + level.after
            WHEN level.name = 'breached' AND g < p.due_below
                 THEN p.now - (1 + g % 3600) * interval '1 second'
            ELSE p.now + interval '1 hour' + (g % 86400) * interval '1 second' + level.after
       END,
       CASE WHEN p.open THEN 'pending' WHEN level.name = 'breached' THEN 'fired'
            ELSE 'cancelled' END,
       CASE WHEN NOT p.open AND level.name = 'breached'
            THEN p.now - (g % 365 + 5) * interval '1 day' + level.after END,
       0
FROM p, generate_series(p.first, p.last) AS g,
     (VALUES ('breached', interval '24 hours'), ('escalated', interval '48 hours'))
         AS level(name, after)
"""


async def insert_complaints(
    engine: Any, *, first: int, count: int, open_: bool, due: int, now: datetime, chunk: int
) -> None:
    """`count` complaints from id `first` and their two timers each, in chunks (progress shown)."""
    from sqlalchemy import text

    done = 0
    started = time.monotonic()
    kind = "open" if open_ else "closed"
    while done < count:
        size = min(chunk, count - done)
        lo, hi = first + done, first + done + size - 1
        # the first `due` open complaints of this call have their breached timer due
        params = {"first": lo, "last": hi, "open": open_, "now": now, "due_below": first + due}
        async with engine.begin() as conn:
            await conn.execute(text(COMPLAINTS_SQL), params)
            await conn.execute(text(TIMERS_SQL), params)
        done += size
        rate = done / max(time.monotonic() - started, 1e-9)
        log(f"  {kind} complaints: {done:,}/{count:,} ({rate:,.0f}/s, timers x2)")


async def vacuum(engine: Any) -> None:
    from sqlalchemy import text

    log("  VACUUM ANALYZE complaints, timers")
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE complaints"))
        await conn.execute(text("VACUUM ANALYZE timers"))


async def table_counts(engine: Any, now: datetime) -> dict[str, Any]:
    from sqlalchemy import text

    async with engine.connect() as conn:
        complaints = await conn.scalar(text("SELECT count(*) FROM complaints"))
        timers = dict(
            (await conn.execute(text("SELECT status, count(*) FROM timers GROUP BY status")))
            .tuples()
            .all()
        )
        due = await conn.scalar(
            text("SELECT count(*) FROM timers WHERE status = 'pending' AND due_at <= :now"),
            {"now": now},
        )
        size = await conn.scalar(text("SELECT pg_size_pretty(pg_total_relation_size('timers'))"))
    return {"complaints": complaints, "timers": timers, "due": due, "timers_size": size}


# --- the measurements ----------------------------------------------------------------------------


def claim_sql(engine: Any, now: datetime, limit: int) -> str:
    """The claim's SQL exactly as claim_due sends it (literal binds, for EXPLAIN)."""
    from bot.delivery.timers import claim_statement

    stmt = claim_statement(now, limit)
    compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    return str(compiled)


async def claim_and_mark(session: Any, now: datetime, limit: int) -> list[Any]:
    """What a tick's batch does before its fires: claim_due, then one UPDATE marking them fired."""
    from bot.delivery.timers import claim_due, mark_fired

    timers = await claim_due(session, now, limit)
    await mark_fired(session, timers, now)
    return timers


async def orm_claim(session: Any, now: datetime, limit: int) -> list[Any]:
    """The claim before issue 10's change, for comparison: Timer ORM objects, locked."""
    from sqlalchemy import select

    from storage.models import Timer

    stmt = (
        select(Timer)
        .where(Timer.status == "pending", Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def explain(engine: Any, sql: str, repeat: int) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of the claim, `repeat` times: the last plan and the median of
    the server's execution times (rolled back: nothing stays locked or changed)."""
    from sqlalchemy import text

    executions = []
    lines: list[str] = []
    async with engine.connect() as conn:
        for _ in range(repeat + 1):
            plan = await conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}"))
            lines = [row[0] for row in plan]
            await conn.rollback()
            executions.append(float(lines[-1].split(":")[1].split()[0]))  # "Execution Time: x ms"
    return {"plan": lines, "server_median_ms": statistics.median(executions[1:])}


async def time_claims(
    db: Any, now: datetime, limit: int, repeat: int, claim: Any = None
) -> dict[str, Any]:
    """claim_due(limit) `repeat` times (after one warm-up), each in a rolled-back transaction."""
    from bot.delivery.timers import claim_due

    claim = claim or claim_due
    times = []
    claimed = 0
    for attempt in range(repeat + 1):
        async with db._write() as session:  # noqa: SLF001 - a transaction we roll back
            async with session.begin() as transaction:
                started = time.perf_counter()
                timers = await claim(session, now, limit)
                elapsed = (time.perf_counter() - started) * 1000
                claimed = len(timers)
                await transaction.rollback()
        if attempt:  # the first run warms the connection and the plan cache
            times.append(elapsed)
    return {
        "limit": limit,
        "claimed": claimed,
        "median_ms": statistics.median(times),
        "p95_ms": _p95(times),
        "min_ms": min(times),
        "runs": len(times),
    }


async def time_tick(db: Any, engine: Any, now: datetime, *, writes: bool) -> dict[str, Any]:
    """One whole TimerTicker.tick(); then the timers are reset (and the notices deleted).

    The fire does nothing, or (`writes`) adds one outbox row, the least a real fire writes: a
    fire that sends no SQL costs no savepoint (SQLAlchemy opens one at the first statement).
    """
    from sqlalchemy import text

    from bot.delivery.timers import TimerTicker
    from storage.models import OutboxMessage

    async def fire(session: Any, timer: Any) -> None:
        if writes:
            session.add(
                OutboxMessage(
                    idempotency_key=f"bench:{timer.id}",
                    kind="text",
                    channel="staff",
                    target="user:supervisor",
                    payload={"text": f"{timer.subject} {timer.level}"},
                    status="pending",
                    attempts=0,
                    due_at=now,
                    created_at=now,
                )
            )

    async with engine.connect() as conn:
        due_ids = list(
            await conn.scalars(
                text("SELECT id FROM timers WHERE status = 'pending' AND due_at <= :now"),
                {"now": now},
            )
        )
    ticker = TimerTicker(db, fire, clock=lambda: now)
    started = time.perf_counter()
    fired = await ticker.tick()
    elapsed = (time.perf_counter() - started) * 1000
    async with engine.begin() as conn:  # due again, for the next measurement
        await conn.execute(
            text("UPDATE timers SET status = 'pending', fired_at = NULL WHERE id = ANY(:ids)"),
            {"ids": due_ids},
        )
        await conn.execute(text("DELETE FROM outbox WHERE idempotency_key LIKE 'bench:%'"))
    return {"fired": fired, "ms": elapsed, "batches": -(-fired // BATCH)}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def measure(db: Any, engine: Any, now: datetime, due: int, repeat: int) -> dict[str, Any]:
    await vacuum(engine)
    out: dict[str, Any] = {"rows": await table_counts(engine, now)}
    log(f"  rows: {out['rows']}")
    for limit in sorted({BATCH, due}):
        log(f"  claim_due(limit={limit}) x {repeat}")
        out[f"claim_{limit}"] = await time_claims(db, now, limit, repeat)
        out[f"claim_{limit}"] |= await explain(engine, claim_sql(engine, now, limit), repeat)
        log(f"  for comparison, the former ORM claim(limit={limit}) x {repeat}")
        out[f"orm_claim_{limit}"] = await time_claims(db, now, limit, repeat, orm_claim)
    # Last: these write (rolled back), leaving dead row versions behind.
    for limit in sorted({BATCH, due}):
        log(f"  claim_due + mark_fired(limit={limit}) x {repeat}")
        out[f"with_mark_{limit}"] = await time_claims(db, now, limit, repeat, claim_and_mark)
    await vacuum(engine)
    for key, writes in (("tick", False), ("tick_write", True)):
        log(f"  a whole tick ({'one outbox row per timer' if writes else 'fire does nothing'})")
        ticks = [await time_tick(db, engine, now, writes=writes) for _ in range(3)]
        await vacuum(engine)  # the reset left dead rows behind
        out[key] = min(ticks, key=lambda t: t["ms"]) | {"all_ms": [t["ms"] for t in ticks]}
    return out


# --- the run ---------------------------------------------------------------------------------


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage.db import Database
    from storage.migrate import upgrade

    name = f"bench_sla_{os.getpid()}"
    admin_url, url = urls(name)
    await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin(admin_url, f'CREATE DATABASE "{name}"')
    log(f"database {name}: migrating")
    await asyncio.to_thread(upgrade, url)
    engine = create_async_engine(url)
    db = Database(url)
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "args": vars(args),
        "now": now.isoformat(),
    }
    try:
        async with engine.connect() as conn:
            from sqlalchemy import text

            result["postgres"] = await conn.scalar(text("SHOW server_version"))
        open_count = max(args.due, int(args.complaints * OPEN_SHARE))
        closed = args.complaints - open_count
        log(f"base: {closed:,} closed + {open_count:,} open complaints ({args.due:,} due)")
        await insert_complaints(
            engine, first=1, count=open_count, open_=True, due=args.due, now=now, chunk=args.chunk
        )
        await insert_complaints(
            engine,
            first=open_count + 1,
            count=closed,
            open_=False,
            due=0,
            now=now,
            chunk=args.chunk,
        )
        result["base"] = await measure(db, engine, now, args.due, args.repeat)
        report_phase("base", result["base"])

        more = closed * (args.closed_factor - 1)
        log(f"more closed rows: +{more:,} closed complaints ({args.closed_factor}x the closed)")
        await insert_complaints(
            engine,
            first=args.complaints + 1,
            count=more,
            open_=False,
            due=0,
            now=now,
            chunk=args.chunk,
        )
        result["more_closed"] = await measure(db, engine, now, args.due, args.repeat)
        report_phase(f"{args.closed_factor}x closed", result["more_closed"])
    finally:
        await db.dispose()
        await engine.dispose()
        if not args.keep:
            await admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"database {name} dropped")
    return result


def report_phase(label: str, phase: dict[str, Any]) -> None:
    rows = phase["rows"]
    print(f"\n## {label}: {rows['complaints']:,} complaints, timers {rows['timers']}")
    print(f"timers table {rows['timers_size']}, {rows['due']:,} due")
    for key in sorted(
        (k for k in phase if k.startswith("claim_")), key=lambda k: phase[k]["limit"]
    ):
        claim = phase[key]
        print(
            f"claim_due(limit={claim['limit']}): {claim['claimed']} claimed, median "
            f"{claim['median_ms']:.2f} ms, p95 {claim['p95_ms']:.2f} ms ({claim['runs']} runs); "
            f"server execution median {claim['server_median_ms']:.3f} ms"
        )
        print("  " + "\n  ".join(claim["plan"]))
    for prefix, what in (
        ("with_mark_", "claim_due + mark_fired"),
        ("orm_claim_", "former ORM claim"),
    ):
        for key in sorted(k for k in phase if k.startswith(prefix)):
            claim = phase[key]
            print(
                f"{what}(limit={claim['limit']}): median {claim['median_ms']:.2f} ms, "
                f"p95 {claim['p95_ms']:.2f} ms ({claim['runs']} runs)"
            )
    for key, what in (("tick", "fire does nothing"), ("tick_write", "one outbox row per timer")):
        tick = phase[key]
        print(
            f"tick ({what}): {tick['fired']} fired in {tick['batches']} batches, "
            f"{tick['ms']:.0f} ms (best of 3)"
        )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def verdict(result: dict[str, Any], due: int) -> list[str]:
    """Plain sentences: each target, met or not."""
    lines = []
    for key in (f"claim_{BATCH}", f"claim_{due}"):
        if key not in result["base"]:
            continue
        base, more = result["base"][key], result["more_closed"][key]
        index = "ix_timers_status_due" in "\n".join(base["plan"] + more["plan"])
        wall = (more["median_ms"] - base["median_ms"]) / base["median_ms"]
        server = (more["server_median_ms"] - base["server_median_ms"]) / base["server_median_ms"]
        lines.append(
            f"{key}: claim_due {base['median_ms']:.2f} ms median (target < {TARGET_CLAIM_MS:g} "
            f"ms: {_met(base['median_ms'] < TARGET_CLAIM_MS)}); index scan on "
            f"ix_timers_status_due: {'yes' if index else 'NO'}. With 10x closed rows: "
            f"{more['median_ms']:.2f} ms ({wall:+.0%}), server execution "
            f"{base['server_median_ms']:.3f} -> {more['server_median_ms']:.3f} ms "
            f"({server:+.0%}); target < +{TARGET_SLOWDOWN:.0%}: wall "
            f"{_met(wall < TARGET_SLOWDOWN)}, server {_met(server < TARGET_SLOWDOWN)}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=5_000)
    parser.add_argument("--closed-factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--chunk", type=int, default=250_000)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    result["verdict"] = verdict(result, args.due)
    print("\n" + "\n".join(result["verdict"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
