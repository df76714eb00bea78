"""One step's working copy of a dialog: reads the state, applies one message, freezes the result.

Fields are asked in form order: every visible field the chat may ask (ask != false, not computed)
that has no value yet; optional ones can be skipped with 跳过 (or 没有/无). Voice is kept as an
attachment and its recognised words count as typed text (unless the open question is a media
field taking voice). Media sent while another question is open go to the first media field that
takes them, or are kept as attachments of the complaint.
"""

from __future__ import annotations

from typing import Any

from bot.conversation import messages as say
from bot.conversation.classify import command, edit_target, find_number
from bot.conversation.model import (
    Cancelled,
    CustomerInput,
    DialogState,
    DialogTurn,
    Intent,
    ProgressQuery,
    Submit,
)
from bot.forms import (
    FieldDefinition,
    FormContext,
    FormDefinition,
    display_value,
    dump_value,
    is_empty,
    load_values,
    parse_answer,
    required_message,
    validate,
    visible_fields,
)
from bot.forms.choices import pick_option
from bot.forms.scalars import Invalid, bare

# Said to an optional question, these mean "nothing to add" (not for yes/no questions).
_NOTHING = frozenset({"没有", "没有了", "无", "暂无", "没", "不知道", "不清楚"})
# While questions are open only these mean "submit"; 确认/好的 may answer a yes/no question.
_SUBMIT_WORDS = frozenset({"确认提交", "提交", "确定提交"})
_MEDIA_FIELDS = ("image", "file")
_CHOICE_FIELDS = ("select", "multiselect")


