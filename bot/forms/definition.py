"""Form and field definitions as written in config (pydantic at the edge), plus name lookups."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

# Re-exported: one list for forms, flows and rules (bot/domain/reserved.py).
from bot.domain.reserved import RESERVED_NAMES as RESERVED_NAMES

FieldType = Literal[
    "text",
    "textarea",
    "number",
    "money",
    "phone",
    "email",
    "date",
    "datetime",
    "select",
    "multiselect",
    "boolean",
    "rating",
    "image",
    "file",
    "location",
    "person",
    "department",
    "order_number",
    "url",
    "computed",
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)

# Kinds of attachment a file field may accept (image fields accept images only).
ATTACHMENT_KINDS: tuple[str, ...] = ("image", "video", "voice", "file")
KIND_NAMES = {"image": "图片", "video": "视频", "voice": "语音", "file": "文件"}


CHOICE_TYPES = frozenset({"select", "multiselect"})
MEDIA_TYPES = frozenset({"image", "file"})
TEXT_TYPES = frozenset({"text", "textarea"})
NUMERIC_TYPES = frozenset({"number", "money"})
PATTERN_TYPES = frozenset({"text", "order_number"})
MOMENT_TYPES = frozenset({"date", "datetime"})


class FieldDefinition(BaseModel):
    """One field of a form; which options apply depends on `type` (check_form enforces it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=64)
    type: FieldType
    required: bool = False
    # A constant, the word `now` (date/datetime), or {profile: <profile key>}.
    default: Any = None
    help: str | None = None
    visible_if: str | None = None
    # False: the chat never asks it (staff-written, defaulted or computed).
    ask: bool = True
    placeholder: str | None = None
    options: list[str] | None = None
    multiple: bool = False
    accept: list[str] | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    pattern: str | None = None
    pattern_message: str | None = None
    formula: str | None = None

    @property
    def asked(self) -> bool:
        """Whether the chat intake asks this field."""
        return self.ask and self.type != "computed"

    def accepted_kinds(self) -> tuple[str, ...]:
        """Attachment kinds an image/file field takes."""
        if self.type == "image":
            return ("image",)
        return tuple(self.accept) if self.accept else ATTACHMENT_KINDS


class FormDefinition(BaseModel):
    """A form: a title and its fields in the order they are asked and shown."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1)
    fields: list[FieldDefinition] = []

    def field(self, name: str) -> FieldDefinition | None:
        """The field named `name` by key or by label, or None."""
        for candidate in self.fields:
            if candidate.key == name:
                return candidate
        for candidate in self.fields:
            if candidate.label == name:
                return candidate
        return None

    def require(self, name: str) -> FieldDefinition:
        """The field named `name` (key or label); KeyError naming it when absent."""
        found = self.field(name)
        if found is None:
            raise KeyError(f"form '{self.title}' has no field '{name}'")
        return found


def field_names(form: FormDefinition) -> dict[str, str]:
    """Every name a field answers to (its key and its label) mapped to its key."""
    names: dict[str, str] = {}
    for field in form.fields:
        names.setdefault(field.label, field.key)
    for field in form.fields:
        names[field.key] = field.key  # keys win over a label spelled the same
    return names


def profile_default(field: FieldDefinition) -> str | None:
    """The profile key of a `{profile: key}` default, else None."""
    default = field.default
    if isinstance(default, dict) and set(default) == {"profile"}:
        value = default["profile"]
        return value if isinstance(value, str) else None
    return None


def is_now_default(field: FieldDefinition) -> bool:
    return isinstance(field.default, str) and field.default.strip().lower() == "now"
