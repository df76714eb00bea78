"""The chat intake as a pure state machine: (form, state, message, context) -> turn.

Outside a dialog a message is classified (投诉 starts one, 进度 or a complaint number asks for
progress, 帮助 gets help); free text that reads as a description, or a photo, opens an intake
with it already filled in. Defaults and the customer's profile (name, phone) fill fields before
the first question, so they are never asked. session.py holds the dialog itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.conversation import messages as say
from bot.conversation.classify import (
    classify,
    complaint_details,
    is_greeting,
)
from bot.conversation.model import (
    MEDIA_KINDS,
    Cancelled,
    CustomerInput,
    DialogState,
    DialogTurn,
    Help,
    ProgressQuery,
    StartIntake,
)
from bot.conversation.session import DialogSession
from bot.forms import (
    FieldDefinition,
    FormContext,
    FormDefinition,
    defaults,
    dump_value,
    parse_answer,
)


def is_expired(state: DialogState, now: datetime, idle: timedelta) -> bool:
    """Whether the customer has been silent longer than `idle`."""
    return now - state.updated_at > idle


def description_field(form: FormDefinition) -> FieldDefinition | None:
    """Where free text that opens a conversation goes: the first asked textarea."""
    areas = [f for f in form.fields if f.asked and f.type == "textarea"]
    required = [f for f in areas if f.required]
    return (required or areas or [None])[0]


def step(
    form: FormDefinition,
    state: DialogState | None,
    message: CustomerInput,
    ctx: FormContext,
    *,
    idle_timeout: timedelta | None = None,
) -> DialogTurn:
    """One customer message in, the next state, the replies and any intent for the service out."""
    if state is not None and idle_timeout is not None and is_expired(state, ctx.now, idle_timeout):
        fresh = _outside(form, message, ctx, free_text=False)
        replies = (say.expired_message(idle_timeout), *fresh.replies)
        return DialogTurn(fresh.state, replies, fresh.intent or Cancelled("expired"))
    if state is None:
        return _outside(form, message, ctx, free_text=True)
    return DialogSession(form, state, ctx).handle(message)


def expire(state: DialogState, idle_timeout: timedelta) -> DialogTurn:
    """The turn for an intake the service ends on a timer: a polite message, no state."""
    return DialogTurn(None, (say.expired_message(idle_timeout),), Cancelled("expired"))


def prompt(form: FormDefinition, state: DialogState, ctx: FormContext) -> str:
    """What the customer is being asked right now (to repeat it after a progress answer)."""
    return DialogSession(form, state, ctx).prompt()


def _outside(
    form: FormDefinition, message: CustomerInput, ctx: FormContext, *, free_text: bool
) -> DialogTurn:
    """A message with no dialog open: an intent, or free text/media that opens one."""
    words = message.words
    intent = classify(words, click=message.kind == "click") if words else None
    if isinstance(intent, StartIntake):
        return _start(form, ctx, message, complaint_details(words), intent)
    if isinstance(intent, ProgressQuery):
        return DialogTurn(None, (), intent)
    if isinstance(intent, Help):
        return DialogTurn(None, (say.HELP,), intent)
    if not free_text:
        return DialogTurn(None, ())
    if message.kind == "click":
        return DialogTurn(None, (say.HELP,))
    if message.kind in MEDIA_KINDS and message.kind != "voice" and message.attachment():
        return _start(form, ctx, message, "", StartIntake())
    area = description_field(form)
    if words and area is not None and not is_greeting(words):
        _, problem = parse_answer(form, area.key, words, ctx)
        if problem is None:
            return _start(form, ctx, message, words, StartIntake(text=words))
    return DialogTurn(None, (say.HELP,))


def _start(
    form: FormDefinition,
    ctx: FormContext,
    message: CustomerInput,
    details: str,
    intent: StartIntake,
) -> DialogTurn:
    state = DialogState(started_at=ctx.now, updated_at=ctx.now)
    dialog = DialogSession(form, state, ctx)
    for key, value in defaults(form, ctx).items():
        dialog.values[key] = dump_value(value)
    notes = [say.WELCOME]
    area = description_field(form)
    if details and area is not None:
        value, problem = parse_answer(form, area.key, details, ctx)
        if problem is None:
            dialog.set_value(area, value)
            notes.append(say.DESCRIPTION_KEPT)
    ref = message.attachment()
    if ref is not None:
        notes.append(dialog.place_attachment(ref))
    return dialog.advance(notes, intent)
