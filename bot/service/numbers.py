"""Complaint numbers: prefix, local date and a per-day sequence (TS20261123-0001)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import table_text
from storage.models import NumberSequence

# Compiled once per dialect (see storage.db.table_text); the same SQL on both databases.
_NEXT = table_text(
    "INSERT INTO number_sequences (day, last) VALUES (:day, 1) "
    "ON CONFLICT (day) DO UPDATE SET last = number_sequences.last + 1 RETURNING last",
    NumberSequence.__table__,
)


async def next_complaint_number(session: AsyncSession, prefix: str, day: date) -> str:
    """Hand out the next number for `day`; atomic on both databases (one upsert, no read first)."""
    key = f"{prefix}{day:%Y%m%d}"
    last = (await session.execute(_NEXT, {"day": key})).scalar_one()
    return f"{key}-{last:04d}"
