"""A test driver for the intake dialog that saves and reloads the state at every step.

Like SpiffWorkflow's with_save_load: each state goes through to_dict -> JSON -> from_dict before
the next message, so a field that does not survive storage fails the very test that uses it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot.conversation import CustomerInput, DialogState, DialogTurn, step
from bot.forms import FormContext, FormDefinition
from tests.unit.forms.example import example_form, make_ctx


class Chat:
    def __init__(
        self,
        form: FormDefinition | None = None,
        *,
        profile: dict[str, Any] | None = None,
        idle_timeout: timedelta | None = None,
    ):
        self.form = form or example_form()
        self.ctx: FormContext = make_ctx(profile)
        self.idle_timeout = idle_timeout
        self.state: DialogState | None = None
        self.turn: DialogTurn | None = None

    def send(self, text: str | None = None, **message: Any) -> DialogTurn:
        """Send text (or a CustomerInput's fields) and return the turn."""
        inbound = CustomerInput(**({"text": text} if text is not None else {}), **message)
        turn = step(self.form, self.state, inbound, self.ctx, idle_timeout=self.idle_timeout)
        assert all(isinstance(r, str) and r for r in turn.replies)
        if turn.state is not None:
            stored = json.dumps(turn.state.to_dict(), ensure_ascii=False)
            restored = DialogState.from_dict(json.loads(stored))
            assert restored == turn.state
            assert turn.state.updated_at == self.ctx.now
            self.state = restored
        else:
            self.state = None
        self.turn = turn
        return turn

    def say(self, text: str) -> str:
        """Send text and return the single reply."""
        turn = self.send(text)
        assert len(turn.replies) == 1, turn.replies
        return turn.replies[0]

    def wait(self, delta: timedelta) -> None:
        self.ctx = replace(self.ctx, now=self.ctx.now + delta)

    @property
    def asking(self) -> str | None:
        """Key of the question open now (None at the summary or with no dialog)."""
        if self.state is None or self.state.phase != "asking":
            return None
        return self.state.current

    @property
    def phase(self) -> str | None:
        return self.state.phase if self.state else None
