"""Request and response bodies of the REST API (pydantic): validation and the OpenAPI schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from bot.web.api_text import check_text

STATUSES = ("new", "in_progress", "resolved", "closed", "cancelled")
Status = Literal["new", "in_progress", "resolved", "closed", "cancelled"]
ACTIONS = (
    "accept",
    "submit",
    "approve",
    "reject",
    "transfer",
    "assign_department",
    "remind",
    "reassign",
    "take_over",
    "extend",
    "comment",
    "reopen",
    "close",
    "cancel",
)
ActionName = Literal[
    "accept",
    "submit",
    "approve",
    "reject",
    "transfer",
    "assign_department",
    "remind",
    "reassign",
    "take_over",
    "extend",
    "comment",
    "reopen",
    "close",
    "cancel",
]
NUMBER_PATTERN = r"^[A-Z]{1,6}\d{8}-\d{4,9}$"
MAX_ID = 2**53  # ids fit a JSON number exactly, and PostgreSQL's bigint
MAX_PAGE = 200

# Text a caller sends: no NUL characters, no lone surrogates (neither database stores them).
Text = Annotated[str, AfterValidator(check_text)]


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """Response bodies: every field always present (nullable rather than missing)."""

    model_config = ConfigDict(extra="forbid", json_schema_mode_override="serialization")


# --- errors ------------------------------------------------------------------------------------


class ErrorItem(Out):
    field: str | None = Field(description="The offending field, query or path parameter")
    label: str | None = Field(None, description="The form field's label, for form fields")
    message: str


class ErrorBody(Out):
    errors: list[ErrorItem]


# --- complaints --------------------------------------------------------------------------------


class CustomerIn(ApiModel):
    """Who complains; matched to a known customer by customer_no, then phone."""

    name: Annotated[Text, Field(max_length=100)] | None = None
    phone: Annotated[Text, Field(max_length=32)] | None = None
    customer_no: Annotated[Text, Field(max_length=64)] | None = None


class ComplaintCreate(ApiModel):
    values: dict[str, JsonValue] = Field(
        description="Form values by field key (labels are accepted too)"
    )
    customer: CustomerIn | None = None


class ComplaintPatch(ApiModel):
    values: dict[str, JsonValue] = Field(
        min_length=1, description="The fields to change (see api.writable_fields)"
    )


class ActionIn(ApiModel):
    action: ActionName
    person: Annotated[
        Text,
        Field(min_length=1, max_length=64, description="The staff member (people: id) who acts"),
    ]
    task_id: (
        Annotated[
            Text,
            Field(max_length=160, description="Default: the open task this person may act on"),
        ]
        | None
    ) = None
    target: (
        Annotated[
            Text,
            Field(
                max_length=64,
                description="Person (transfer, reassign) or department (assign_department)",
            ),
        ]
        | None
    ) = None
    values: dict[str, JsonValue] = Field(
        default_factory=dict, description="Fields written on submit"
    )
    text: Annotated[Text, Field(max_length=2000)] = ""
    extend_by: (
        Annotated[str, Field(pattern=r"^(\d{1,4}[wdhms]){1,5}$", description="For extend: 4h, 1d")]
        | None
    ) = None


class CommentIn(ApiModel):
    text: Annotated[Text, Field(min_length=1, max_length=2000)]
    to_customer: bool = False


class ComplaintSummary(Out):
    number: str
    status: Status
    status_text: str
    type: str | None
    priority: str
    channel: str
    department: str | None
    assignee: str | None
    current_step: str | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class ComplaintPage(Out):
    items: list[ComplaintSummary]
    next_cursor: str | None


class ValueOut(Out):
    key: str
    label: str
    text: str


class TaskOut(Out):
    task_id: str
    step_id: str
    step_name: str | None
    assignee: str | None
    candidates: list[str]
    accepted: bool


class TimelineOut(Out):
    at: datetime
    actor: str
    actor_name: str
    kind: str
    summary: str


class CommentOut(Out):
    id: int
    author: str
    text: str
    to_customer: bool
    created_at: datetime


class CommentList(Out):
    items: list[CommentOut]


class AttachmentOut(Out):
    id: int
    kind: str
    filename: str | None
    content_type: str | None
    size: int | None
    sha256: str | None
    downloadable: bool
    created_at: datetime


class AttachmentList(Out):
    items: list[AttachmentOut]


class LinkOut(Out):
    system: str
    external_id: str
    url: str | None
    created_at: datetime


class CustomerRef(Out):
    id: int
    name: str | None
    phone: str | None
    customer_no: str | None


class ComplaintDetail(ComplaintSummary):
    values: dict[str, Any]
    display: list[ValueOut]
    step_name: str | None
    department_name: str | None
    assignee_name: str | None
    customer: CustomerRef | None
    tasks: list[TaskOut]
    timeline: list[TimelineOut]
    comments: list[CommentOut]
    attachments: list[AttachmentOut]
    links: list[LinkOut]


# --- customers ---------------------------------------------------------------------------------


class CustomerOut(CustomerRef):
    channel: str
    profile: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CustomerPage(Out):
    items: list[CustomerOut]
    next_cursor: str | None


class CustomerDetail(CustomerOut):
    complaints: list[ComplaintSummary]


# --- webhooks ----------------------------------------------------------------------------------


class WebhookOut(Out):
    name: str
    url: str
    events: list[str]
    active: bool
    pending: int
    sent: int
    failed: int


class WebhookList(Out):
    items: list[WebhookOut]


class DeliveryOut(Out):
    id: int
    delivery: str = Field(description="The X-Complaint-Bot-Delivery header of every attempt")
    event: str | None
    complaint: str | None
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None


class DeliveryPage(Out):
    items: list[DeliveryOut]
    next_cursor: str | None


class OutboxRowOut(Out):
    id: int
    channel: str | None = Field(description="The channel it goes through (channels: name)")
    kind: str = Field(description="text, card, card_update, markdown, image, webhook, ...")
    target: str
    complaint: str | None
    status: Literal["pending", "sent", "failed"]
    attempts: int
    last_error: str | None = Field(description="Why the last attempt failed (platform code)")
    created_at: datetime
    due_at: datetime
    sent_at: datetime | None


class OutboxPage(Out):
    items: list[OutboxRowOut]
    next_cursor: str | None


def dump(model: BaseModel) -> dict[str, Any]:
    """A response model as JSON-ready data (aliases, ISO datetimes)."""
    return model.model_dump(mode="json", by_alias=True)
