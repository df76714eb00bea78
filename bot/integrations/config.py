"""The config sections of integrations (pydantic, at the edge): api, webhooks, connectors.

```yaml
api:
  loopback_reads: true          # reads without a token from 127.0.0.1 / ::1 (default true)
  writable_fields: [订单号, 问题描述]   # what PATCH may change (default: the fields intake asks)
webhooks:
  - name: quality-dashboard
    url: https://example.com/hooks/complaints
    events: [complaint.created, complaint.closed]
    secret: ${QUALITY_HOOK_SECRET}
    timeout: 10s
connectors:
  crm:
    lookup: {url: ..., query: {phone: "{phone}"}, response: {customer.name: data.name}}
    push: {url: ..., method: POST, body: {number: "{number}", outcome: "{解决方案}"}}
  erp:
    field: 订单号
    lookup: {url: "https://erp/orders/{订单号}", response: {订单状态: status, 产品: product}}
  qms:
    rule: 产品质量投诉集中预警
    open: {url: ..., method: POST, body: {...}, response: {item_id: id, item_url: link}}
```
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.expr import parse_duration

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Names a subscription may list: the rule events (bot/rules/catalog.py EVENTS).
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value <= 0:
            raise ValueError(f"a timeout must be positive, got {value}")
        return timedelta(seconds=value)
    return parse_duration(value)


class ApiSettings(_Strict):
    """The REST API's switches."""

    # Anonymous GETs from loopback (peer and Host both 127.0.0.1 / ::1 / localhost).
    loopback_reads: bool = True
    # Fields a token with `write` may change with PATCH; None: the fields the intake asks.
    writable_fields: list[str] | None = None


class WebhookSubscription(_Strict):
    """Events POSTed, signed, to one URL through the outbox."""

    name: str = Field(pattern=NAME_PATTERN)
    url: str = Field(pattern=r"^https?://", max_length=256)
    events: list[str] = Field(min_length=1)
    # None (an unset ${ENV}) turns the subscription off until the secret is set.
    secret: str | None = None
    timeout: timedelta = timedelta(seconds=10)

    _timeout = field_validator("timeout", mode="before")(lambda cls, v: _duration(v))

    @property
    def active(self) -> bool:
        return bool(self.secret)


class HttpCall(_Strict):
    """One configured request: url, method, headers, query and body are templates ({字段})."""

    url: str = Field(pattern=r"^https?://")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str | None] = {}
    query: dict[str, str] = {}
    # JSON; a string leaf that is exactly one placeholder ("{赔偿金额}") keeps the value's type.
    body: dict[str, Any] | None = None
    timeout: timedelta = timedelta(seconds=5)
    # Our name -> dotted path in the JSON answer ("data.items.0.status").
    response: dict[str, str] = {}

    _timeout = field_validator("timeout", mode="before")(lambda cls, v: _duration(v))

    @field_validator("response")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            if not path or any(not part for part in path.split(".")):
                raise ValueError(f"response '{name}': '{path}' is not a dotted path like data.name")
        return value


class CrmConnector(_Strict):
    """Look the customer up on intake (`lookup`), push the outcome back on close (`push`).

    `lookup.response` names: customer.name, customer.phone, customer.customer_no,
    customer.<anything> (kept in the customer's profile), or a form field (key or label).
    """

    lookup: HttpCall | None = None
    cache: timedelta = timedelta(minutes=10)
    push: HttpCall | None = None

    _cache = field_validator("cache", mode="before")(lambda cls, v: _duration(v))


class ErpConnector(_Strict):
    """Check and enrich an order-number field: `lookup.response` names form fields."""

    field: str
    lookup: HttpCall
    cache: timedelta = timedelta(minutes=10)

    _cache = field_validator("cache", mode="before")(lambda cls, v: _duration(v))


class QmsConnector(_Strict):
    """When threshold rule `rule` fires, open a quality item; `open.response` needs `item_id`."""

    rule: str
    open: HttpCall
    # A form field that gets the item id on each linked complaint (shown on its cards).
    field: str | None = None


class Connectors(_Strict):
    crm: CrmConnector | None = None
    erp: ErpConnector | None = None
    qms: QmsConnector | None = None

    @property
    def any(self) -> bool:
        return any((self.crm, self.erp, self.qms))
