"""Where the CJK font for charts lives (paths only: the parent process never loads matplotlib)."""

from __future__ import annotations

from pathlib import Path

from bot.reports.errors import FontMissing

# (path, Debian package that installs it), in order of preference.
CJK_FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "fonts-noto-cjk"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "fonts-wqy-zenhei"),
)


def find_cjk_font(explicit: str | Path | None = None) -> Path:
    """The font file charts use: `explicit` when given, else the first installed candidate."""
    candidates = [str(explicit)] if explicit else [path for path, _ in CJK_FONT_CANDIDATES]
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file():
            return path
    raise FontMissing(tuple(candidates))
