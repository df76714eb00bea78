"""The whole app with connectors pointed at the fake CRM/ERP/QMS, on both databases.

The clock is fixed and moved by hand; the relay does not run in the background: tests call
`deliver()` to send what is due, so every retry is explicit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import LoadedConfig, load_config_text
from bot.integrations.tokens import create_token
from bot.service.clock import FixedClock
from bot.service.wiring import Service
from bot.settings import Settings
from storage.db import Database
from storage.models import OutboxMessage
from tests.fakes.business_systems import BusinessSystems, running_systems
from tests.fakes.configs import example_data

EXTRA_FIELDS = [
    {"key": "order_status", "label": "订单状态", "type": "text", "ask": False},
    {"key": "product", "label": "产品", "type": "text", "ask": False},
    {"key": "crm_level", "label": "客户等级", "type": "text", "ask": False},
    {"key": "crm_history", "label": "客户历史", "type": "textarea", "ask": False},
    {"key": "qms_item", "label": "质量改进项", "type": "text", "ask": False},
]
EXTRA_RULES = [
    {
        "name": "已发货的物流问题转物流部",
        "when": "field.changed",
        "if": 'changed_field == "订单状态" and 投诉类型 == "物流问题" and 订单状态 == "已发货"',
        "then": [{"assign": {"department": "logistics"}}],
    },
    {
        "name": "同一产品质量投诉集中",
        "when": "threshold",
        "threshold": {
            "count": 3,
            "within": "24h",
            "match": '投诉类型 == "产品质量"',
            "group_by": "product",
        },
        "then": [
            {
                "notify": {"department_head": "product"},
                "message": "产品 {产品} 集中投诉 {count} 起",
            }
        ],
    },
]


def integration_config(
    base: str,
    *,
    webhooks: list[dict[str, Any]] | None = None,
    lookup_timeout: str = "2s",
    extra: Mapping[str, Any] | None = None,
) -> str:
    """The example config plus ERP/CRM fields, two rules and connectors at `base`."""
    data = example_data()
    data["forms"]["complaint"]["fields"].extend(EXTRA_FIELDS)
    data["rules"].extend(EXTRA_RULES)
    data["connectors"] = {
        "crm": {
            "lookup": {
                "url": f"{base}/crm/customers",
                "headers": {"Authorization": "Bearer ${FAKE_CRM_TOKEN:-crm-secret}"},
                "query": {"phone": "{phone}", "customer_no": "{customer_no}"},
                "timeout": lookup_timeout,
                "response": {
                    "customer.name": "data.name",
                    "customer.customer_no": "data.customer_no",
                    "customer.level": "data.level",
                    "客户等级": "data.level",
                    "crm_history": "data.history",
                },
            },
            "push": {
                "url": f"{base}/crm/complaints",
                "method": "POST",
                "body": {
                    "number": "{number}",
                    "customer_no": "{customer_no}",
                    "outcome": "{解决方案}",
                    "satisfaction": "{满意度}",
                    "status": "{status}",
                },
            },
        },
        "erp": {
            "field": "订单号",
            "lookup": {
                "url": f"{base}/erp/orders/{{订单号}}",
                "timeout": lookup_timeout,
                "response": {"订单状态": "order.status", "product": "order.product"},
            },
        },
        "qms": {
            "rule": "同一产品质量投诉集中",
            "field": "质量改进项",
            "open": {
                "url": f"{base}/qms/items",
                "method": "POST",
                "body": {
                    "title": "{group} 质量投诉 {count} 起",
                    "count": "{count}",
                    "complaints": "{complaints}",
                },
                "response": {"item_id": "id", "item_url": "link"},
            },
        },
    }
    if webhooks:
        data["webhooks"] = webhooks
    for key, value in (extra or {}).items():
        data[key] = value
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.fixture
async def systems() -> AsyncIterator[BusinessSystems]:
    async with running_systems() as fake:
        yield fake


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(
        DATABASE_URL=db.url,
        DATA_DIR=tmp_path / "data",
        SECRET_KEY="test-secret",
        TICK_INTERVAL=3600,
        DIGEST_CATCH_UP=False,
    )


AppFactory = Callable[..., Any]


@pytest.fixture
def make_client(aiohttp_client: Any, settings: Settings, clock: FixedClock) -> AppFactory:
    """Start the whole app on a config text; returns its test client."""

    async def start(config_text: str) -> TestClient:
        config = load_config_text(config_text, source="integrations.yaml")
        app = create_app(settings, config, clock=clock, background=False)
        return await aiohttp_client(app)

    return start


@pytest.fixture
async def client(make_client: AppFactory, systems: BusinessSystems) -> TestClient:
    return await make_client(integration_config(systems.base_url))


def service_of(client: TestClient) -> Service:
    return client.app[SERVICE]


async def token(service: Service, name: str, *scopes: str) -> dict[str, str]:
    """Authorization headers of a new token."""
    async with service.rt.db.write() as session:
        issued = await create_token(session, name, scopes, now=service.rt.now())
    return {"Authorization": f"Bearer {issued.secret}"}


async def deliver(
    service: Service,
    clock: FixedClock,
    *,
    rounds: int = 12,
    step: timedelta = timedelta(minutes=30),
) -> int:
    """Send everything due, moving the clock past backoffs while rows wait; rows claimed."""
    total = 0
    for _ in range(rounds):
        claimed = await service.relay.run_once()
        total += claimed
        if claimed:
            continue
        async with service.rt.db.read() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == "pending")
            )
        if not waiting:
            break
        clock.advance(step)
    return total


def config_of(client: TestClient) -> LoadedConfig:
    return service_of(client).rt.config
