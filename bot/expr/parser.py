"""Pratt (precedence-climbing) parser: tokens -> tree, with errors that say what to write."""

from __future__ import annotations

from bot.errors import ExpressionError
from bot.expr.functions import FUNCTIONS
from bot.expr.lexer import Token, tokenize
from bot.expr.nodes import Binary, Call, ListOf, Literal, Logical, Name, Negate, Node, Not, depth

MAX_SOURCE_LENGTH = 2000
MAX_NESTING = 50  # brackets, calls, 'not' and unary '-' inside one another
MAX_DEPTH = 100  # height of the tree, so evaluation recursion stays well under Python's limit

COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in", "contains"})
# Binding power of each infix operator: a higher number binds tighter.
INFIX_POWER = {
    "or": 10,
    "and": 20,
    **{op: 40 for op in COMPARISONS},
    "+": 50,
    "-": 50,
    "*": 60,
    "/": 60,
    "%": 60,
}
NOT_POWER = 30  # not a == b  means  not (a == b)
NEGATE_POWER = 70  # -a * b  means  (-a) * b
_LITERAL_KEYWORDS = {"true": True, "false": False, "null": None}


def parse_tree(source: str) -> Node:
    """Parse `source` into a tree; ExpressionError with the position of the first problem."""
    if not isinstance(source, str):
        raise ExpressionError(f"an expression must be text, got {source!r}", str(source), 0)
    if len(source) > MAX_SOURCE_LENGTH:
        raise ExpressionError(
            f"expression is too long ({len(source)} characters; the limit is {MAX_SOURCE_LENGTH})",
            source,
            MAX_SOURCE_LENGTH,
        )
    parser = _Parser(source, tokenize(source))
    tree = parser.parse()
    if depth(tree) > MAX_DEPTH:
        raise ExpressionError(
            f"expression is too complex (more than {MAX_DEPTH} levels); split it up", source, 0
        )
    return tree


class _Parser:
    def __init__(self, source: str, tokens: list[Token]):
        self.source = source
        self.tokens = tokens
        self.index = 0
        self.nesting = 0

    def error(self, message: str, pos: int) -> ExpressionError:
        return ExpressionError(message, self.source, pos)

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("empty expression", 0)
        tree = self.expression(0, after=None)
        token = self.peek()
        if token.kind != "end":
            if token.text in (")", "]"):
                raise self.error(f"unmatched '{token.text}'", token.pos)
            raise self.error(
                f"unexpected '{token.text}' after a complete value "
                "(missing an operator such as 'and' or '=='?)",
                token.pos,
            )
        return tree

    def infix_operator(self) -> tuple[str, int] | None:
        token = self.peek()
        if token.kind == "keyword" and token.text == "not":
            following = self.peek(1)
            if following.kind == "keyword" and following.text == "in":
                return "not in", 2
            raise self.error(
                "'not' here must be followed by 'in' (as in: x not in [...])", token.pos
            )
        if token.text in INFIX_POWER and token.kind in ("op", "keyword"):
            return token.text, 1
        return None

    def expression(self, min_power: int, after: Token | None) -> Node:
        left = self.prefix(after)
        compared = False
        while True:
            found = self.infix_operator()
            if found is None:
                return left
            op, size = found
            power = INFIX_POWER[op]
            if power <= min_power:
                return left
            token = self.peek()
            if op in COMPARISONS and compared:
                raise self.error(
                    f"comparisons cannot be chained: join them with 'and' (before '{op}')",
                    token.pos,
                )
            for _ in range(size):
                self.advance()
            right = self.expression(power, after=token)
            if op in ("and", "or"):
                left = Logical(op, left, right, token.pos)
            else:
                left = Binary(op, left, right, token.pos)
            compared = op in COMPARISONS

    def nested(self, token: Token) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise self.error(
                f"expression is nested too deeply (over {MAX_NESTING} levels)", token.pos
            )

    def prefix(self, after: Token | None) -> Node:
        token = self.advance()
        if token.kind in ("number", "string", "duration", "date"):
            return Literal(token.value, token.pos)
        if token.kind == "keyword" and token.text in _LITERAL_KEYWORDS:
            return Literal(_LITERAL_KEYWORDS[token.text], token.pos)
        if token.kind == "name":
            if not token.text.startswith("`") and self.peek().text == "(":
                return self.call(token)
            return Name(token.value, token.pos)
        if token.text == "(" and token.kind == "op":
            self.nested(token)
            inner = self.expression(0, after=token)
            self.expect(")", f"missing ')' to close the '(' at column {token.pos + 1}")
            self.nesting -= 1
            return inner
        if token.text == "[" and token.kind == "op":
            return self.list_literal(token)
        if token.text == "-" and token.kind == "op":
            self.nested(token)
            operand = self.expression(NEGATE_POWER, after=token)
            self.nesting -= 1
            return Negate(operand, token.pos)
        if token.text == "not" and token.kind == "keyword":
            self.nested(token)
            operand = self.expression(NOT_POWER, after=token)
            self.nesting -= 1
            return Not(operand, token.pos)
        raise self.missing_value(token, after)

    def missing_value(self, token: Token, after: Token | None) -> ExpressionError:
        where = f" after '{after.text}'" if after is not None else ""
        if token.kind == "end":
            return self.error(f"expected a value{where}", token.pos)
        return self.error(f"expected a value{where} but found '{token.text}'", token.pos)

    def expect(self, text: str, message: str) -> Token:
        token = self.peek()
        if token.kind != "op" or token.text != text:
            raise self.error(message, token.pos)
        return self.advance()

    def list_literal(self, opening: Token) -> Node:
        self.nested(opening)
        items: list[Node] = []
        while not (self.peek().kind == "op" and self.peek().text == "]"):
            items.append(
                self.expression(0, after=opening if not items else self.tokens[self.index - 1])
            )
            token = self.peek()
            if token.kind == "op" and token.text == ",":
                self.advance()
            elif not (token.kind == "op" and token.text == "]"):
                raise self.error(
                    f"expected ',' or ']' in the list opened at column {opening.pos + 1}",
                    token.pos,
                )
        self.advance()
        self.nesting -= 1
        return ListOf(tuple(items), opening.pos)

    def call(self, name: Token) -> Node:
        function = FUNCTIONS.get(name.text)
        if function is None:
            available = ", ".join(sorted(FUNCTIONS))
            raise self.error(f"unknown function '{name.text}' (available: {available})", name.pos)
        opening = self.advance()
        self.nested(opening)
        args: list[Node] = []
        while not (self.peek().kind == "op" and self.peek().text == ")"):
            args.append(self.expression(0, after=self.tokens[self.index - 1]))
            token = self.peek()
            if token.kind == "op" and token.text == ",":
                self.advance()
            elif not (token.kind == "op" and token.text == ")"):
                raise self.error(
                    f"expected ',' or ')' in the call to {name.text}() at column {name.pos + 1}",
                    token.pos,
                )
        self.advance()
        self.nesting -= 1
        if not function.min_args <= len(args) <= function.max_args:
            raise self.error(f"{function.signature} takes {function.arity_text}", name.pos)
        return Call(name.text, tuple(args), name.pos)
