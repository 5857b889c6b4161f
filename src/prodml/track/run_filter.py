"""The run filter language, parsed into :mod:`prodml.domain.run_query` records.

::

    metrics.auc > 0.8 and (config.depth = 6 or params.opt in (adam, sgd))
    hypothesis ~ 'more trees' and status = finished and started > 7d

A term is ``FIELD OP VALUE``. Fields: ``metrics.KEY`` (the run's latest value),
``params.KEY``, ``config.DOTTED.KEY``, ``tags.KEY`` and the attributes
``status``, ``hypothesis``, ``experiment``, ``author``, ``id``, ``started`` and
``ended``. A key with other characters than letters, digits, ``_ . -`` is
written in backticks: ``metrics.`val/loss` < 0.3``. Operators: ``= != < <= > >=``,
``~`` (contains, any case) and ``in (a, b)``. Terms join with ``and`` (binding
tighter) and ``or``, grouped by parentheses. An unquoted number compares as a
number, anything quoted as text; times are ISO (``2026-12-01T08:00``) or relative
(``24h``, ``7d``: that long ago).

The text is bounded (MAX_FILTER characters, MAX_TERMS terms, MAX_DEPTH nested
parentheses) and every error names the position and the token it stopped at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from prodml import times
from prodml.domain.run import RunStatus
from prodml.domain.run_query import (
    ATTRIBUTES,
    AllOf,
    AnyOf,
    Condition,
    Field,
    Op,
    SortKey,
    Term,
    Value,
)
from prodml.errors import InvalidInputError

MAX_FILTER = 4096
MAX_TERMS = 64
MAX_DEPTH = 16
MAX_SORT_KEYS = 5
EXAMPLE = "metrics.auc > 0.8 and config.depth = 6"

_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,255}")  # the width of keys in the store
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
_WORD_END = set(" \t\r\n()',\"<>=!~`")
_OPERATORS = ("<=", ">=", "!=", "<>", "==", "=", "<", ">", "~")
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"', "`": "`"}
_PREFIXES = {
    "metrics": Field.METRIC,
    "metric": Field.METRIC,
    "params": Field.PARAM,
    "param": Field.PARAM,
    "config": Field.CONFIG,
    "tags": Field.TAG,
    "tag": Field.TAG,
    "attributes": Field.ATTRIBUTE,
    "attribute": Field.ATTRIBUTE,
}
_TIMES = {"started", "ended"}
_ATTRIBUTE_OPS = {
    "status": {Op.EQ, Op.NE, Op.IN},
    "hypothesis": {Op.EQ, Op.NE, Op.CONTAINS},
    "experiment": {Op.EQ, Op.NE, Op.CONTAINS, Op.IN},
    "author": {Op.EQ, Op.NE, Op.CONTAINS, Op.IN},
    "id": {Op.EQ, Op.IN},
    "started": {Op.LT, Op.LE, Op.GT, Op.GE},
    "ended": {Op.LT, Op.LE, Op.GT, Op.GE},
}


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, key, op, (, ), ",", end
    text: str
    position: int
    quoted_key: str | None = None  # the backticked key of a `prefix.`key`` word


def filter_error(
    text: str, token: Token, expected: str, what: str = "the run filter"
) -> InvalidInputError:
    shown = "the end" if token.kind == "end" else repr(token.text)
    example = EXAMPLE if what == "the run filter" else "metrics.auc desc"
    return InvalidInputError(
        f"Cannot read {what} at position {token.position + 1} ({shown}): {expected}. "
        f"Read: {_clip(text)!r}. Example: {example}"
    )


def _clip(text: str, width: int = 120) -> str:
    return text if len(text) <= width else text[:width] + "..."


def tokens(text: str) -> list[Token]:
    found: list[Token] = []
    position = 0
    while position < len(text):
        char = text[position]
        if char.isspace():
            position += 1
        elif char in "(),":
            found.append(Token(char, char, position))
            position += 1
        elif char in "'\"`":
            value, end = _quoted(text, position)
            found.append(Token("key" if char == "`" else "string", value, position))
            position = end
        elif char in "<>=!~":
            operator = next((op for op in _OPERATORS if text.startswith(op, position)), None)
            if operator is None:
                raise filter_error(text, Token("op", char, position), "expected an operator")
            found.append(Token("op", operator, position))
            position += len(operator)
        else:
            end = position
            while end < len(text) and text[end] not in _WORD_END:
                end += 1
            word = text[position:end]
            if word.endswith(".") and text.startswith("`", end):
                key, end = _quoted(text, end)
                found.append(Token("word", word + key, position, quoted_key=key))
            else:
                found.append(Token("word", word, position))
            position = end
    found.append(Token("end", "", len(text)))
    return found


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote, position, out = text[start], start + 1, []
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text):
            out.append(_ESCAPES.get(text[position + 1], text[position + 1]))
            position += 2
        elif char == quote:
            return "".join(out), position + 1
        else:
            out.append(char)
            position += 1
    raise filter_error(
        text, Token("string", text[start:][:20], start), f"this {quote} is never closed"
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokens(text)
        self.index = 0
        self.terms = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def keyword(self, word: str) -> bool:
        if self.token.kind == "word" and self.token.text.lower() == word:
            self.take()
            return True
        return False

    def fail(self, expected: str) -> InvalidInputError:
        return filter_error(self.text, self.token, expected)

    def condition(self, depth: int = 0) -> Condition:
        if depth > MAX_DEPTH:
            raise self.fail(f"parentheses nest deeper than {MAX_DEPTH}")
        parts = [self.conjunction(depth)]
        while self.keyword("or"):
            parts.append(self.conjunction(depth))
        return parts[0] if len(parts) == 1 else AnyOf(tuple(parts))

    def conjunction(self, depth: int) -> Condition:
        parts = [self.operand(depth)]
        while self.keyword("and"):
            parts.append(self.operand(depth))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def operand(self, depth: int) -> Condition:
        if self.token.kind == "(":
            self.take()
            inner = self.condition(depth + 1)
            if self.token.kind != ")":
                raise self.fail("expected ')' to close the '(' before it")
            self.take()
            return inner
        return self.term()

    def term(self) -> Term:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(f"a filter has at most {MAX_TERMS} terms")
        field, key = self.field()
        operator = self.operator()
        allowed = _ATTRIBUTE_OPS.get(key, set(Op)) if field is Field.ATTRIBUTE else set(Op)
        if field is Field.METRIC:
            allowed = set(Op) - {Op.CONTAINS}
        if operator not in allowed:
            shown = key if field is Field.ATTRIBUTE else f"{field.value}.KEY"
            choices = " ".join(op.value for op in Op if op in allowed)
            raise filter_error(
                self.text,
                self.tokens[self.index - 1],
                f"{shown} takes the operators {choices}",
            )
        values = self.values() if operator is Op.IN else (self.value(),)
        typed = tuple(self.typed(field, key, operator, value) for value in values)
        return Term(field, key, operator, typed)

    def field(self) -> tuple[Field, str]:
        token = self.take()
        if token.kind != "word" or _NUMBER.fullmatch(token.text):
            raise filter_error(
                self.text, token, "expected a field such as metrics.auc, config.depth or status"
            )
        return _field(self.text, token)

    def operator(self) -> Op:
        token = self.take()
        if token.kind == "op":
            return Op({"==": "=", "<>": "!="}.get(token.text, token.text))
        if token.kind == "word" and token.text.lower() == "in":
            return Op.IN
        raise filter_error(self.text, token, "expected an operator: = != < <= > >= ~ in")

    def value(self) -> Token:
        token = self.take()
        if token.kind not in ("word", "string"):
            raise filter_error(self.text, token, "expected a value (a number, a word or 'text')")
        return token

    def values(self) -> list[Token]:
        if self.take().kind != "(":
            raise filter_error(self.text, self.tokens[self.index - 1], "expected '(' after in")
        found = [self.value()]
        while self.token.kind == ",":
            self.take()
            found.append(self.value())
        if self.token.kind != ")":
            raise self.fail("expected ',' or ')' in the list after in")
        self.take()
        return found

    def typed(self, field: Field, key: str, operator: Op, token: Token) -> Value:
        number = token.kind == "word" and _NUMBER.fullmatch(token.text) is not None
        if operator is Op.CONTAINS:
            return token.text
        if field is Field.METRIC:
            if not number:
                raise filter_error(self.text, token, f"metrics.{key} compares with a number")
            return float(token.text)
        if field is not Field.ATTRIBUTE:
            return float(token.text) if number else token.text
        if key in _TIMES:
            try:
                return times.parse(token.text, key).timestamp()
            except InvalidInputError:
                raise filter_error(
                    self.text, token, "expected a time: ISO (2026-12-01T08:00) or 24h, 7d"
                ) from None
        if key == "status" and token.text.lower() not in {s.value for s in RunStatus}:
            choices = ", ".join(s.value for s in RunStatus)
            raise filter_error(self.text, token, f"a status is one of {choices}")
        return token.text.lower() if key == "status" else token.text


def _field(text: str, token: Token, what: str = "the run filter") -> tuple[Field, str]:
    word = token.text
    if word.lower() in ATTRIBUTES:
        return Field.ATTRIBUTE, word.lower()
    prefix, dot, key = word.partition(".")
    field = _PREFIXES.get(prefix.lower())
    if field is None or not dot:
        raise filter_error(
            text,
            token,
            "unknown field; use metrics.KEY, params.KEY, config.KEY, tags.KEY or one of "
            + ", ".join(ATTRIBUTES),
            what,
        )
    if field is Field.ATTRIBUTE:
        if key.lower() not in ATTRIBUTES:
            choices = ", ".join(ATTRIBUTES)
            raise filter_error(text, token, f"an attribute is one of {choices}", what)
        return field, key.lower()
    quoted = token.quoted_key
    return field, _checked_key(text, token, key if quoted is None else quoted, what)


def _checked_key(text: str, token: Token, key: str, what: str) -> str:
    if token.quoted_key is not None:
        if 0 < len(key) <= 255 and key.isprintable():
            return key
    elif _KEY.fullmatch(key):
        return key
    raise filter_error(
        text,
        token,
        "a key is 1-255 letters, digits, '_', '.' or '-'; write any other key in "
        "backticks, as in metrics.`val/loss`",
        what,
    )


def parse_filter(text: str) -> Condition | None:
    """The condition a filter text states, or None for an empty filter (every run)."""
    if not isinstance(text, str):
        raise InvalidInputError(f"A run filter is text, not {type(text).__name__}.")
    if len(text) > MAX_FILTER:
        raise InvalidInputError(
            f"The run filter is {len(text):,} characters; at most {MAX_FILTER:,} are read. "
            f"Narrow it to fewer terms, e.g. {EXAMPLE}"
        )
    if not text.strip():
        return None
    parser = _Parser(text)
    condition = parser.condition()
    if parser.token.kind != "end":
        expected = "an unmatched ')'" if parser.token.kind == ")" else "expected and, or or the end"
        raise parser.fail(expected)
    return condition


def parse_order(order_by: Sequence[str] | str | None) -> tuple[SortKey, ...]:
    """Sort keys from ``["metrics.auc desc", "-config.depth", "started"]``."""
    if order_by is None or isinstance(order_by, str):
        items: list[object] = [] if order_by is None else [order_by]
    elif isinstance(order_by, list | tuple):
        items = list(order_by)
    else:
        raise InvalidInputError(
            f"order_by is a sort key or a list of them (e.g. 'metrics.auc desc'), "
            f"not {order_by!r:.60}."
        )
    if len(items) > MAX_SORT_KEYS:
        raise InvalidInputError(
            f"A search sorts by at most {MAX_SORT_KEYS} keys, not {len(items)}."
        )
    return tuple(_sort_key(item) for item in items)


def _sort_key(item: object) -> SortKey:
    if not isinstance(item, str) or not item.strip() or len(item) > 300:
        raise InvalidInputError(
            f"Sort key {item!r:.60} is not valid; use e.g. 'metrics.auc desc' or 'started'."
        )
    text = item.strip()
    descending = text.startswith("-")
    try:
        found = [t for t in tokens(text.lstrip("-")) if t.kind != "end"]
    except InvalidInputError:
        found = []
    if len(found) == 2 and found[1].kind == "word" and found[1].text.lower() in ("asc", "desc"):
        descending = found[1].text.lower() == "desc"
        found = found[:1]
    if len(found) != 1 or found[0].kind != "word":
        raise InvalidInputError(
            f"Sort key {item!r} is not valid; use FIELD [asc|desc], e.g. 'metrics.auc desc'."
        )
    field, key = _field(text, found[0], f"the sort key {_clip(text, 60)!r}")
    return SortKey(field, key, descending)
