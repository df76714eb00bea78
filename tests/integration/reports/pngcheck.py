"""PNG checks for chart tests: header and size parsed by hand, pixels through Pillow if present."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import pytest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PngFacts:
    width: int
    height: int
    distinct_colours: int
    ink_share: float  # share of pixels that differ from the most common (background) colour


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, checking the signature and the chunk's CRC."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    body = data[16 : 16 + length]
    (crc,) = struct.unpack(">I", data[16 + length : 20 + length])
    assert zlib.crc32(kind + body) == crc, "IHDR CRC mismatch"
    width, height = struct.unpack(">II", body[:8])
    return width, height


def inspect_png(data: bytes) -> PngFacts:
    """Decode the PNG (Pillow ships with matplotlib) and measure how much is drawn on it."""
    image_module = pytest.importorskip("PIL.Image")
    width, height = png_size(data)
    image = image_module.open(io.BytesIO(data)).convert("RGB")
    assert image.size == (width, height)
    colours = image.getcolors(maxcolors=width * height) or []
    background = max(count for count, _ in colours)
    return PngFacts(width, height, len(colours), 1 - background / (width * height))


def assert_real_chart(data: bytes) -> PngFacts:
    """800 x 450, more than one flat colour, and a visible amount of ink."""
    facts = inspect_png(data)
    assert (facts.width, facts.height) == (800, 450)
    assert facts.distinct_colours > 10, "the image is (nearly) one flat colour"
    assert facts.ink_share > 0.01, "the image is blank"
    return facts
