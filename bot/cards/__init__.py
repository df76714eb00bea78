"""Platform-neutral cards: what an employee sees of a complaint step and the actions offered."""

from bot.cards.model import (
    TEXT_ACTIONS,
    Card,
    CardAction,
    CardEvent,
    CardField,
    CardInput,
    CardOption,
    CardSelect,
    card_as_text,
)

__all__ = [
    "Card",
    "CardAction",
    "CardEvent",
    "CardField",
    "CardInput",
    "CardOption",
    "CardSelect",
    "TEXT_ACTIONS",
    "card_as_text",
]
