"""The integration sections of the config file: accepted shapes and precise problems."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from bot.config.loader import load_config_text
from bot.errors import ConfigError
from tests.fakes.configs import example_data

CRM = {
    "lookup": {
        "url": "https://crm.example.com/customers",
        "query": {"phone": "{联系电话}"},
        "timeout": "3s",
        "response": {"customer.name": "data.name"},
    }
}


def _load(**sections: Any) -> Any:
    data = example_data()
    data.update(sections)
    return load_config_text(
        yaml.safe_dump(data, allow_unicode=True), source="test.yaml", environ={"HOOK_SECRET": "s"}
    )


def _problems(**sections: Any) -> list[str]:
    with pytest.raises(ConfigError) as error:
        _load(**sections)
    return error.value.lines()


def test_integration_sections_load():
    config = _load(
        webhooks=[
            {
                "name": "board",
                "url": "https://hooks.example.com/x",
                "events": ["complaint.created", "threshold"],
                "secret": "${HOOK_SECRET}",
                "timeout": 5,
            }
        ],
        connectors={
            "crm": CRM,
            "erp": {
                "field": "订单号",
                "lookup": {"url": "https://erp/orders/{订单号}", "response": {"投诉类型": "type"}},
            },
            "qms": {
                "rule": "产品质量投诉集中预警",
                "open": {
                    "url": "https://qms/items",
                    "method": "POST",
                    "body": {"n": "{count}", "list": "{complaints}"},
                    "response": {"item_id": "id"},
                },
            },
        },
        api={"writable_fields": ["订单号"]},
    )
    assert config.webhooks[0].secret == "s" and config.webhooks[0].timeout == timedelta(seconds=5)
    assert config.connectors.crm.lookup.timeout == timedelta(seconds=3)
    assert config.connectors.qms.rule == "产品质量投诉集中预警"
    assert config.api.writable_fields == ["订单号"] and config.api.loopback_reads


def test_an_unset_secret_turns_a_subscription_off():
    config = _load(
        webhooks=[
            {
                "name": "board",
                "url": "https://x",
                "events": ["complaint.closed"],
                "secret": "${NOT_SET}",
            }
        ]
    )
    assert not config.webhooks[0].active


def test_unknown_events_and_duplicate_names_are_named():
    lines = _problems(
        webhooks=[
            {"name": "a", "url": "https://x", "events": ["complaint.exploded"]},
            {"name": "a", "url": "https://y", "events": ["complaint.closed"]},
        ]
    )
    assert any(
        "webhooks[0].events[0]: unknown event 'complaint.exploded'" in line for line in lines
    )
    assert any("webhooks[1].name: duplicate webhook name 'a'" in line for line in lines)


def test_connector_references_are_checked():
    lines = _problems(
        connectors={
            "crm": {"lookup": {"url": "https://crm/{手机}", "response": {"等级": "data.level"}}},
            "erp": {"field": "单号", "lookup": {"url": "https://erp", "response": {}}},
            "qms": {"rule": "新投诉通知客服主管", "open": {"url": "https://qms", "response": {}}},
        }
    )
    text = "\n".join(lines)
    assert "connectors.crm.lookup.url: unknown field '手机'" in text
    assert "connectors.crm.lookup.response.等级: unknown field '等级'" in text
    assert "connectors.erp.field: unknown field '单号'" in text
    assert "rule '新投诉通知客服主管' has no threshold" in text
    assert "connectors.qms.open.response: map item_id" in text


def test_bad_shapes_are_refused():
    lines = _problems(connectors={"crm": {"lookup": {"url": "ftp://crm", "timeout": "soon"}}})
    assert any("connectors.crm.lookup.url" in line for line in lines)
    assert any("connectors.crm.lookup.timeout" in line and "soon" in line for line in lines)
    assert _problems(api={"writable_fields": ["天气"]})[0].endswith("unknown field '天气'")
