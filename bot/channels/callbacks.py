"""What every HTTP callback does before trusting a platform's body: cap it, and parse XML safely.

WeChat and WeCom post XML. The interpreter's expat may predate the billion-laughs fixes, so a
document type declaration or an entity is refused before any parsing (defusedxml), and the body
is capped while it streams in, not after it is in memory.
"""

from __future__ import annotations

import logging
from xml.etree.ElementTree import Element, tostring

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from bot.errors import BotError

log = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 64 * 1024


class CallbackRejected(BotError):
    """A platform delivery we refuse; `status` is the HTTP answer, `reason` goes to the log once."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")


async def read_capped_body(request: web.Request, limit: int = MAX_CALLBACK_BYTES) -> bytes:
    """The request body, refusing (413) anything over `limit` bytes without reading it all."""
    if request.content_length is not None and request.content_length > limit:
        raise CallbackRejected(413, f"body of {request.content_length} bytes is over {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(8192):
        size += len(chunk)
        if size > limit:
            raise CallbackRejected(413, f"body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_flat_xml(body: bytes | str) -> dict[str, str]:
    """The root element's children as {tag: text}; refuses DTDs, entities and broken XML (400).

    Nested elements (WeCom's SelectedItems) are kept as their raw XML under the tag, for the
    adapter to read with `parse_xml_element`.
    """
    root = parse_xml_element(body)
    out: dict[str, str] = {}
    for child in root:
        if len(child):
            out[child.tag] = tostring(child, encoding="unicode")
        else:
            out[child.tag] = (
                (child.text or "").strip() if child.tag != "Content" else child.text or ""
            )
    return out


def parse_xml_element(body: bytes | str) -> Element:
    """Parse XML with every entity and DTD refused."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = body[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in body.upper():
        raise CallbackRejected(400, "XML with a DOCTYPE or ENTITY declaration")
    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CallbackRejected(400, f"unsafe XML: {type(exc).__name__}") from exc
    except Exception as exc:  # ParseError and friends: the body is not XML
        raise CallbackRejected(400, f"malformed XML: {type(exc).__name__}") from exc


def rejected_response(channel: str, exc: CallbackRejected) -> web.Response:
    """Log the reason once (never the payload) and answer with the status."""
    log.warning("callback for channel %s refused: %s", channel, exc.reason)
    return web.Response(status=exc.status, text=exc.reason)
