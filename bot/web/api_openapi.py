"""The OpenAPI 3.1 document, built from the endpoint table and its pydantic models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bot.web.api_core import Endpoint
from bot.web.api_models import ErrorBody

REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Invalid query, path or header ({errors:[{field, message}]})",
    401: "No token, or an unknown or revoked token",
    403: "The token lacks the scope",
    404: "No such resource",
    409: "Not allowed now (reason in Chinese)",
    413: "The body is too large",
    422: "Invalid body: field errors {errors:[{field, label, message}]}",
}
DESCRIPTION = """\
Complaints, customers, reports and webhook logs of complaint-bot.

**Tokens.** Send `Authorization: Bearer <token>`; create one with
`python -m bot token create NAME --scope read --scope write`. Scopes: `read` (GET), `write`
(create and edit complaints, comments, attachments), `act` (workflow actions as a named staff
member), `admin` (webhook delivery logs; implies all). Without a token only reads from the
machine itself are answered (peer and Host both 127.0.0.1/::1/localhost). Everything a token
does is on the complaint's timeline as `integration:<token name>`.

**Errors.** `{"errors": [{"field", "label", "message"}]}`: 400 bad query/path/header, 401/403
auth, 404 unknown, 409 the workflow refuses (Chinese reason), 422 invalid body or form values.

**Idempotency.** A POST with `Idempotency-Key: <unique text>` that is retried with the same key
and body gets the first answer again (header `Idempotent-Replayed: true`); keys live 24 hours.

**Paging.** Lists return `next_cursor`; pass it as `cursor` for the next page.

**Webhooks.** Subscriptions (config `webhooks:`) receive POSTs with `X-Complaint-Bot-Event`,
`X-Complaint-Bot-Delivery` (unique, the same on retries), `X-Complaint-Bot-Timestamp` (Unix
seconds) and `X-Complaint-Bot-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw
body)>`. Verify in constant time, refuse timestamps older than 5 minutes, and treat a delivery id
seen before as done. Answer 2xx to accept; 5xx or a timeout is retried with backoff, 429 waits
for Retry-After, any other status fails the delivery.
"""


def _param_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the `null` branch and default pydantic adds to optionals."""
    out = {k: v for k, v in schema.items() if k not in ("default", "title")}
    options = out.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            del out["anyOf"]
            out.update(kept[0])
        else:
            out["anyOf"] = kept
    return out


def build_document(endpoints: Sequence[Endpoint], config: Any, *, version: str) -> dict[str, Any]:
    """The whole document; `config` shapes the documented request bodies (form fields)."""
    wanted: list[tuple[type[BaseModel], str]] = [(ErrorBody, "serialization")]
    bodies: dict[str, type[BaseModel]] = {}
    for e in endpoints:
        for model in (e.path_model, e.query_model):
            if model is not None:
                wanted.append((model, "validation"))
        if e.body_model is not None:
            body = e.body_doc(config) if e.body_doc is not None else e.body_model
            bodies[e.operation_id] = body
            wanted.append((body, "validation"))
        wanted += [(a.model, "serialization") for a in e.answers if a.model is not None]
    unique = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(unique, ref_template=REF)  # type: ignore[arg-type]
    components: dict[str, Any] = top.get("$defs", {})

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return refs[(model, mode)]  # type: ignore[index]

    def parameters(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
        if model is None:
            return []
        name = ref(model, "validation")["$ref"].rsplit("/", 1)[-1]
        schema = components[name]
        required = set(schema.get("required", ()))
        return [
            {
                "name": prop,
                "in": where,
                "required": where == "path" or prop in required,
                "schema": _param_schema(spec),
                **({"description": spec["description"]} if "description" in spec else {}),
            }
            for prop, spec in schema.get("properties", {}).items()
        ]

    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        op: dict[str, Any] = {
            "operationId": e.operation_id,
            "summary": e.summary,
            "tags": [e.tag],
            "parameters": parameters(e.path_model, "path") + parameters(e.query_model, "query"),
            "responses": {},
        }
        if e.scope is not None:
            op["security"] = [{"bearer": []}, {}] if e.scope == "read" else [{"bearer": []}]
            op["x-scope"] = e.scope
        if e.idempotent:
            op["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "pattern": "^[!-~]+$",
                    },
                    "description": "A retried POST with this key and body gets the first answer",
                }
            )
        if e.operation_id in bodies:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": ref(bodies[e.operation_id], "validation")}
                },
            }
        elif e.body_media != "application/json":
            op["requestBody"] = {
                "required": True,
                "content": {e.body_media: {"schema": {"type": "string", "format": "binary"}}},
            }
        for answer in e.answers:
            response: dict[str, Any] = {"description": answer.description}
            if answer.model is not None:
                response["content"] = {
                    "application/json": {"schema": ref(answer.model, "serialization")}
                }
            elif answer.media_type is not None:
                schema = (
                    {"type": "string"}
                    if answer.media_type.startswith("text/")
                    else {"type": "string", "format": "binary"}
                )
                response["content"] = {answer.media_type: {"schema": schema}}
            else:
                response["content"] = {
                    "application/json": {"schema": ref(ErrorBody, "serialization")}
                }
            if answer.headers:
                response["headers"] = {
                    name: {"description": text, "schema": {"type": "string"}}
                    for name, text in answer.headers.items()
                }
            op["responses"][str(answer.status)] = response
        for status in _errors(e):
            content: dict[str, Any] = {
                "application/json": {"schema": ref(ErrorBody, "serialization")}
            }
            if status == 400:
                # aiohttp itself refuses a request line over 8 KiB, in plain text.
                content["text/plain"] = {"schema": {"type": "string"}}
            op["responses"].setdefault(
                str(status),
                {
                    "description": ERROR_TEXT[status],
                    "content": content,
                },
            )
        paths.setdefault(e.path, {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "complaint-bot API", "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _errors(e: Endpoint) -> list[int]:
    """The error answers every endpoint of this shape can give (see bot/web/api_core.py)."""
    out = [400]  # a malformed request line or header: any endpoint
    if e.scope is not None:
        out += [401, 403]
    if e.path_model is not None:
        out.append(404)
    if e.body_model is not None or e.body_media != "application/json":
        out += [400, 413, 422]
    if e.idempotent:
        out.append(422)
    if e.method != "GET":
        out.append(409)
    return sorted(set(out))
