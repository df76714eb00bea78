"""The complaint filters for pages that read a raw query string (the console's list).

The REST API itself lives in bot/web/api.py and its api_* modules; this keeps the console's
entry point (`filtered(query, now)`, `BadQuery`) on the very same filters (bot/web/api_query.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import Select

from bot.web.api_core import ApiError
from bot.web.api_params import ComplaintFilter
from bot.web.api_query import filtered as filtered_by

FILTERS = tuple(ComplaintFilter.model_fields)


class BadQuery(web.HTTPBadRequest):
    """A filter that makes no sense; the body is the API's {"errors": [{field, message}]}."""

    def __init__(self, field: str, message: str):
        super().__init__(
            text=web.json_response({"errors": [{"field": field, "message": message}]}).text,
            content_type="application/json",
        )


def filtered(query: Mapping[str, str], now: datetime) -> Select[Any]:
    """The complaints matching a raw query's filters; BadQuery naming the first bad one."""
    data = {key: query[key] for key in FILTERS if query.get(key)}
    if "overdue" in data:  # the console's checkbox: anything but 1/true/yes is off
        data["overdue"] = str(data["overdue"] in ("1", "true", "yes")).lower()
    try:
        return filtered_by(ComplaintFilter.model_validate(data))
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in error["loc"])
        raise BadQuery(field, str(error["msg"]).removeprefix("Value error, ")) from None
    except ApiError as exc:
        raise BadQuery(exc.errors[0].field or "query", exc.errors[0].message) from None
