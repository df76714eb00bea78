"""Chart rendering in a pool of child processes that are recycled after a number of charts.

matplotlib leaks memory per figure and Agg serialises on a global lock, so drawing happens in
"spawn" children (never forked from a process holding event-loop or database state) and each child
is replaced after `max_tasks_per_child` charts. The parent never imports matplotlib.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import resource
import time
import warnings
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from bot.reports.chart_model import ChartData
from bot.reports.errors import ChartRenderError, ReportError
from bot.reports.fonts import find_cjk_font

log = logging.getLogger(__name__)


class ChartWarning(UserWarning):
    """A warning raised while drawing in the child (e.g. a glyph missing from the font)."""


@dataclass(frozen=True)
class RenderedChart:
    chart: str
    png: bytes
    warnings: tuple[str, ...]  # warnings the child saw while drawing (non-strict mode)
    child_peak_rss: int  # bytes: the child's peak resident set size so far
    child_pid: int
    seconds: float  # wall time of the round trip as the caller saw it (queueing included)
    draw_seconds: float  # time the child spent drawing and encoding the PNG


def _peak_rss() -> int:
    """This process's peak resident set size in bytes.

    /proc's VmHWM belongs to the current address space; getrusage's ru_maxrss would also count
    the parent's pages the child inherited between fork and exec (spawn forks, then execs).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _child_setup(font_path: str) -> None:
    """Runs once in each new child: load matplotlib and the CJK font."""
    from bot.reports import drawing

    drawing.setup(font_path)


ChildResult = tuple[bytes, tuple[str, ...], int, int, float]


def _child_render(data: ChartData, strict: bool) -> ChildResult:
    """Draw one chart in the child; strict turns every warning (missing glyph…) into an error."""
    from bot.reports import drawing

    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error" if strict else "always")
        png = drawing.draw_png(data)
    drawn = time.perf_counter() - started
    return png, tuple(str(w.message) for w in caught), _peak_rss(), os.getpid(), drawn


def _child_noop() -> int:
    return _peak_rss()


class ChartRenderer:
    """Renders ChartData to PNG bytes in recycled child processes.

    strict=True makes any warning in the child (above all matplotlib's "Glyph … missing from
    font") fail the render; otherwise warnings come back and are re-issued as ChartWarning.
    """

    def __init__(
        self,
        *,
        font_path: str | Path | None = None,
        workers: int = 1,
        max_tasks_per_child: int = 50,
        strict: bool = False,
        timeout: float = 60.0,
    ):
        self.font_path = font_path
        self.workers = workers
        self.max_tasks_per_child = max_tasks_per_child
        self.strict = strict
        self.timeout = timeout
        self._pool: ProcessPoolExecutor | None = None
        self._font: Path | None = None
        # At most `workers` charts in the pool at once, one gate per event loop. On Python
        # < 3.13 a queued backlog plus max_tasks_per_child deadlocks the pool: a recycled
        # worker is not replaced (CPython gh-115634). Without a backlog it always is.
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def start(self) -> None:
        """Find the font (FontMissing if none) and create the pool; children spawn on first use."""
        if self._pool is not None:
            return
        self._font = find_cjk_font(self.font_path)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            max_tasks_per_child=self.max_tasks_per_child,
            initializer=_child_setup,
            initargs=(str(self._font),),
        )

    async def warm_up(self) -> int:
        """Spawn a child and load matplotlib now; returns the child's peak RSS in bytes."""
        async with self._gate():
            return await asyncio.wrap_future(self._running().submit(_child_noop))

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.workers)
        return gate

    async def render(self, data: ChartData) -> bytes:
        """The chart as PNG bytes (800 x 450)."""
        return (await self.render_chart(data)).png

    async def render_chart(self, data: ChartData) -> RenderedChart:
        """Render with details: warnings seen, the child's peak memory, the time taken."""
        started = time.perf_counter()
        try:
            png, seen, peak, pid, drawn = await self._submit(data)
        except BrokenProcessPool:
            # A child died (killed for memory, crashed): start a fresh pool and try once more.
            log.warning(
                "chart child process died while drawing %s; restarting the pool", data.chart
            )
            self._restart()
            try:
                png, seen, peak, pid, drawn = await self._submit(data)
            except BrokenProcessPool as exc:
                raise ChartRenderError(data.chart, "the chart process died twice") from exc
        except TimeoutError as exc:
            self._restart()
            raise ChartRenderError(data.chart, f"no answer within {self.timeout:.0f} s") from exc
        except ReportError:
            raise
        except Exception as exc:  # an error raised in the child comes back pickled
            raise ChartRenderError(data.chart, f"{type(exc).__name__}: {exc}") from exc
        for message in seen:
            warnings.warn(ChartWarning(f"chart {data.chart}: {message}"), stacklevel=2)
        return RenderedChart(data.chart, png, seen, peak, pid, time.perf_counter() - started, drawn)

    async def _submit(self, data: ChartData) -> ChildResult:
        async with self._gate():
            future = self._running().submit(_child_render, data, self.strict)
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)

    def _running(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self.start()
        assert self._pool is not None
        return self._pool

    def _restart(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            # A stuck child would keep shutdown() waiting; end our own children first.
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
        self.start()

    def close(self) -> None:
        """Stop the children (waits for charts being drawn)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def __aenter__(self) -> ChartRenderer:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.close)
