"""Attachments (image/file fields) and locations: references and coordinates, never the bytes."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.forms.definition import KIND_NAMES
from bot.forms.scalars import Invalid, normalize

_ID_KEYS = ("attachment_id", "media_id")


def kinds_text(kinds: Sequence[str]) -> str:
    """ "图片或视频" for ("image", "video")."""
    names = [KIND_NAMES.get(k, k) for k in kinds]
    return "或".join(names) if len(names) <= 2 else "、".join(names[:-1]) + "或" + names[-1]


def attachment_ref(raw: Any, kinds: Sequence[str]) -> dict[str, str]:
    """{"attachment_id"|"media_id": id, "kind": kind[, "name": ...]} from an API/chat value."""
    wanted = f"请发送{kinds_text(kinds)}"
    if not isinstance(raw, Mapping):
        raise Invalid(wanted)
    ref: dict[str, str] = {}
    for key in _ID_KEYS:
        value = raw.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            ref[key] = str(value).strip()
            break
    if not ref:
        raise Invalid(wanted)
    kind = raw.get("kind") or (kinds[0] if len(kinds) == 1 else "file")
    if kind not in kinds:
        raise Invalid(f"这里需要{kinds_text(kinds)}，您发送的是{KIND_NAMES.get(str(kind), '文件')}")
    ref["kind"] = str(kind)
    name = raw.get("name")
    if isinstance(name, str) and name.strip():
        ref["name"] = name.strip()[:200]
    return ref


def attachment_refs(raw: Any, kinds: Sequence[str], *, multiple: bool) -> Any:
    """One reference, or a list of them when the field takes several."""
    items = list(raw) if isinstance(raw, list | tuple) else [raw]
    refs = [attachment_ref(item, kinds) for item in items]
    if multiple:
        return refs
    if len(refs) != 1:
        raise Invalid(f"这里只需要一个{kinds_text(kinds)}")
    return refs[0]


_COORDINATES = re.compile(r"(-?\d{1,3}(?:\.\d+)?)\s*[,，\s]\s*(-?\d{1,3}(?:\.\d+)?)")
LOCATION_MESSAGE = "请发送位置，或输入详细地址"


def _coordinate(value: Any, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(LOCATION_MESSAGE)
    try:
        number = float(value)
    except ValueError as exc:
        raise Invalid(LOCATION_MESSAGE) from exc
    if not math.isfinite(number) or abs(number) > limit:
        raise Invalid("位置坐标不正确，请重新发送位置")
    return number


def location_value(raw: Any) -> dict[str, Any]:
    """{"lat", "lng", "label"}: from a shared location, "31.23,121.47", or a typed address.

    A typed address has no coordinates (lat/lng None): customers describe places more often than
    they share them, and staff can read an address.
    """
    if isinstance(raw, Mapping):
        lat = raw.get("lat", raw.get("latitude"))
        lng = raw.get("lng", raw.get("longitude"))
        label = raw.get("label") or raw.get("address") or ""
        if not isinstance(label, str):
            raise Invalid(LOCATION_MESSAGE)
        if lat is None and lng is None:
            if not label.strip():
                raise Invalid(LOCATION_MESSAGE)
            return {"lat": None, "lng": None, "label": label.strip()[:200]}
        return {
            "lat": _coordinate(lat, 90),
            "lng": _coordinate(lng, 180),
            "label": label.strip()[:200],
        }
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(LOCATION_MESSAGE)
    found = _COORDINATES.fullmatch(normalize(raw))
    if found:
        return {
            "lat": _coordinate(found.group(1), 90),
            "lng": _coordinate(found.group(2), 180),
            "label": "",
        }
    return {"lat": None, "lng": None, "label": raw.strip()[:200]}
