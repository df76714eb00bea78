"""Complaint numbers: prefix, local date and a per-day sequence (TS20261123-0001)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import NumberSequence


async def next_complaint_number(session: AsyncSession, prefix: str, day: date) -> str:
    """Hand out the next number for `day`; atomic on both databases (one upsert, no read first)."""
    key = f"{prefix}{day:%Y%m%d}"
    dialect = session.bind.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(NumberSequence).values(day=key, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[NumberSequence.day], set_={"last": NumberSequence.last + 1}
    ).returning(NumberSequence.last)
    last = (await session.execute(stmt)).scalar_one()
    return f"{key}-{last:04d}"