class DialogSession:
    """A working copy of the state for one step; `finish` freezes it into the next state."""

    def __init__(self, form: FormDefinition, state: DialogState, ctx: FormContext):
        self.form = form
        self.state = state
        self.ctx = ctx
        self.phase = state.phase
        self.current = state.current
        self.values: dict[str, Any] = dict(state.values)
        self.history: list[str] = list(state.history)
        self.attachments: list[dict[str, str]] = [dict(a) for a in state.attachments]
        self.attempts = state.attempts

    # -- reading the state ------------------------------------------------------------------

    def typed(self) -> dict[str, Any]:
        return load_values(self.form, self.values)

    def askable(self) -> list[FieldDefinition]:
        """Visible fields the chat may ask or change, in form order."""
        return [f for f in visible_fields(self.form, self.typed()) if f.asked]

    def current_field(self) -> FieldDefinition | None:
        field = self.form.field(self.current) if self.current else None
        return field if field is not None and field.asked else None

    def shown(self, field: FieldDefinition) -> str | None:
        value = self.typed().get(field.key)
        return None if is_empty(value) else display_value(field, value)

    def ask(self, field: FieldDefinition) -> str:
        return say.ask(field, current=self.shown(field))

    def prompt(self) -> str:
        """The open question, the summary, or the edit menu, by phase."""
        if self.phase == "choosing_edit":
            return say.edit_menu(self.askable(), self.typed())
        field = self.current_field()
        if self.phase == "asking" and field is not None:
            return self.ask(field)
        typed = self.typed()
        answered = [f for f in self.askable() if not is_empty(typed.get(f.key))]
        return say.summary(self.form, answered, typed)

    # -- changing it --------------------------------------------------------------------------

    def set_value(self, field: FieldDefinition, value: Any) -> None:
        self.values[field.key] = dump_value(value)
        self.history = [k for k in self.history if k != field.key] + [field.key]
        self.attempts = 0

    def finish(self, replies: list[str], intent: Intent | None = None) -> DialogTurn:
        state = DialogState(
            started_at=self.state.started_at,
            updated_at=self.ctx.now,
            phase=self.phase,
            current=self.current if self.phase == "asking" else None,
            values=dict(self.values),
            history=tuple(self.history),
            attachments=tuple(self.attachments),
            attempts=self.attempts,
        )
        text = "\n".join(r for r in replies if r)
        return DialogTurn(state, (text,) if text else (), intent)

    def advance(self, notes: list[str], intent: Intent | None = None) -> DialogTurn:
        """Ask the next unanswered question, or show the summary when none is left."""
        typed = self.typed()
        for field in self.askable():
            missing = is_empty(typed.get(field.key))
            if missing and (field.required or field.key not in self.history):
                self.phase, self.current, self.attempts = "asking", field.key, 0
                return self.finish([*notes, say.ask(field)], intent)
        self.phase, self.current, self.attempts = "confirming", None, 0
        return self.finish([*notes, self.prompt()], intent)

    def ask_again(self, field: FieldDefinition, notes: list[str]) -> DialogTurn:
        self.phase, self.current, self.attempts = "asking", field.key, 0
        return self.finish([*notes, self.ask(field)])

    # -- the message --------------------------------------------------------------------------

    def handle(self, message: CustomerInput) -> DialogTurn:
        ref = message.attachment()
        if message.kind == "voice" and ref is not None and not self.takes_now("voice"):
            # The recording is kept with the complaint; its recognised words count as typed.
            self.attachments.append(ref)
            if not message.recognition:
                return self.finish([say.NOT_UNDERSTOOD_VOICE, self.short_prompt()])
            message = CustomerInput(kind="text", text=message.recognition)
            ref = None
        words = message.words
        action = command(words) if words else None
        if action == "cancel":
            return DialogTurn(None, (say.CANCELLED,), Cancelled())
        if action == "help":
            return self.finish([say.DIALOG_HELP, self.prompt()])
        if action == "progress":
            return self.finish([], ProgressQuery(find_number(words)))
        if action == "start":
            return self.finish([say.IN_PROGRESS, self.prompt()])
        if action == "back":
            return self.back()
        target = edit_target(words) if words else None
        if target is not None:
            turn = self.edit(target)
            if turn is not None:
                return turn
        if self.phase != "asking":
            if ref is not None:
                return self.finish([self.place_attachment(ref), self.short_prompt()])
            if self.phase == "choosing_edit":
                return self.choose_edit(words)
            if action == "confirm":
                return self.submit()
            return self.finish([say.CONFIRM_PROMPT])
        if action == "confirm" and bare(words) in _SUBMIT_WORDS:
            return self.finish([say.FINISH_QUESTIONS_FIRST, self.prompt()])
        field = self.current_field()
        if field is None:  # the form changed under a stored state
            return self.advance([])
        if action == "skip":
            return self.skip(field)
        if action == "done" and field.type in _MEDIA_FIELDS:
            return self.finish_media(field)
        return self.answer(field, message)

    def takes_now(self, kind: str) -> bool:
        """Whether the open question is a media field accepting `kind`."""
        field = self.current_field() if self.phase == "asking" else None
        return field is not None and field.type in _MEDIA_FIELDS and kind in field.accepted_kinds()

    def short_prompt(self) -> str:
        """The prompt, with the summary shortened to how to confirm."""
        return say.CONFIRM_PROMPT if self.phase == "confirming" else self.prompt()

    def submit(self) -> DialogTurn:
        names = {f.key for f in self.form.fields}
        typed = {k: v for k, v in self.typed().items() if k in names}
        result = validate(self.form, typed, self.ctx)
        for problem in result.problems:
            field = self.form.field(problem.key)
            if field is not None and field.asked:
                return self.ask_again(field, [problem.message])
        submitted = Submit(values=result.values, attachments=tuple(self.attachments))
        return DialogTurn(None, (), submitted)

    def back(self) -> DialogTurn:
        if self.phase == "choosing_edit":
            return self.advance([])
        askable = {f.key: f for f in self.askable()}
        earlier = [k for k in self.history if k != self.current and k in askable]
        if not earlier:
            return self.finish([say.ALREADY_FIRST, self.prompt()])
        previous = earlier[-1]
        self.history = self.history[: self.history.index(previous)]
        return self.ask_again(askable[previous], [])

    def edit(self, target: str) -> DialogTurn | None:
        """修改 [项目]: the menu, or straight to that question; None when it names nothing."""
        fields = self.askable()
        if not target:
            self.phase = "choosing_edit"
            return self.finish([self.prompt()])
        try:
            label = pick_option(target, [f.label for f in fields])
        except Invalid:
            if self.phase == "asking":
                return None  # "修改一下包装" may well be an answer
            self.phase = "choosing_edit"
            return self.finish([f"没有找到“{target}”。", self.prompt()])
        return self.ask_again(next(f for f in fields if f.label == label), [])

    def choose_edit(self, words: str) -> DialogTurn:
        fields = self.askable()
        try:
            label = pick_option(words, [f.label for f in fields])
        except Invalid as exc:
            return self.finish([exc.message, self.prompt()])
        return self.ask_again(next(f for f in fields if f.label == label), [])

    def skip(self, field: FieldDefinition) -> DialogTurn:
        if field.type in _MEDIA_FIELDS and not is_empty(self.typed().get(field.key)):
            return self.finish_media(field)
        if field.required:
            return self.finish([say.cannot_skip(field), self.ask(field)])
        self.values.pop(field.key, None)
        self.history = [k for k in self.history if k != field.key] + [field.key]
        return self.advance([])

    def finish_media(self, field: FieldDefinition) -> DialogTurn:
        if field.required and is_empty(self.typed().get(field.key)):
            return self.finish([required_message(field), self.ask(field)])
        self.history = [k for k in self.history if k != field.key] + [field.key]
        return self.advance([])

    def answer(self, field: FieldDefinition, message: CustomerInput) -> DialogTurn:
        ref = message.attachment()
        if field.type in _MEDIA_FIELDS:
            if ref is not None:
                return self.answer_media(field, ref)
            if message.kind == "location":
                return self.finish([say.NOT_NEEDED_HERE, self.ask(field)])
            _, problem = parse_answer(self.form, field.key, message.words or "?", self.ctx)
            return self.wrong(field, problem.message if problem else required_message(field))
        if message.kind == "location" and message.location is not None:
            return self.answer_location(field, message)
        if ref is not None:
            return self.finish([self.place_attachment(ref), self.ask(field)])
        return self.answer_text(field, message.words)

    def answer_text(self, field: FieldDefinition, text: str) -> DialogTurn:
        if not field.required and field.type != "boolean" and bare(text) in _NOTHING:
            return self.skip(field)
        value, problem = parse_answer(self.form, field.key, text, self.ctx)
        if problem is not None:
            return self.wrong(field, problem.message)
        self.set_value(field, value)
        return self.advance([])

    def wrong(self, field: FieldDefinition, reason: str) -> DialogTurn:
        """Re-ask with the reason; choices are listed again, and a hint after three misses."""
        self.attempts += 1
        replies = [reason]
        if field.type in _CHOICE_FIELDS:
            replies.append(self.ask(field))
        if self.attempts >= 3:
            replies.append(say.STUCK_HINT)
        return self.finish(replies)

    def answer_media(self, field: FieldDefinition, ref: dict[str, str]) -> DialogTurn:
        raw: Any = ref
        if field.multiple:
            current = self.typed().get(field.key) or []
            raw = [*current, ref]
        value, problem = parse_answer(self.form, field.key, raw, self.ctx)
        if problem is not None:
            self.attachments.append(ref)  # never lose what the customer sent
            return self.wrong(field, problem.message)
        if not field.multiple:
            self.set_value(field, value)
            return self.advance([])
        self.values[field.key] = dump_value(value)
        self.attempts = 0
        note = say.received(ref["kind"], field, len(value))
        return self.finish([note, say.more_files(field)])

    def answer_location(self, field: FieldDefinition, message: CustomerInput) -> DialogTurn:
        if field.type == "location":
            value, problem = parse_answer(
                self.form, field.key, dict(message.location or {}), self.ctx
            )
            if problem is not None:
                return self.wrong(field, problem.message)
            self.set_value(field, value)
            return self.advance([])
        typed = self.typed()
        for other in self.askable():
            if other.type == "location" and is_empty(typed.get(other.key)):
                value, problem = parse_answer(
                    self.form, other.key, dict(message.location or {}), self.ctx
                )
                if problem is None:
                    self.values[other.key] = dump_value(value)
                    return self.finish([f"已收到位置，已填入“{other.label}”。", self.ask(field)])
        return self.finish([say.NOT_NEEDED_HERE, self.ask(field)])

    def place_attachment(self, ref: dict[str, str]) -> str:
        """Put media sent out of turn into the first media field that takes it, else keep it."""
        typed = self.typed()
        kind = ref["kind"]
        for field in self.askable():
            if field.type not in _MEDIA_FIELDS or kind not in field.accepted_kinds():
                continue
            existing = typed.get(field.key)
            if field.multiple:
                items = [*(existing or []), ref]
                value, problem = parse_answer(self.form, field.key, items, self.ctx)
            elif is_empty(existing):
                value, problem = parse_answer(self.form, field.key, ref, self.ctx)
            else:
                continue
            if problem is None:
                self.values[field.key] = dump_value(value)
                return say.received(kind, field, len(value) if field.multiple else 1)
        self.attachments.append(ref)
        return say.received(kind, None)
