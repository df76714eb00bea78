"""The playground: a real channel whose delivery is a browser page instead of a chat platform."""

from bot.channels.playground.adapter import PlaygroundAdapter, build_adapter

__all__ = ["PlaygroundAdapter", "build_adapter"]
