"""cards delivered, digest runs, paused timers

Revision ID: 0002_core
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = "0002_core"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = storage.types.UtcDateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "card_messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("card_ref", sa.String(length=128), nullable=False),
        sa.Column("complaint_id", BigId, nullable=False),
        sa.Column("task_id", sa.String(length=160), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=256), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("response_code", sa.String(length=256), nullable=True),
        sa.Column("response_code_expires_at", Stamp, nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_card_messages_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_messages")),
        sa.UniqueConstraint("channel", "card_ref", name=op.f("uq_card_messages_channel_card_ref")),
    )
    op.create_index("ix_card_messages_complaint_task", "card_messages", ["complaint_id", "task_id"])
    op.create_index("ix_card_messages_person_updated", "card_messages", ["person_id", "updated_at"])
    op.create_table(
        "digest_runs",
        sa.Column("id", BigId, nullable=False),
        sa.Column("digest", sa.String(length=128), nullable=False),
        sa.Column("period", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp, nullable=True),
        sa.Column("detail", Json, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_runs")),
        sa.UniqueConstraint("digest", "period", name=op.f("uq_digest_runs_digest_period")),
    )
    with op.batch_alter_table("timers") as batch:
        batch.add_column(sa.Column("remaining_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timers") as batch:
        batch.drop_column("remaining_seconds")
    op.drop_table("digest_runs")
    op.drop_index("ix_card_messages_person_updated", table_name="card_messages")
    op.drop_index("ix_card_messages_complaint_task", table_name="card_messages")
    op.drop_table("card_messages")
