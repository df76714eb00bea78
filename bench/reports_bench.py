"""Reports benchmark: KPI queries, chart data and chart rendering on a large synthetic database.

    .venv/bin/python bench/reports_bench.py --complaints 1000000             # PostgreSQL
    .venv/bin/python bench/reports_bench.py --complaints 100000 \\
        --database-url sqlite+aiosqlite:///data/bench_reports.db             # SQLite

PostgreSQL: creates its own database (default "bench_reports" on TEST_DATABASE_URL's server),
never the test database, and drops it at the end (--keep keeps it, --reuse skips loading when
it is already filled). Targets: a weekly digest's queries < 2 s in all, each chart < 1 s, the
render child < 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
TARGETS = {"digest_queries": 2.0, "chart": 1.0, "child_rss_mb": 250.0}
KPI_STEPS = (
    "received (by type, product)",
    "closed + FCR",
    "first response p50/p90",
    "resolution p50/p90 + SLA",
    "CSAT",
    "open now by status/age",
    "current breaches",
)
DIGEST_CHARTS = ("type_share", "weekly_trend", "department_handling_time", "status_table")


def default_url() -> str:
    from sqlalchemy.engine import make_url

    base = make_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    )
    return base.set(database="bench_reports").render_as_string(hide_password=False)


def log(message: str) -> None:
    print(message, flush=True)


def remove_sqlite_files(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


async def prepare_database(url: str, *, reuse: bool) -> None:
    """Create the bench database (PostgreSQL) or remove the old file (SQLite)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    name = parsed.database or ""
    if "bench" not in Path(name).name:
        raise SystemExit(
            f"refusing to use {name!r}: the bench database's name must contain 'bench'"
        )
    if parsed.get_backend_name() == "sqlite":
        if not reuse:
            remove_sqlite_files(name)
        return
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        exists = await conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        )
        if exists and not reuse:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()


async def drop_database(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.ext.asyncio import create_async_engine

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        remove_sqlite_files(parsed.database or "")
        return
    admin = create_async_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    await admin.dispose()


async def load(db: Any, total: int) -> None:
    """Insert `total` complaints with their timers and answers (COPY on PostgreSQL)."""
    import json

    from reports_data import (
        ANSWER_COLUMNS,
        BENCH_NOW,
        COMPLAINT_COLUMNS,
        TIMER_COLUMNS,
        ComplaintFactory,
        as_dicts,
    )
    from sqlalchemy import insert

    from storage.models import Complaint, SurveyAnswer, Timer

    factory = ComplaintFactory(total, BENCH_NOW)
    started = time.perf_counter()
    done = timers = answers = 0
    values_at = COMPLAINT_COLUMNS.index("values")
    for batch in factory.batches(20_000 if db.is_sqlite else 50_000):
        if db.is_sqlite:
            async with db.write() as session:
                await session.execute(
                    insert(Complaint.__table__), as_dicts(COMPLAINT_COLUMNS, batch.complaints)
                )
                await session.execute(
                    insert(Timer.__table__), as_dicts(TIMER_COLUMNS, batch.timers)
                )
                if batch.answers:
                    await session.execute(
                        insert(SurveyAnswer.__table__), as_dicts(ANSWER_COLUMNS, batch.answers)
                    )
        else:
            rows = [
                (
                    *row[:values_at],
                    json.dumps(row[values_at], ensure_ascii=False),
                    *row[values_at + 1 :],
                )
                for row in batch.complaints
            ]
            async with db.write_engine.begin() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                await raw.copy_records_to_table(
                    "complaints", records=rows, columns=COMPLAINT_COLUMNS
                )
                await raw.copy_records_to_table(
                    "timers", records=batch.timers, columns=TIMER_COLUMNS
                )
                await raw.copy_records_to_table(
                    "survey_answers", records=batch.answers, columns=ANSWER_COLUMNS
                )
        done += len(batch.complaints)
        timers += len(batch.timers)
        answers += len(batch.answers)
        rate = done / (time.perf_counter() - started)
        log(
            f"  loaded {done:,} / {total:,} complaints ({timers:,} timers, "
            f"{answers:,} answers), {rate:,.0f}/s"
        )
    log(f"  load: {time.perf_counter() - started:.1f} s")


async def settle(db: Any) -> None:
    """VACUUM ANALYZE (PostgreSQL) / ANALYZE (SQLite): the steady state autovacuum keeps.

    Without it the visibility map is empty after a bulk load and no index-only scan is possible.
    """
    from sqlalchemy import text

    started = time.perf_counter()
    async with db.write_engine.connect() as conn:
        if db.is_sqlite:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
        else:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE"))
    what = "ANALYZE" if db.is_sqlite else "VACUUM ANALYZE"
    log(f"  {what}: {time.perf_counter() - started:.1f} s")


class StatementClock:
    """Times every statement the engine runs (SQLAlchemy cursor events)."""

    def __init__(self, engine: Any):
        from sqlalchemy import event

        self.records: list[tuple[str, Any, float]] = []
        self.enabled = False

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def before(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            conn.info["bench_started"] = time.perf_counter()

        @event.listens_for(engine.sync_engine, "after_cursor_execute")
        def after(
            conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
        ) -> None:
            if self.enabled and not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
                self.records.append(
                    (statement, parameters, time.perf_counter() - conn.info["bench_started"])
                )

    def take(self) -> list[tuple[str, Any, float]]:
        records, self.records = self.records, []
        return records


async def timed(repeat: int, action: Callable[[], Awaitable[T]]) -> tuple[list[float], T]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await action()
        times.append(time.perf_counter() - started)
    return times, result


def summary(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):.3f} s, first {times[0]:.3f} s, max {max(times):.3f} s"
    )


