"""Project exception types: one root, each carrying what a person needs to act on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """Render ('flows', 'complaint', 'steps', 2, 'assignee') as flows.complaint.steps[2].assignee"""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class BotError(Exception):
    """Root of every error this project raises on purpose."""


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a config object; `path` is relative to the object that was checked."""

    path: Path
    message: str

    def under(self, *prefix: str | int) -> ConfigProblem:
        return ConfigProblem((*prefix, *self.path), self.message)


class ConfigError(BotError):
    """The config file is invalid; carries every problem with its file, line and path."""

    def __init__(self, file: str, problems: Sequence[tuple[int | None, Path, str]]):
        self.file = file
        self.problems = list(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        out = []
        for line, path, message in self.problems:
            where = f"{self.file}:{line}" if line else self.file
            out.append(f"{where}: {format_path(path) or '(top level)'}: {message}")
        return out


class ExpressionError(BotError):
    """An expression failed to parse or evaluate; `position` is the 0-based offset in `source`."""

    def __init__(self, message: str, source: str, position: int):
        self.message = message
        self.source = source
        self.position = position
        super().__init__(f"{message} at position {position + 1}: {source!r}")

    def pointer(self) -> str:
        """The source with a caret under the offending position, for error listings."""
        return f"{self.source}\n{' ' * self.position}^"


class WorkflowError(BotError):
    """A flow definition or workflow state is inconsistent (a bug or a bad definition)."""

    def __init__(self, message: str, *, step: str | None = None, action: str | None = None):
        self.step = step
        self.action = action
        where = ", ".join(p for p in (f"step {step}" if step else "", action or "") if p)
        super().__init__(f"{message} ({where})" if where else message)


class ActionRefused(BotError):
    """An actor may not take an action now; `reason` is short Chinese shown to that person."""

    def __init__(self, reason: str, *, step: str | None = None, action: str | None = None):
        self.reason = reason
        self.step = step
        self.action = action
        super().__init__(reason)


class ChannelError(BotError):
    """A chat platform answered with an error."""

    def __init__(self, channel: str, errcode: int | str, errmsg: str):
        self.channel = channel
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"{channel}: error {errcode}: {errmsg}")


class NotFound(BotError):
    """A complaint, person or other record asked for by id does not exist."""
