"""Delivery: the outbox relay, per-target pacing, timer ticks, access tokens and /metrics.

Import from the modules (bot.delivery.relay, .pacing, .timers, .metrics, .outbox): this package
must not import them itself, because bot.channels.base imports bot.delivery.tokens and the relay
imports bot.channels.base.
"""