async def explain(db: Any, records: list[tuple[str, Any, float]]) -> None:
    """Print the plan of each recorded statement (EXPLAIN ANALYZE on PostgreSQL)."""
    async with db.read_engine.connect() as conn:
        for index, (statement, parameters, _seconds) in enumerate(records):
            name = KPI_STEPS[index] if len(records) == len(KPI_STEPS) else f"statement {index}"
            log(f"\n--- {name}")
            if db.is_sqlite:
                prefix, params = "EXPLAIN QUERY PLAN ", parameters
            else:
                prefix, params = "EXPLAIN (ANALYZE, BUFFERS) ", tuple(parameters)
            result = await conn.exec_driver_sql(prefix + statement, params)
            for row in result:
                log("    " + " | ".join(str(v) for v in row))


async def measure(db: Any, args: argparse.Namespace) -> dict[str, Any]:
    from reports_data import BENCH_NOW

    from bot.config.model import CHART_NAMES, DigestConfig
    from bot.reports import ChartRenderer, build_digest, chart_data, compute_kpis, parse_period

    period = parse_period(args.period, SHANGHAI)
    clock = StatementClock(db.read_engine)
    results: dict[str, Any] = {"charts": {}}

    async def kpis() -> Any:
        async with db.read() as session:
            return await compute_kpis(session, period, now=BENCH_NOW)

    clock.enabled = True
    kpi_times, report = await timed(args.repeat, kpis)
    statements = clock.take()
    clock.enabled = False
    per_run = len(statements) // args.repeat
    last_run = statements[-per_run:]
    results["kpis"] = kpi_times
    results["kpi_statements"] = [
        (KPI_STEPS[i] if per_run == len(KPI_STEPS) else f"statement {i}",
         statistics.median(s[2] for s in statements[i::per_run]))
        for i in range(per_run)
    ]  # fmt: skip
    log(f"compute_kpis {period.label}: {summary(kpi_times)}")
    for name, seconds in results["kpi_statements"]:
        log(f"    {name:<30} {seconds:.3f} s")
    log(f"    received {report.current.received}, closed {report.current.closed}, "
        f"open now {report.open_now}, breaches {report.current_breaches}")  # fmt: skip
    if args.explain:
        await explain(db, last_run)

    renderer = ChartRenderer(strict=True)
    renderer.start()
    try:
        warm_started = time.perf_counter()
        results["child_rss_after_start"] = await renderer.warm_up()
        results["child_start"] = time.perf_counter() - warm_started
        log(f"render child started: {results['child_rss_after_start'] / 2**20:.0f} MB RSS")
        peak = results["child_rss_after_start"]
        for chart in CHART_NAMES:

            async def query(chart: str = chart) -> Any:
                async with db.read() as session:
                    return await chart_data(session, chart, period, now=BENCH_NOW)

            data_times, data = await timed(args.repeat, query)
            render_times: list[float] = []
            for _ in range(args.repeat):
                rendered = await renderer.render_chart(data)
                render_times.append(rendered.seconds)
                peak = max(peak, rendered.child_peak_rss)
            results["charts"][chart] = (data_times, render_times, len(rendered.png))
            log(
                f"chart {chart:<26} data {summary(data_times)}; render {summary(render_times)}; "
                f"child peak {peak / 2**20:.0f} MB"
            )
        results["child_peak_rss"] = peak

        digest = DigestConfig(name="客服周报", group="g", charts=list(DIGEST_CHARTS))
        out = Path(args.out) if args.out else None

        async def whole_digest() -> Any:
            async with db.read() as session:
                return await build_digest(session, digest, period, now=BENCH_NOW, renderer=renderer)

        digest_times, built = await timed(args.repeat, whole_digest)
        results["digest"] = digest_times
        log(f"build_digest (4 charts, end to end): {summary(digest_times)}")
        if out is not None:
            built.write_to(out)
            log(f"digest written to {out}")
        log("\n" + built.markdown)
    finally:
        renderer.close()
    return results


