"""The syntax tree: small frozen nodes, each with the 0-based source position errors point at."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Logical:
    """'and' / 'or': short-circuit, always true or false."""

    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Binary:
    """Comparisons and arithmetic; `pos` is the operator's position."""

    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    pos: int


Node = Literal | Name | ListOf | Negate | Not | Logical | Binary | Call


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, ListOf):
        return node.items
    if isinstance(node, Negate | Not):
        return (node.operand,)
    if isinstance(node, Logical | Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, without recursion (trees are bounded, but stay iterative)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def depth(node: Node) -> int:
    """Height of the tree, computed iteratively so a deep tree cannot overflow the stack."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest
