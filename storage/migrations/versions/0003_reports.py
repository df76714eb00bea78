"""reports: indexes for the KPI and chart queries

Revision ID: 0003_reports
Revises: 0002_core
Create Date: 2026-11-25 10:00:00

Every report figure counts the events of one period: complaints created, first answered, resolved
or closed in it, surveys answered in it. Without an index on each of those timestamps each figure
is a full scan of complaints (bench/README.md, "Reports": before/after on 1,000,000 complaints).
The partial index on timers holds only fired 'breached' timers: the SLA figures and the current
breaches read it instead of every timer row; the partial index on open complaints gives the
current breaches their (id, current_step) pairs without reading the table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_reports"
down_revision = "0002_core"
branch_labels = None
depends_on = None

# Written with literals, not parameters, so that both databases match the partial index.
BREACHED_FIRED = "level = 'breached' AND status = 'fired'"
OPEN = "status IN ('new', 'in_progress', 'resolved')"


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index("ix_complaints_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_complaints_first_response_at", ["first_response_at"], unique=False
        )
        batch_op.create_index("ix_complaints_resolved_at", ["resolved_at"], unique=False)
        batch_op.create_index("ix_complaints_closed_at", ["closed_at"], unique=False)
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index("ix_survey_answers_answered_at", ["answered_at"], unique=False)
    op.create_index(
        "ix_timers_breached_fired",
        "timers",
        ["complaint_id", "step_id", "due_at"],
        unique=False,
        postgresql_where=sa.text(BREACHED_FIRED),
        sqlite_where=sa.text(BREACHED_FIRED),
    )
    op.create_index(
        "ix_complaints_open_step",
        "complaints",
        ["id", "current_step"],
        unique=False,
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_complaints_open_step", table_name="complaints")
    op.drop_index("ix_timers_breached_fired", table_name="timers")
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_answers_answered_at")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_closed_at")
        batch_op.drop_index("ix_complaints_resolved_at")
        batch_op.drop_index("ix_complaints_first_response_at")
        batch_op.drop_index("ix_complaints_created_at")
