"""Chat intake: a form-driven dialog as a pure state machine, plus message classification."""

from __future__ import annotations

from bot.conversation.classify import (
    classify,
    command,
    complaint_details,
    find_number,
    parse_survey_answer,
)
from bot.conversation.dialog import description_field, expire, is_expired, prompt, step
from bot.conversation.messages import HELP, expired_message, submitted_message
from bot.conversation.model import (
    STATE_VERSION,
    Cancelled,
    CustomerInput,
    DialogState,
    DialogStateError,
    DialogTurn,
    Help,
    InputKind,
    Intent,
    ProgressQuery,
    StartIntake,
    Submit,
    SurveyAnswer,
)

__all__ = [
    "HELP",
    "STATE_VERSION",
    "Cancelled",
    "CustomerInput",
    "DialogState",
    "DialogStateError",
    "DialogTurn",
    "Help",
    "InputKind",
    "Intent",
    "ProgressQuery",
    "StartIntake",
    "Submit",
    "SurveyAnswer",
    "classify",
    "command",
    "complaint_details",
    "description_field",
    "expire",
    "expired_message",
    "find_number",
    "is_expired",
    "parse_survey_answer",
    "prompt",
    "step",
    "submitted_message",
]
