"""integrations: API tokens, idempotency keys, links to records in other systems

Revision ID: 0005_integrations
Revises: 0004_delivery
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import storage.types

revision = "0005_integrations"
down_revision = "0004_delivery"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = storage.types.UtcDateTime(timezone=True)
Json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=48), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", Json, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp, nullable=True),
        sa.Column("last_used_at", Stamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_api_tokens_secret_hash")),
    )
    op.create_index("ix_api_tokens_name", "api_tokens", ["name"])
    op.create_table(
        "api_idempotency_keys",
        sa.Column("id", BigId, nullable=False),
        sa.Column("token_id", BigId, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", Json, nullable=False),
        sa.Column("location", sa.String(length=512), nullable=True),
        sa.Column("created_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_api_idempotency_keys_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_idempotency_keys")),
        sa.UniqueConstraint("token_id", "key", name=op.f("uq_api_idempotency_keys_token_id_key")),
    )
    op.create_index("ix_api_idempotency_keys_created", "api_idempotency_keys", ["created_at"])
    op.create_table(
        "complaint_links",
        sa.Column("id", BigId, nullable=False),
        sa.Column("complaint_id", BigId, nullable=False),
        sa.Column("system", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("group_key", sa.String(length=256), nullable=True),
        sa.Column("data", Json, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_links_complaint_id_complaints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_links")),
        sa.UniqueConstraint(
            "complaint_id",
            "system",
            "external_id",
            name=op.f("uq_complaint_links_complaint_id_system_external_id"),
        ),
    )
    op.create_index("ix_complaint_links_complaint_id", "complaint_links", ["complaint_id"])
    op.create_index(
        "ix_complaint_links_system_group", "complaint_links", ["system", "group_key", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_complaint_links_system_group", table_name="complaint_links")
    op.drop_index("ix_complaint_links_complaint_id", table_name="complaint_links")
    op.drop_table("complaint_links")
    op.drop_index("ix_api_idempotency_keys_created", table_name="api_idempotency_keys")
    op.drop_table("api_idempotency_keys")
    op.drop_index("ix_api_tokens_name", table_name="api_tokens")
    op.drop_table("api_tokens")
