"""The platform-neutral card: what an employee sees of one complaint step, and what they can do.

Renderers (one per platform, in bot/channels/<platform>/cards.py) turn a Card into a WeCom
template_card, a DingTalk interactive card, playground HTML, or numbered text. A Card is derived
from the complaint and the step alone, so rendering it twice gives the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

CardKind = Literal["task", "escalation", "info"]
Tone = Literal["info", "warning", "danger", "success", "muted"]
ButtonStyle = Literal["primary", "default", "danger"]

# Buttons that mean nothing without typed text (a comment, a reply to the customer). Platforms
# whose cards have no text input (WeCom template cards, DingTalk ActionCards) leave them out:
# there the employee types the text to the bot instead ("回复客户：…").
TEXT_ACTIONS = frozenset({"comment", "reply_customer"})


@dataclass(frozen=True)
class CardField:
    """One key field shown on the card (only fields the step may read)."""

    label: str
    value: str


@dataclass(frozen=True)
class CardEvent:
    """One line of the card's short timeline."""

    at: str  # already formatted for people, local time: "11-23 14:05"
    text: str


@dataclass(frozen=True)
class CardOption:
    id: str
    text: str


@dataclass(frozen=True)
class CardSelect:
    """A choice the card offers (assignee, department); actions listed in `for_actions` read it."""

    key: str  # "assignee" | "department"
    title: str
    options: tuple[CardOption, ...]
    selected: str | None = None
    for_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardInput:
    """A free-text input, on platforms that have one (DingTalk cards, the playground)."""

    key: str  # a form field key ("solution"), or "comment" / "reason"
    label: str
    required: bool = False
    placeholder: str = ""
    for_actions: tuple[str, ...] = ()


@dataclass(frozen=True)
class CardAction:
    """A button. `id` is the workflow action (accept, transfer, submit, approve, reject, ...)."""

    id: str
    label: str
    style: ButtonStyle = "default"


@dataclass(frozen=True)
class Card:
    """Everything a renderer needs; `ref` ties a click back to (complaint, task, person)."""

    ref: str
    kind: CardKind
    complaint_number: str
    title: str
    badge: str
    badge_tone: Tone = "info"
    subtitle: str = ""
    fields: tuple[CardField, ...] = ()
    timeline: tuple[CardEvent, ...] = ()
    actions: tuple[CardAction, ...] = ()
    selects: tuple[CardSelect, ...] = ()
    inputs: tuple[CardInput, ...] = ()
    # Set once the task is settled: "已由 张三 受理 · 11-23 14:05". A settled card has no actions.
    outcome: str | None = None
    # A message for this viewer only, e.g. why their click was refused.
    notice: str | None = None
    url: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)

    @property
    def settled(self) -> bool:
        return self.outcome is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, stored in outbox payloads."""
        data = asdict(self)
        data["meta"] = dict(self.meta)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Card:
        return cls(
            ref=data["ref"],
            kind=data["kind"],
            complaint_number=data["complaint_number"],
            title=data["title"],
            badge=data["badge"],
            badge_tone=data.get("badge_tone", "info"),
            subtitle=data.get("subtitle", ""),
            fields=tuple(CardField(**f) for f in data.get("fields", ())),
            timeline=tuple(CardEvent(**e) for e in data.get("timeline", ())),
            actions=tuple(CardAction(**a) for a in data.get("actions", ())),
            selects=tuple(
                CardSelect(
                    key=s["key"],
                    title=s["title"],
                    options=tuple(CardOption(**o) for o in s.get("options", ())),
                    selected=s.get("selected"),
                    for_actions=tuple(s.get("for_actions", ())),
                )
                for s in data.get("selects", ())
            ),
            inputs=tuple(
                CardInput(**{**i, "for_actions": tuple(i.get("for_actions", ()))})
                for i in data.get("inputs", ())
            ),
            outcome=data.get("outcome"),
            notice=data.get("notice"),
            url=data.get("url"),
            meta=dict(data.get("meta", {})),
        )

    def with_notice(self, notice: str | None) -> Card:
        return replace(self, notice=notice)

    def without_free_text(self) -> Card:
        """The card for a platform without text inputs: no text-only buttons, no inputs."""
        actions = tuple(a for a in self.actions if a.id not in TEXT_ACTIONS)
        selects = tuple(s for s in self.selects if _still_used(s.for_actions, actions))
        return replace(self, actions=actions, selects=selects, inputs=())

    def settle(self, outcome: str) -> Card:
        """The same card with the outcome shown and every control removed."""
        return replace(self, outcome=outcome, actions=(), selects=(), inputs=())


def _still_used(for_actions: tuple[str, ...], actions: tuple[CardAction, ...]) -> bool:
    return not for_actions or any(a.id in for_actions for a in actions)


def card_as_text(card: Card) -> str:
    """Numbered plain text: the fallback wherever a platform cannot show the card itself."""
    lines = [f"【{card.title}】{card.badge}"]
    if card.subtitle:
        lines.append(card.subtitle)
    lines.extend(f"{f.label}：{f.value}" for f in card.fields)
    if card.timeline:
        lines.append("—— 进展 ——")
        lines.extend(f"{e.at} {e.text}" for e in card.timeline)
    if card.outcome:
        lines.append(card.outcome)
    if card.notice:
        lines.append(f"提示：{card.notice}")
    if card.actions:
        lines.append("—— 可回复 ——")
        lines.extend(
            f"{a.label} {card.complaint_number}" + (" 内容" if a.id in TEXT_ACTIONS else "")
            for a in card.actions
        )
    return "\n".join(lines)
