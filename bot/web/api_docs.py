"""Request bodies as the config shapes them, for the OpenAPI document (pydantic create_model).

The server validates the generic shape (bot/web/api_models.py) and then the form engine checks
every value with Chinese messages; these models tell a caller which fields the form has, their
types, options and limits. Keys are field keys; labels are accepted too.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from bot.config.loader import LoadedConfig
from bot.forms import FieldDefinition, FormDefinition
from bot.forms.definition import profile_default
from bot.web.api_models import ActionIn, ApiModel, ComplaintCreate, ComplaintPatch, CustomerIn


class LocationValue(ApiModel):
    lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    lng: Annotated[float, Field(ge=-180, le=180)] | None = None
    label: Annotated[str, Field(max_length=200)] = ""


class AttachmentRef(ApiModel):
    attachment_id: Annotated[str, Field(pattern=r"^\d{1,15}$")]
    kind: Literal["image", "video", "voice", "file"] = "file"
    name: Annotated[str, Field(max_length=200)] | None = None


def _choice(options: list[str] | tuple[str, ...]) -> Any:
    return Literal[tuple(options)] if options else str  # type: ignore[valid-type]


def field_type(f: FieldDefinition, config: LoadedConfig) -> Any:
    """The Python type a field's JSON value has (constraints as pydantic Field metadata)."""
    kind = f.type
    if kind == "phone":  # what is stored; spaces, dashes and +86 are accepted too
        return Annotated[str, Field(pattern=r"^1[3-9]\d{9}$")]
    if kind in ("text", "textarea", "email", "url", "order_number"):
        limits: dict[str, Any] = {}
        if f.max_length:
            limits["max_length"] = f.max_length
        if f.min_length:
            limits["min_length"] = f.min_length
        if f.pattern:
            limits["pattern"] = f.pattern
        return Annotated[str, Field(**limits)] if limits else str
    if kind in ("number", "money"):
        bounds = {k: v for k, v in (("ge", f.min), ("le", f.max)) if v is not None}
        return Annotated[Decimal, Field(**bounds)] if bounds else Decimal
    if kind == "date":
        return date
    if kind == "datetime":
        return datetime
    if kind == "select":
        return _choice(f.options or [])
    if kind == "multiselect":
        return list[_choice(f.options or [])]  # type: ignore[misc]
    if kind == "boolean":
        return bool
    if kind == "rating":
        return Annotated[int, Field(ge=1, le=5)]
    if kind in ("image", "file"):
        return list[AttachmentRef] if f.multiple else AttachmentRef
    if kind == "location":
        return LocationValue
    if kind == "person":
        return _choice(sorted(config.directory.people))
    if kind == "department":
        return _choice(sorted(config.directory.departments))
    return Any


def values_model(
    name: str,
    form: FormDefinition,
    config: LoadedConfig,
    *,
    only: set[str] | None = None,
    required: bool = True,
) -> type[BaseModel]:
    """A model with one optional field per form field (required ones required, unless hidden)."""
    fields: dict[str, Any] = {}
    for index, f in enumerate(form.fields):
        if f.type == "computed" or (only is not None and f.key not in only):
            continue
        # A profile default ({profile: name}) only helps a caller whose customer is known.
        defaulted = f.default is not None and profile_default(f) is None
        needed = required and f.required and f.visible_if is None and not defaulted
        kind = field_type(f, config)
        info = Field(alias=f.key, title=f.label, description=f.help)
        fields[f"f{index}"] = (
            (kind, info)
            if needed
            else (kind | None, Field(None, alias=f.key, title=f.label, description=f.help))
        )
    return create_model(  # type: ignore[call-overload, no-any-return]
        name, __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields
    )


def intake_form(config: LoadedConfig) -> FormDefinition:
    return config.forms[config.flows[config.intake_flow].form]


def writable_keys(config: LoadedConfig) -> set[str]:
    """What PATCH may change: api.writable_fields, or the fields the intake asks."""
    form = intake_form(config)
    names = config.api.writable_fields
    if names is None:
        return {f.key for f in form.fields if f.asked and f.type not in ("image", "file")}
    return {form.require(n).key for n in names if form.field(n) is not None}


def create_body(config: LoadedConfig) -> type[BaseModel]:
    values = values_model("ComplaintValues", intake_form(config), config)
    return create_model(
        "ComplaintCreateDoc",
        __base__=ComplaintCreate,
        values=(values, Field(description="Form values by field key (labels are accepted too)")),
        customer=(CustomerIn | None, None),
    )


def patch_body(config: LoadedConfig) -> type[BaseModel]:
    values = values_model(
        "WritableValues", intake_form(config), config, only=writable_keys(config), required=False
    )
    return create_model(
        "ComplaintPatchDoc",
        __base__=ComplaintPatch,
        values=(values, Field(description="The fields to change")),
    )


def action_body(config: LoadedConfig) -> type[BaseModel]:
    people = sorted(config.directory.people)
    person = Annotated[_choice(people), Field(description="The staff member (people: id)")]
    values = values_model("ActionValues", intake_form(config), config, required=False)
    return create_model(
        "ActionDoc",
        __base__=ActionIn,
        person=(person, ...),
        values=(values | None, Field(None, description="Fields written on submit")),
    )
