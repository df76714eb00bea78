"""The shared Jinja2 environment for server pages (console, sign-in; the playground may use it).

Autoescaping is on for every template; a missing variable fails loudly (StrictUndefined), so a
typo in a template is a test failure rather than an empty cell on a page.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"

# Headers for every HTML page: nothing inline runs, nothing loads from elsewhere.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


@cache
def environment() -> Environment:
    """Templates from bot/web/templates, autoescaped, strict about undefined names."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_text(template: str, context: Mapping[str, Any]) -> str:
    """The template rendered with `context`."""
    return environment().get_template(template).render(**context)


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """An HTML response with the page headers (CSP: scripts and styles only from this service)."""
    return web.Response(
        text=render_text(template, context),
        status=status,
        content_type="text/html",
        headers={**PAGE_HEADERS, **(headers or {})},
    )
