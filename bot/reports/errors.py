"""Errors raised by the report engine."""

from __future__ import annotations

from bot.errors import BotError


class ReportError(BotError):
    """A report cannot be computed or drawn as asked (bad period, filter or chart name)."""


class FontMissing(ReportError):
    """No CJK font file is installed, so Chinese labels would render as empty boxes."""

    def __init__(self, looked_in: tuple[str, ...]):
        self.looked_in = looked_in
        super().__init__(
            "no CJK font found for charts (looked for "
            + ", ".join(looked_in)
            + "); install the Debian package fonts-noto-cjk (or fonts-wqy-zenhei), "
            "or pass font_path= to ChartRenderer"
        )


class ChartRenderError(ReportError):
    """The chart child process failed to draw a chart; `chart` names it."""

    def __init__(self, chart: str, message: str):
        self.chart = chart
        super().__init__(f"chart {chart}: {message}")
