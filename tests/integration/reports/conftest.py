"""A chart renderer shared by a test module: spawning a child and loading matplotlib costs ~1 s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.reports import ChartRenderer


@pytest.fixture(scope="module")
def renderer() -> Iterator[ChartRenderer]:
    """Strict: a warning while drawing (a glyph missing from the font) fails the render."""
    chart_renderer = ChartRenderer(strict=True, max_tasks_per_child=20)
    chart_renderer.start()
    yield chart_renderer
    chart_renderer.close()