def report(results: dict[str, Any], args: argparse.Namespace, url: str) -> None:
    med = statistics.median
    kpis = med(results["kpis"])
    charts = results["charts"]
    digest_queries = kpis + sum(med(charts[c][0]) for c in DIGEST_CHARTS)
    all_queries = kpis + sum(med(d) for d, _, _ in charts.values())
    rss_mb = results["child_peak_rss"] / 1024 / 1024
    verdict = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    log("\n| measure | median | target |")
    log("|---|---|---|")
    log(f"| compute_kpis (week, with previous week) | {kpis:.3f} s | |")
    for chart, (data, render, size) in charts.items():
        total = med(data) + med(render)
        log(f"| {chart}: data {med(data):.3f} s + render {med(render):.3f} s ({size // 1024} KB) "
            f"| {total:.3f} s | < 1 s {verdict(total < TARGETS['chart'])} |")  # fmt: skip
    log(f"| weekly digest queries (KPIs + 4 default charts) | {digest_queries:.3f} s | "
        f"< 2 s {verdict(digest_queries < TARGETS['digest_queries'])} |")  # fmt: skip
    log(f"| KPIs + all 7 charts' queries | {all_queries:.3f} s | |")
    log(
        "| build_digest end to end (4 charts, rendering overlapped) | "
        f"{med(results['digest']):.3f} s | |"
    )
    log(
        f"| render child peak RSS | {rss_mb:.0f} MB | "
        f"< 250 MB {verdict(rss_mb < TARGETS['child_rss_mb'])} |"
    )
    log(f"| render child start (spawn + matplotlib + font) | {results['child_start']:.2f} s | |")
    log(f"\n{args.complaints:,} complaints, repeat {args.repeat}, {url.split('://')[0]}")


async def run(args: argparse.Namespace) -> None:
    from storage.db import Database
    from storage.migrate import upgrade

    url = args.database_url or default_url()
    await prepare_database(url, reuse=args.reuse)
    db = None
    try:
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        from sqlalchemy import func, select

        from storage.models import Complaint

        async with db.read() as session:
            existing = await session.scalar(select(func.count()).select_from(Complaint))
        if existing and args.reuse:
            log(f"reusing {existing:,} complaints")
            args.complaints = existing
        else:
            log(f"loading {args.complaints:,} complaints into {url.split('@')[-1]}")
            await load(db, args.complaints)
        await settle(db)
        results = await measure(db, args)
        report(results, args, url)
    finally:
        if db is not None:
            await db.dispose()
        if not args.keep:
            await drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", help="default: bench_reports on TEST_DATABASE_URL's server"
    )
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--period", default="2026-W47", help="the digest period measured")
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a filled bench database")
    parser.add_argument("--explain", action="store_true", help="print the KPI queries' plans")
    parser.add_argument("--out", help="write the last digest (markdown + PNGs) here")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
