"""The dialog's plain data: what the customer sent, what the service must do, the saved state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from bot.errors import BotError

InputKind = Literal["text", "image", "voice", "video", "location", "file", "click"]
MEDIA_KINDS = frozenset({"image", "voice", "video", "file"})


@dataclass(frozen=True)
class CustomerInput:
    """One message from the customer, already parsed by the channel adapter.

    Media arrive as references: `attachment_id` once the service has stored the file, else the
    platform's `media_id`. `recognition` is the platform's speech-to-text of a voice message;
    `text` of a click is the menu item's key or name.
    """

    kind: InputKind = "text"
    text: str = ""
    media_id: str | None = None
    attachment_id: str | None = None
    location: Mapping[str, Any] | None = None  # {lat, lng, label}
    recognition: str | None = None

    def attachment(self) -> dict[str, str] | None:
        """The attachment reference of a media message: {"attachment_id"|"media_id", "kind"}."""
        if self.kind not in MEDIA_KINDS:
            return None
        if self.attachment_id:
            return {"attachment_id": self.attachment_id, "kind": self.kind}
        if self.media_id:
            return {"media_id": self.media_id, "kind": self.kind}
        return None

    @property
    def words(self) -> str:
        """What the customer said in words: typed text, a click's key, or recognised speech."""
        if self.kind in ("text", "click"):
            return self.text or ""
        if self.kind == "voice":
            return self.recognition or ""
        return ""


@dataclass(frozen=True)
class StartIntake:
    """The customer wants to complain; `text` is what they wrote (it may hold the description)."""

    text: str = ""


@dataclass(frozen=True)
class ProgressQuery:
    """List the customer's open complaints, or show the one with this number."""

    number: str | None = None


@dataclass(frozen=True)
class Help:
    """The customer asked what they can do; the reply already says it."""


@dataclass(frozen=True)
class Submit:
    """Create the complaint from these validated values plus the media placed in no field."""

    values: Mapping[str, Any]
    attachments: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True)
class Cancelled:
    """The customer abandoned the intake (or it expired)."""

    reason: Literal["customer", "expired"] = "customer"


@dataclass(frozen=True)
class SurveyAnswer:
    """A satisfaction score 1-5 and the words around it."""

    score: int
    comment: str = ""


Intent = StartIntake | ProgressQuery | Help | Submit | Cancelled | SurveyAnswer

Phase = Literal["asking", "confirming", "choosing_edit"]
PHASES: tuple[Phase, ...] = ("asking", "confirming", "choosing_edit")
STATE_VERSION = 1


class DialogStateError(BotError):
    """Stored dialog state cannot be read (corrupt, or written by a newer version)."""


@dataclass(frozen=True)
class DialogState:
    """Where an intake stands. Values are JSON-safe (forms.dump_value), so the state stores as is.

    phase: asking `current`; confirming the summary; choosing_edit (which field to change).
    history: keys the customer answered or skipped, in order; 上一步 walks it back.
    attachments: media received that belong to no field (e.g. voice), submitted with the rest.
    attempts: wrong answers in a row to the current question.
    """

    started_at: datetime
    updated_at: datetime
    phase: Phase = "asking"
    current: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    history: tuple[str, ...] = ()
    attachments: tuple[Mapping[str, str], ...] = ()
    attempts: int = 0
    version: int = STATE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict for storage."""
        return {
            "version": self.version,
            "phase": self.phase,
            "current": self.current,
            "values": dict(self.values),
            "history": list(self.history),
            "attachments": [dict(a) for a in self.attachments],
            "attempts": self.attempts,
            "started_at": self.started_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DialogState:
        """The state saved by to_dict (older versions migrated); DialogStateError if unreadable."""
        try:
            version = int(data.get("version", 0))
            if version > STATE_VERSION:
                raise DialogStateError(f"dialog state version {version} is newer than this code")
            data = _migrate(dict(data), version)
            phase = data["phase"]
            if phase not in PHASES:
                raise DialogStateError(f"unknown dialog phase {phase!r}")
            started = datetime.fromisoformat(data["started_at"])
            updated = datetime.fromisoformat(data["updated_at"])
            if started.tzinfo is None or updated.tzinfo is None:
                raise DialogStateError("dialog state times must carry a time zone")
            return cls(
                started_at=started,
                updated_at=updated,
                phase=phase,
                current=data.get("current"),
                values=dict(data.get("values") or {}),
                history=tuple(str(k) for k in data.get("history") or ()),
                attachments=tuple(
                    {str(k): str(v) for k, v in a.items()} for a in data.get("attachments") or ()
                ),
                attempts=int(data.get("attempts") or 0),
                version=STATE_VERSION,
            )
        except DialogStateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DialogStateError(f"unreadable dialog state: {exc!r}") from exc

    def evolve(self, **changes: Any) -> DialogState:
        return replace(self, **changes)


def _migrate(data: dict[str, Any], version: int) -> dict[str, Any]:
    """Bring an older saved state up to STATE_VERSION, one version at a time."""
    for migrate in _MIGRATIONS[version:]:
        data = migrate(data)
    return data


def _from_v0(data: dict[str, Any]) -> dict[str, Any]:
    # Version 0 is a state saved before versions existed: the same keys, no counter.
    data.setdefault("attempts", 0)
    return data


_MIGRATIONS = [_from_v0]


@dataclass(frozen=True)
class DialogTurn:
    """The outcome of one step: the state to store (None: no dialog), replies, and an intent."""

    state: DialogState | None
    replies: tuple[str, ...] = ()
    intent: Intent | None = None
