"""Platform-neutral cards: what an employee sees of a complaint step and the actions offered."""

from bot.cards.model import (
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
    "card_as_text",
]
