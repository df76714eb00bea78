"""Building a configured request from a complaint's names (no network)."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.integrations.config import HttpCall
from bot.integrations.http import prepare


def test_a_lookup_leaves_out_empty_parameters_and_encodes_the_url():
    call = HttpCall(
        url="https://erp/orders/{订单号}",
        query={"phone": "{phone}", "no": "{no}"},
        headers={"Authorization": "Bearer t", "X-Unset": None},
    )
    request = prepare(call, {"订单号": "2026/11", "phone": "139", "no": None})
    assert request.url == "https://erp/orders/2026%2F11"
    assert request.query == (("phone", "139"),)
    assert request.headers == {"Authorization": "Bearer t"}
    assert request.body is None and request.method == "GET" and not request.empty


def test_a_request_with_every_placeholder_empty_is_marked_empty():
    call = HttpCall(url="https://crm/customers", query={"phone": "{phone}", "no": "{no}"})
    assert prepare(call, {"phone": "", "no": None}).empty


def test_a_body_is_json_with_its_content_type_and_extra_headers():
    call = HttpCall(
        url="https://qms/items",
        method="POST",
        timeout=timedelta(seconds=2),
        body={"count": "{count}", "title": "{group} 集中投诉"},
    )
    request = prepare(call, {"count": 5, "group": "保温杯"}, headers={"Idempotency-Key": "k1"})
    assert json.loads(request.body or b"") == {"count": 5, "title": "保温杯 集中投诉"}
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "k1" and request.timeout == 2


def test_the_cache_key_ignores_credentials():
    one = HttpCall(url="https://crm/c", query={"p": "{p}"}, headers={"Authorization": "a"})
    two = HttpCall(url="https://crm/c", query={"p": "{p}"}, headers={"Authorization": "b"})
    assert prepare(one, {"p": "1"}).cache_key() == prepare(two, {"p": "1"}).cache_key()
    assert prepare(one, {"p": "1"}).cache_key() != prepare(one, {"p": "2"}).cache_key()
