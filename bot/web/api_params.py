"""Path and query parameters of the REST API (pydantic): validation and the OpenAPI parameters."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field

from bot.web.api_models import MAX_ID, MAX_PAGE, NUMBER_PATTERN, STATUSES, ApiModel, Text

STATUS_LIST = (
    r"^(new|in_progress|resolved|closed|cancelled)(,(new|in_progress|resolved|closed|cancelled))*$"
)


def check_statuses(value: str) -> str:
    """ "new,in_progress": every part a lifecycle status (the bad one named)."""
    bad = [part for part in value.split(",") if part not in STATUSES]
    if bad:
        raise ValueError(f"unknown status {bad[0]!r}; one of {', '.join(STATUSES)}")
    return value


# --- paths -------------------------------------------------------------------------------------


class ComplaintPath(ApiModel):
    number: Annotated[str, Field(pattern=NUMBER_PATTERN, examples=["TS20261123-0001"])]


class IdPath(ApiModel):
    id: Annotated[int, Field(ge=1, le=MAX_ID)]


class WebhookPath(ApiModel):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,47}$")]


class DeliveryPath(WebhookPath):
    id: Annotated[int, Field(ge=1, le=MAX_ID)]


CHART_NAMES = (
    "type_share",
    "monthly_trend",
    "weekly_trend",
    "department_handling_time",
    "status_table",
    "csat_trend",
    "sla_by_department",
)


class ChartPath(ApiModel):
    chart: Literal[
        "type_share",
        "monthly_trend",
        "weekly_trend",
        "department_handling_time",
        "status_table",
        "csat_trend",
        "sla_by_department",
    ]


# --- queries -----------------------------------------------------------------------------------

Short = Annotated[Text, Field(max_length=64)]
Stamp = Annotated[
    AwareDatetime, Field(description="ISO 8601 with an offset, e.g. 2026-11-23T00:00:00+08:00")
]


class Page(ApiModel):
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 50
    cursor: (
        Annotated[Text, Field(max_length=64, description="next_cursor of the previous page")] | None
    ) = None


class ComplaintFilter(ApiModel):
    """The console's filters."""

    status: (
        Annotated[
            Text,
            AfterValidator(check_statuses),
            Field(
                description="One status or several, comma separated",
                json_schema_extra={"pattern": STATUS_LIST},
            ),
        ]
        | None
    ) = None
    type: Short | None = None
    department: Short | None = None
    assignee: Short | None = None
    channel: Short | None = None
    created_from: Stamp | None = None
    created_to: Stamp | None = None
    overdue: bool | None = Field(None, description="Only open complaints past their step's limit")
    q: (
        Annotated[
            Text,
            Field(max_length=100, description="Text search: number, customer, values, timeline"),
        ]
        | None
    ) = None


class ComplaintQuery(ComplaintFilter, Page):
    pass


class CustomerQuery(Page):
    phone: Short | None = None
    customer_no: Short | None = None
    q: (
        Annotated[
            Text, Field(max_length=100, description="Name, phone or customer number contains")
        ]
        | None
    ) = None


Day = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]


class ReportQuery(ApiModel):
    """A period of local days and the report filters."""

    period: (
        Annotated[
            str,
            Field(
                pattern=r"^\d{4}-(W\d{2}|\d{2}|\d{2}-\d{2}|\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2})$",
                description="2026-W47, 2026-11, 2026-11-23 or 2026-11-01..2026-11-30",
            ),
        ]
        | None
    ) = None
    from_: Annotated[Day | None, Field(alias="from", description="First local day")] = None
    to: Annotated[Day | None, Field(description="Last local day (included)")] = None
    type: Short | None = None
    department: Short | None = None
    channel: Short | None = None
    product: Short | None = None
    assignee: Short | None = None


class KpiQuery(ReportQuery):
    group_by: Literal["type", "department", "channel", "product", "assignee"] | None = None


class AttachmentQuery(ApiModel):
    filename: Annotated[Text, Field(min_length=1, max_length=200)]


class DeliveryQuery(Page):
    status: Literal["pending", "sent", "failed"] | None = None


class OutboxQuery(Page):
    status: Literal["pending", "sent", "failed"] | None = None
    channel: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] | None = None
