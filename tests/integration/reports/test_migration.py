"""Migration 0003_reports: the indexes the report queries rely on exist on both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from storage.db import Database

EXPECTED = {
    "complaints": {
        "ix_complaints_created_at",
        "ix_complaints_first_response_at",
        "ix_complaints_resolved_at",
        "ix_complaints_closed_at",
        "ix_complaints_open_step",
    },
    "survey_answers": {"ix_survey_answers_answered_at"},
    "timers": {"ix_timers_breached_fired"},
}


async def test_report_indexes_exist_after_migration(db: Database) -> None:
    def index_names(connection: Any) -> dict[str, set[str]]:
        inspector = inspect(connection)
        return {table: {i["name"] for i in inspector.get_indexes(table)} for table in EXPECTED}

    async with db.read_engine.connect() as connection:
        found = await connection.run_sync(index_names)
    for table, names in EXPECTED.items():
        assert names <= found[table], f"{table}: missing {names - found[table]}"
