"""The OpenAPI document, and schemathesis against a live server with it (both databases).

Schemathesis generates requests from the document (valid ones, and invalid ones) and checks
every answer: no 5xx, a documented status, the documented content type and headers, and a body
matching the schema. It runs in a thread (it speaks `requests`) while the server runs here.
API_FUZZ_EXAMPLES=200 explores further (examples per operation and mode).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import pytest
import schemathesis
import yaml
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import load_config_text
from bot.integrations.tokens import create_token
from bot.settings import Settings
from bot.web.api import endpoints
from storage.db import Database
from tests.fakes.configs import example_data

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
VALUES = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "保温杯有裂缝，一倒水就漏",
    "订单号": "202611230001",
}


async def test_the_document_describes_every_endpoint(client: TestClient):
    response = await client.get("/api/v1/openapi.json", headers={"Host": "api.example.com"})
    assert response.status == 200  # public: it holds no data
    doc = await response.json()
    assert doc["openapi"] == "3.1.0"
    operations = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert operations == {(e.method, e.path) for e in endpoints()}
    create = doc["paths"]["/api/v1/complaints"]["post"]
    assert set(create["responses"]) == {"201", "400", "401", "403", "409", "413", "422"}
    values = doc["components"]["schemas"]["ComplaintValues"]
    assert values["properties"]["type"]["enum"] == ["产品质量", "服务态度", "物流问题", "其他"]
    assert "type" in values["required"]
    schemathesis.openapi.from_dict(doc)  # loads as a valid OpenAPI document


def _failures(
    schema: Any, base_url: str, headers: dict[str, str], known: dict[str, str], examples: int
) -> list[str]:
    """Run every operation in both modes; the failures, one line each."""
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        strategies = [
            operation.as_strategy(mode)
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            )
        ]
        fixed = {k: v for k, v in known.items() if "{" + k + "}" in operation.path}
        if fixed:
            strategies.append(operation.as_strategy(path_parameters=fixed))
        for strategy in strategies:

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def run(case: Any) -> None:
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS)

            try:
                run()
            except Exception as exc:  # noqa: BLE001 - collected, reported together below
                failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    return failures


async def test_schemathesis_finds_no_server_errors_and_no_schema_mismatches(
    aiohttp_server: Any, unused_tcp_port: int, app_settings: Settings, db: Database
):
    data = example_data()
    # A subscription whose receiver is down: its delivery log fills while the fuzzer runs.
    data["webhooks"] = [
        {
            "name": "fuzz",
            "url": f"http://127.0.0.1:{unused_tcp_port}/hook",
            "events": ["complaint.created", "step.completed"],
            "secret": "s3cret",
        }
    ]
    config = load_config_text(yaml.safe_dump(data, allow_unicode=True), source="fuzz.yaml")
    app = create_app(app_settings, config)
    server = await aiohttp_server(app)
    service = app[SERVICE]
    async with service.rt.db.write() as session:
        issued = await create_token(session, "fuzzer", ("admin",), now=service.rt.now())
    headers = {"Authorization": f"Bearer {issued.secret}"}
    base_url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        created = await http.post(
            f"{base_url}/api/v1/complaints", json={"values": VALUES}, headers=headers
        )
        number = (await created.json())["number"]
        doc = await (await http.get(f"{base_url}/api/v1/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(doc)
    known = {"number": number, "id": "1", "name": "fuzz"}
    examples = int(os.environ.get("API_FUZZ_EXAMPLES", 25 if db.is_sqlite else 12))
    failures = await asyncio.to_thread(_failures, schema, base_url, headers, known, examples)
    assert not failures, "\n\n".join(failures)


pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]
