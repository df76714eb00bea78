"""Parsed expressions: which names they read, and their value in an environment."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import ExpressionError
from bot.expr.functions import FUNCTIONS
from bot.expr.lexer import KEYWORDS
from bot.expr.nodes import Binary, Call, ListOf, Literal, Logical, Name, Negate, Node, Not, walk
from bot.expr.parser import parse_tree
from bot.expr.values import (
    EvalProblem,
    arithmetic,
    contains,
    equal,
    kind_of,
    negate,
    order,
    truthy,
)


@dataclass(frozen=True)
class Expression:
    """A parsed expression; build it with parse(). Evaluation never runs Python code."""

    source: str
    names: frozenset[str]  # every identifier the expression reads
    tree: Node = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.source

    def name_positions(self) -> list[tuple[str, int]]:
        """Each identifier read, once, at its first position, in source order."""
        first: dict[str, int] = {}
        for node in walk(self.tree):
            if isinstance(node, Name):
                first[node.name] = min(node.pos, first.get(node.name, node.pos))
        return sorted(first.items(), key=lambda item: item[1])

    def unknown_names(self, known: Collection[str]) -> list[ExpressionError]:
        """One error per identifier not in `known`, at its first position, with a suggestion."""
        return [
            ExpressionError(unknown_field_message(name, known), self.source, pos)
            for name, pos in self.name_positions()
            if name not in known
        ]

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """The value of the expression; ExpressionError on an unknown name or a type error."""
        return _Evaluator(self.source, env).value(self.tree)

    def is_true(self, env: Mapping[str, Any]) -> bool:
        """Evaluate as a condition: None, false, 0 and empty text or lists count as false."""
        return truthy(self.evaluate(env))


def parse(source: str) -> Expression:
    """Parse an expression; ExpressionError(message, source, 0-based position) on syntax errors."""
    tree = parse_tree(source)
    names = frozenset(node.name for node in walk(tree) if isinstance(node, Name))
    return Expression(source, names, tree)


def unknown_field_message(name: str, known: Collection[str]) -> str:
    """ "unknown field 'x'" plus the closest known names, for expressions and templates alike."""
    message = f"unknown field '{name}'"
    if name.lower() in KEYWORDS:
        return f"{message} (did you mean the keyword '{name.lower()}'?)"
    if name.lower() == "none":
        return f"{message} (did you mean 'null'?)"
    close = difflib.get_close_matches(name, [str(k) for k in known], n=3, cutoff=0.6)
    if close:
        return f"{message} (did you mean {' or '.join(repr(c) for c in close)}?)"
    return message


class _Evaluator:
    def __init__(self, source: str, env: Mapping[str, Any]):
        self.source = source
        self.env = env

    def fail(self, message: str, pos: int) -> ExpressionError:
        return ExpressionError(message, self.source, pos)

    def value(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Name):
            try:
                return self.env[node.name]
            except KeyError:
                raise self.fail(f"unknown field '{node.name}'", node.pos) from None
        if isinstance(node, Logical):
            left = truthy(self.value(node.left))
            if node.op == "and":
                return left and truthy(self.value(node.right))
            return left or truthy(self.value(node.right))
        if isinstance(node, Not):
            return not truthy(self.value(node.operand))
        if isinstance(node, ListOf):
            return [self.value(item) for item in node.items]
        try:
            if isinstance(node, Binary):
                return self.binary(node)
            if isinstance(node, Negate):
                return negate(self.value(node.operand))
            if isinstance(node, Call):
                args = [self.value(arg) for arg in node.args]
                return FUNCTIONS[node.function].impl(*args)
        except EvalProblem as problem:
            raise self.fail(problem.message, node.pos) from None
        raise AssertionError(f"unhandled node {node!r}")  # pragma: no cover

    def binary(self, node: Binary) -> Any:
        left = self.value(node.left)
        right = self.value(node.right)
        op = node.op
        if op == "==":
            return equal(left, right)
        if op == "!=":
            return not equal(left, right)
        if op in ("<", "<=", ">", ">="):
            return order(op, left, right)
        if op in ("in", "not in"):
            if right is not None and not isinstance(right, str | list | tuple | set | frozenset):
                raise EvalProblem(f"'{op}' needs a list or text on its right, not {kind_of(right)}")
            found = contains(right, left)
            return found if op == "in" else not found
        if op == "contains":
            if left is not None and not isinstance(left, str | list | tuple | set | frozenset):
                raise EvalProblem(
                    f"'contains' needs a list or text on its left, not {kind_of(left)}"
                )
            return contains(left, right)
        return arithmetic(op, left, right)
