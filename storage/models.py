"""SQLAlchemy 2.0 models: the durable record of every complaint and of everything sent about it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import JsonDocument, UtcDateTime

# Stable constraint names so Alembic migrations are the same on every database.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL; SQLite only autoincrements a plain INTEGER primary key.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonDocument}


class Customer(Base):
    """A person who complains; `external_id` is their id on the channel (WeChat openid)."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    customer_no: Mapped[str | None] = mapped_column(String(64), index=True)
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NumberSequence(Base):
    """The last complaint number handed out per prefix and day (TS20261123-0001)."""

    __tablename__ = "number_sequences"

    day: Mapped[str] = mapped_column(String(32), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_status_created", "status", "created_at"),
        Index("ix_complaints_department_status", "department", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    form: Mapped[str] = mapped_column(String(64))
    flow: Mapped[str] = mapped_column(String(64))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Lifecycle: new (待受理), in_progress (处理中), resolved (待回访), closed (已关闭), cancelled.
    status: Mapped[str] = mapped_column(String(16), default="new")
    type: Mapped[str | None] = mapped_column(String(64), index=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    channel: Mapped[str] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    current_step: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reassigned: Mapped[int] = mapped_column(Integer, default=0)
    reopened: Mapped[int] = mapped_column(Integer, default=0)

    customer: Mapped[Customer | None] = relationship(lazy="raise")


class TimelineEntry(Base):
    """One change to a complaint: who did what, when. Append-only."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_complaint_at", "complaint_id", "at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    # "customer", "person:zhangsan", "rule:新投诉通知客服主管", "system", "integration:crm"
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Comment(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    to_customer: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class Attachment(Base):
    """A file the customer or staff sent: the platform's media id and, once fetched, the file."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(64))
    media_id: Mapped[str | None] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))  # image, voice, video, file, location
    file_path: Mapped[str | None] = mapped_column(String(512))
    content_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class WorkflowInstance(Base):
    """The serialised state of one complaint's flow (the engine's state, versioned)."""

    __tablename__ = "workflow_instances"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), unique=True
    )
    flow: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Optimistic lock: an update must name the revision it read.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class WorkflowTask(Base):
    """A queryable mirror of the engine's tasks, so 'my open tasks' is one indexed query."""

    __tablename__ = "workflow_tasks"
    __table_args__ = (
        UniqueConstraint("complaint_id", "task_key"),
        Index("ix_workflow_tasks_assignee_state", "assignee", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    task_key: Mapped[str] = mapped_column(String(160))
    step_id: Mapped[str] = mapped_column(String(64))
    assignee: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InboundEvent(Base):
    """Every accepted platform delivery, once: the unique key turns a retry into a lookup."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("channel", "dedupe_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str] = mapped_column(String(256))
    received_at: Mapped[datetime]
    # The passive reply given to the first delivery, returned verbatim to retries.
    reply: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """Something to send, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "due_at"),
        # delivery: "is an earlier row of this target still pending?" (per-target order)
        Index("ix_outbox_target_status_id", "target", "status", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(256), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # text, card, card_update, survey, webhook
    channel: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(256))  # person:<id>, customer:<id>, group:<id>, url
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    complaint_id: Mapped[int | None] = mapped_column(
        ForeignKey("complaints.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # --- delivery (bot/delivery, migration 0004_delivery) ---
    # What the platform answered that the service needs later (WeCom response_code, WeChat "via").
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, nullable=True)
    # Which relay holds the lease: an outcome is only recorded by the relay that still holds it.
    lease_owner: Mapped[str | None] = mapped_column(String(64))


class Timer(Base):
    """A due time for one (step activation, level); fired at most once by the unique key."""

    __tablename__ = "timers"
    __table_args__ = (
        UniqueConstraint("subject", "level"),
        Index("ix_timers_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    # complaint number + step id + activation count, e.g. "TS20261123-0001:handle:1"
    subject: Mapped[str] = mapped_column(String(160))
    step_id: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))  # warning, breached, escalated
    due_at: Mapped[datetime]
    # pending, fired, cancelled; "failed" when firing raised `TimerTicker.max_attempts` times
    status: Mapped[str] = mapped_column(String(16), default="pending")
    fired_at: Mapped[datetime | None]
    # --- delivery (bot/delivery, migration 0004_delivery) ---
    # Ticks whose fire() raised, and the last error, so a poison timer is visible and stops.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    # While the step waits on the customer the clock stops: status "paused" and the time that was
    # left (working time when a calendar is configured). 0002_core.
    remaining_seconds: Mapped[float | None]


class Conversation(Base):
    """A customer's open chat dialog (form intake state), one per channel user."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), unique=True
    )
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(64))
    answered_at: Mapped[datetime]


# --- cards and digests (migration 0002_core) ------------------------------------------------


class CardMessage(Base):
    """One card delivered to one person: how a click finds its task, and how the card is updated.

    WeCom can only edit a sent card with the single-use ResponseCode of a click on it (valid 72 h),
    so the newest code is kept here and marked used the moment an update is queued with it.
    """

    __tablename__ = "card_messages"
    __table_args__ = (
        UniqueConstraint("channel", "card_ref"),
        Index("ix_card_messages_complaint_task", "complaint_id", "task_id"),
        Index("ix_card_messages_person_updated", "person_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    card_ref: Mapped[str] = mapped_column(String(128))
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(160))
    person_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # task, escalation
    target: Mapped[str] = mapped_column(String(256))  # the outbox target it went to
    settled: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every update
    response_code: Mapped[str | None] = mapped_column(String(256))
    response_code_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class DigestRun(Base):
    """A digest sent for one period: the unique key makes a second trigger send nothing."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("digest", "period"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    digest: Mapped[str] = mapped_column(String(128))
    period: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, sent, failed
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- integrations (bot/integrations, bot/web/api*, migration 0005_integrations) -------------


class ApiToken(Base):
    """A REST API token: only the secret's SHA-256 is kept; revoked tokens stay for the record."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The integration's name: what the timeline shows ("integration:<name>"); several tokens may
    # share a name while one is being rotated.
    name: Mapped[str] = mapped_column(String(48), index=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the secret's first characters, for lists
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"scopes": ["read", ...]}
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class ApiIdempotencyKey(Base):
    """The first successful answer to a POST sent with an Idempotency-Key, replayed to retries."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (
        UniqueConstraint("token_id", "key"),
        Index("ix_api_idempotency_keys_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))  # method, path and body, hashed
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    location: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime]


class ComplaintLink(Base):
    """A record in another system that belongs to a complaint (a QMS quality item, a CRM case)."""

    __tablename__ = "complaint_links"
    __table_args__ = (
        UniqueConstraint("complaint_id", "system", "external_id"),
        Index("ix_complaint_links_system_group", "system", "group_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), index=True
    )
    system: Mapped[str] = mapped_column(String(32))  # crm, erp, qms
    external_id: Mapped[str] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(String(1024))
    # What the record is about, e.g. "产品质量投诉集中预警:保温杯": later complaints join it.
    group_key: Mapped[str | None] = mapped_column(String(256))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


# --- report indexes (migration 0003_reports) ------------------------------------------------
# Each report figure counts the events of one period; see bench/README.md "Reports" for the
# before/after. The partial conditions are literals so both databases match them to queries.
_BREACHED_FIRED = text("level = 'breached' AND status = 'fired'")
_OPEN = text("status IN ('new', 'in_progress', 'resolved')")
Index("ix_complaints_created_at", Complaint.created_at)
Index("ix_complaints_first_response_at", Complaint.first_response_at)
Index("ix_complaints_resolved_at", Complaint.resolved_at)
Index("ix_complaints_closed_at", Complaint.closed_at)
Index("ix_survey_answers_answered_at", SurveyAnswer.answered_at)
Index(
    "ix_timers_breached_fired",
    Timer.complaint_id,
    Timer.step_id,
    Timer.due_at,
    postgresql_where=_BREACHED_FIRED,
    sqlite_where=_BREACHED_FIRED,
)
Index(
    "ix_complaints_open_step",
    Complaint.id,
    Complaint.current_step,
    postgresql_where=_OPEN,
    sqlite_where=_OPEN,
)
