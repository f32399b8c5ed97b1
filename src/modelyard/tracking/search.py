"""The run-search language: filters, order-by terms and page tokens.

A filter such as ``metrics.auc > 0.9 and params.model in ('rf', 'xgb')`` is tokenised and parsed by hand
(recursive descent) into the query records of ``models.py``, which the store compiles. Errors show the text
with a caret under the problem and a valid example. Decisions: ``and``/``or`` groups are flattened, also
across parentheses, so a condition has one canonical tree; a bare number compared with ``=`` or ``!=`` to a
param or tag becomes the text Python logs for it (``6`` as ``'6'``, ``1e3`` as ``'1000.0'``); ``true`` and
``false`` keep the case they were written in; times become epoch milliseconds (naive ISO times are UTC).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from modelyard.errors import InvalidInputError, close_matches
from modelyard.tracking.models import ATTRIBUTES, BoolOp, Comparison, Condition, Field, OrderKey, RunStatus

__all__ = ["decode_page_token", "encode_page_token", "parse_filter", "parse_order_by", "query_fingerprint"]

_PLURALS = {"metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes"}
_KINDS = {**{p: k for k, p in _PLURALS.items()}, **{k: k for k in _PLURALS}, "attr": "attribute"}
_OPERATORS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_LISTS = frozenset({"in", "not in"})
_PATTERNS = frozenset({"like", "ilike", "not like", "not ilike"})
_EQUALITY = frozenset({"=", "!="}) | _LISTS
_NUMERIC = _EQUALITY | {"<", "<=", ">", ">="}
_TIMES = ("start_time", "end_time")
_STATUSES = tuple(status.value for status in RunStatus)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_DEPTH = 50  # nested parentheses: keeps the recursion far from Python's limit whatever the input
_MAX_TOKEN_CHARS = 200
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-./:]+")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<number>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_\-./:]*)
    |(?P<string>'(?:''|\\.|[^'\\])*'|"(?:""|\\.|[^"\\])*"|`(?:``|\\.|[^`\\])*`)
    |(?P<op>==|!=|<>|<=|>=|=|<|>)
    |(?P<punct>[(),])""",
    re.VERBOSE | re.DOTALL,
)
_HINTS = {  # the next step after each kind of mistake, formatted with the values given to _Parser.fail
    "filter": "Write conditions such as metrics.auc > 0.9 and params.model in ('rf', 'xgb').",
    "order": "Write terms such as metrics.auc DESC, params.lr (ASC is the default).",
    "join": "Join conditions with 'and' or 'or', e.g. metrics.auc > 0.9 and params.model = 'rf'.",
    "string": "Close a string with the quote that opened it; double a quote inside, e.g. 'it''s'.",
    "paren": "Balance the parentheses, e.g. (params.model = 'rf' or metrics.auc > 0.9) and tags.team = 'x'.",
    "operator": "Use = != < <= > >= in like ilike, not in, not like or not ilike, e.g. metrics.auc >= 0.9.",
    "list": "Give values in parentheses, e.g. params.model in ('rf', 'xgb') or metrics.epochs in (10, 20).",
    "value": "Quote text (backticks are for keys), e.g. params.model = 'rf'; write numbers bare, e.g. 0.9.",
    "field": "Name a field as kind.key, e.g. metrics.{word}, params.{word} or attributes.name.",
    "kind": "Start a field with metrics., params., tags. or attributes., e.g. params.model.",
    "key": "Add the key, e.g. {prefix}auc, or {prefix}`val loss` for a key with spaces.",
    "attribute": "Attributes are " + ", ".join(ATTRIBUTES) + "; e.g. attributes.status = 'FINISHED'.",
    "aggregate": "min(), max() and last() take a metric, e.g. min(metrics.loss) < 0.1.",
    "metric": "Metrics are numbers: use = != < <= > >= in or not in, e.g. {field} >= 0.9.",
    "time": "Use an ISO-8601 time or epoch ms, e.g. {field} > '2026-11-01T09:30:00Z' or {field} > 1.7e12.",
    "text": "{field} is text: use = != in or like (log numbers as metrics to use < >), e.g. {field} = 'x'.",
    "status": "Statuses are " + ", ".join(_STATUSES) + "; e.g. attributes.status in ('FAILED', 'KILLED').",
    "quote": "Quote the value, e.g. {example}.",
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number | word | string | op | punct | end
    text: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Literal:
    kind: str  # number | string | bool
    raw: str
    pos: int
    string: str = ""
    number: float = 0.0


def _unescape(raw: str) -> str:
    """Return a quoted token's content; a doubled quote or a backslash escapes a quote or a backslash."""
    quote = raw[0]

    def replace(match: re.Match[str]) -> str:
        escaped = match.group(1)
        if escaped is None:
            return quote
        return escaped if escaped in (quote, "\\") else match.group()

    return re.sub(rf"\\(.)|{quote}{quote}", replace, raw[1:-1], flags=re.DOTALL)


def _show(field: Field) -> str:
    """Return ``field`` as filter text, with an odd key in backticks."""
    key = field.key
    if not _PLAIN_KEY.fullmatch(key):
        key = "`" + key.replace("\\", "\\\\").replace("`", "``") + "`"
    text = f"{_PLURALS[field.kind]}.{key}"
    return text if field.aggregate == "last" else f"{field.aggregate}({text})"


def _number_text(raw: str) -> str:
    """Return the text Python logs for the number literal ``raw``: ``6`` gives ``'6'``, ``6.50`` ``'6.5'``."""
    if _INTEGER.fullmatch(raw):
        digits = raw.lstrip("+-").lstrip("0") or "0"
        return "-" + digits if raw.startswith("-") and digits != "0" else digits
    return repr(float(raw))


def _caret(text: str, pos: int) -> tuple[str, str]:
    """Return where ``pos`` is (``column 7`` or ``line 2, column 7``) and its line with a caret under it."""
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line, column = text[start : len(text) if end < 0 else end], pos - start
    where = f"column {column + 1}"
    if "\n" in text:
        where = f"line {text.count(chr(10), 0, pos) + 1}, {where}"
    if column > 60:
        line, column = "..." + line[column - 40 :], 43
    if len(line) > column + 40:
        line = line[: column + 40] + "..."
    shown = "".join(" " if ch.isspace() else ch if ch.isprintable() else "?" for ch in line)
    return where, f"    {shown}\n    {' ' * column}^"


def _describe(token: _Token) -> str:
    return "the end of the text" if token.kind == "end" else repr(token.text)


class _Parser:
    """The tokens of one filter or order-by term, and the recursive-descent rules over them."""

    def __init__(self, text: str, what: str, usage: str) -> None:
        self.text, self.what, self.usage = text, what, usage
        self.index = self.depth = 0
        self.tokens = self.tokenize()

    def fail(self, pos: int, problem: str, hint: str, **values: str) -> NoReturn:
        where, picture = _caret(self.text, pos)
        message = f"Cannot parse the {self.what} {self.text!r} at {where}: {problem}\n{picture}"
        raise InvalidInputError(message, hint=_HINTS[hint].format(**values))

    def tokenize(self) -> list[_Token]:
        tokens: list[_Token] = []
        pos = 0
        while pos < len(self.text):
            match = _TOKEN.match(self.text, pos)
            if match is None:
                char = self.text[pos]
                if char in "'\"`":
                    self.fail(pos, f"the string opened by {char} is never closed.", "string")
                self.fail(pos, f"unexpected character {char!r}.", self.usage)
            if match.lastgroup != "space":
                tokens.append(_Token(match.lastgroup or "", match.group(), pos))
            pos = match.end()
        return [*tokens, _Token("end", "", len(self.text))]

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def at(self, kind: str, *texts: str) -> bool:
        return self.peek().kind == kind and self.peek().text.lower() in texts

    def expect(self, char: str, problem: str, hint: str) -> None:
        if not self.at("punct", char):
            self.fail(self.peek().pos, problem.format(got=_describe(self.peek())), hint)
        self.take()

    def expect_end(self, hint: str) -> None:
        token = self.peek()
        if token.kind == "punct" and token.text == ")":
            self.fail(token.pos, "this ')' has no matching '('.", "paren")
        if token.kind != "end":
            self.fail(token.pos, f"unexpected {token.text!r} after a complete {self.what}.", hint)

    def parse_or(self) -> Condition:
        return self.parse_chain("or", lambda: self.parse_chain("and", self.parse_atom))

    def parse_chain(self, op: str, parse_item: Callable[[], Condition]) -> Condition:
        """Parse ``item (op item)*`` into one flat ``BoolOp`` (``a and (b and c)`` has three items)."""
        items = [parse_item()]
        while self.at("word", op):
            self.take()
            items.append(parse_item())
        if len(items) == 1:
            return items[0]
        flat = [
            part for item in items for part in (item.items if isinstance(item, BoolOp) and item.op == op else [item])
        ]
        return BoolOp(op=op, items=tuple(flat))

    def parse_atom(self) -> Condition:
        token = self.peek()
        if self.at("punct", "("):
            self.take()
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                self.fail(token.pos, f"parentheses nest deeper than {_MAX_DEPTH} levels.", "paren")
            inner = self.parse_or()
            where, _ = _caret(self.text, token.pos)
            self.expect(")", f"expected ')' to close the '(' at {where}, got {{got}}.", "paren")
            self.depth -= 1
            return inner
        if self.at("word", "not"):
            self.fail(token.pos, "'not' may only follow a field, as in 'not in' or 'not like'.", "operator")
        if token.kind == "end":
            self.fail(token.pos, "a condition is missing here.", "filter")
        field = self.parse_field(bare_attributes=False)
        op_pos = self.peek().pos
        op = self.parse_operator()
        literals = self.parse_list() if op in _LISTS else [self.parse_literal()]
        return Comparison(field=field, op=op, value=_check(self, field, op, op_pos, literals))

    def parse_operator(self) -> str:
        token = self.take()
        if token.kind == "op":
            return _OPERATORS[token.text]
        word = token.text.lower() if token.kind == "word" else ""
        if word == "not":
            after = self.take()
            if after.kind == "word" and after.text.lower() in ("in", "like", "ilike"):
                return "not " + after.text.lower()
            self.fail(after.pos, f"expected in, like or ilike after 'not', got {_describe(after)}.", "operator")
        if word in ("in", "like", "ilike"):
            return word
        self.fail(token.pos, f"expected an operator after the field, got {_describe(token)}.", "operator")

    def parse_list(self) -> list[_Literal]:
        self.expect("(", "expected a list of values in parentheses, got {got}.", "list")
        if self.at("punct", ")"):
            self.fail(self.peek().pos, "the list of values is empty.", "list")
        literals = [self.parse_literal()]
        while self.at("punct", ","):
            self.take()
            literals.append(self.parse_literal())
        self.expect(")", "expected ',' or ')' in the list of values, got {got}.", "list")
        return literals

    def parse_literal(self) -> _Literal:
        token = self.take()
        if token.kind == "number":
            number = float(token.text)
            if not math.isfinite(number):
                self.fail(token.pos, f"the number {token.text} is out of range.", "value")
            return _Literal("number", token.text, token.pos, number=number)
        if token.kind == "string" and token.text[0] != "`":
            return _Literal("string", token.text, token.pos, string=_unescape(token.text))
        if token.kind == "word" and token.text.lower() in ("true", "false"):
            return _Literal("bool", token.text, token.pos, string=token.text)
        self.fail(token.pos, f"expected a value, got {_describe(token)}.", "value")

    def parse_field(self, *, bare_attributes: bool) -> Field:
        """Parse ``kind.key`` or ``agg(metrics.key)``; order-by terms may also name a bare attribute."""
        token = self.take()
        if token.kind == "word" and token.text.lower() in ("min", "max", "last") and self.at("punct", "("):
            self.take()
            inner = self.plain_field(self.take(), bare_attributes=False)
            if inner.kind != "metric":
                self.fail(token.pos, f"{token.text}() takes a metric, not {_show(inner)}.", "aggregate")
            self.expect(")", f"expected ')' to close {token.text}(, got {{got}}.", "aggregate")
            return Field(kind="metric", key=inner.key, aggregate=token.text.lower())
        return self.plain_field(token, bare_attributes=bare_attributes)

    def plain_field(self, token: _Token, *, bare_attributes: bool) -> Field:
        if token.kind != "word":
            self.fail(token.pos, f"expected a field such as metrics.auc, got {_describe(token)}.", self.usage)
        kind_text, dot, key = token.text.partition(".")
        word = token.text.lower()
        if not dot and word in ATTRIBUTES and bare_attributes:
            return Field(kind="attribute", key=word)
        if not dot:
            hint, values = ("key", {"prefix": word + "."}) if word in _KINDS else ("field", {"word": word})
            guess = close_matches(word, ATTRIBUTES) if bare_attributes else ""
            guess = f" Did you mean 'attributes.{word}'?" if word in ATTRIBUTES else guess
            problem = f"{token.text!r} is not a field; fields are kind.key.{guess}"
            self.fail(token.pos, problem, hint, **values)
        kind = _KINDS.get(kind_text.lower())
        if kind is None:
            problem = f"unknown field kind {kind_text!r}.{close_matches(kind_text.lower(), _PLURALS.values())}"
            self.fail(token.pos, problem, "kind")
        key = key or self.quoted_key(token)
        if kind == "attribute" and key.lower() not in ATTRIBUTES:
            problem = f"unknown attribute {key!r}.{close_matches(key.lower(), ATTRIBUTES)}"
            self.fail(token.pos, problem, "attribute")
        return Field(kind=kind, key=key.lower() if kind == "attribute" else key)

    def quoted_key(self, prefix: _Token) -> str:
        token = self.peek()
        if token.kind != "string" or token.text[0] == "'" or token.pos != prefix.pos + len(prefix.text):
            self.fail(token.pos, f"a key must follow {prefix.text!r}.", "key", prefix=prefix.text)
        key = _unescape(self.take().text)
        if not key:
            self.fail(token.pos, "the key is empty.", "key", prefix=prefix.text)
        return key

    def parse_order_keys(self) -> list[OrderKey]:
        keys: list[OrderKey] = []
        while not keys or self.at("punct", ","):
            if keys:
                self.take()
            field = self.parse_field(bare_attributes=True)
            descending = self.at("word", "asc", "desc") and self.take().text.lower() == "desc"
            keys.append(OrderKey(field=field, descending=descending))
        self.expect_end("order")
        return keys


def _check(
    parser: _Parser, field: Field, op: str, op_pos: int, literals: list[_Literal]
) -> str | float | tuple[str | float, ...]:
    """Return the comparison's value, after checking the field takes ``op`` and each value."""
    allowed, hint = _EQUALITY | _PATTERNS, "text"
    if field.kind == "metric" or (field.kind == "attribute" and field.key in _TIMES):
        allowed, hint = _NUMERIC, "metric" if field.kind == "metric" else "time"
    elif field.kind == "attribute" and field.key == "status":
        allowed, hint = _EQUALITY, "status"
    if op not in allowed:
        parser.fail(op_pos, f"{_show(field)} does not support {op!r}.", hint, field=_show(field))
    values = tuple(_convert(parser, field, op, literal) for literal in literals)
    return values if op in _LISTS else values[0]


def _convert(parser: _Parser, field: Field, op: str, literal: _Literal) -> str | float:
    shown = _show(field)
    if field.kind == "metric":
        if literal.kind != "number":
            parser.fail(literal.pos, f"{shown} is a number, got {literal.raw}.", "metric", field=shown)
        return literal.number
    if field.key in _TIMES and field.kind == "attribute":
        return _time_value(parser, shown, literal)
    if field.key == "status" and field.kind == "attribute":
        status = literal.string.upper()
        if literal.kind != "string" or status not in _STATUSES:
            parser.fail(literal.pos, f"{literal.raw} is not a run status.{close_matches(status, _STATUSES)}", "status")
        return status
    if literal.kind == "string" or (literal.kind == "bool" and field.kind != "attribute" and op not in _PATTERNS):
        return literal.string
    if literal.kind == "number" and field.kind != "attribute" and op in ("=", "!="):
        return _number_text(literal.raw)
    quoted = f"'{_number_text(literal.raw) if literal.kind == 'number' else literal.raw}'"
    example = f"{shown} {op} ({quoted})" if op in _LISTS else f"{shown} {op} {quoted}"
    parser.fail(
        literal.pos,
        f"{shown} is text, so {op} needs a quoted value, got {literal.raw}.",
        "quote",
        example=example,
    )


def _time_value(parser: _Parser, shown: str, literal: _Literal) -> float:
    if literal.kind == "number":
        return literal.number
    try:
        moment = datetime.fromisoformat(literal.string if literal.kind == "string" else "not a time")
    except ValueError:
        parser.fail(literal.pos, f"{literal.raw} is not an ISO-8601 time.", "time", field=shown)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) / timedelta(milliseconds=1)


def parse_filter(text: str | None) -> Condition | None:
    """Parse a run filter into a condition tree.

    Args:
        text: A filter such as ``metrics.auc > 0.9 and params.model in ('rf', 'xgb')``; None or blank means
            no filter. Keywords are case-insensitive and ``and`` binds tighter than ``or``.

    Returns:
        A ``Comparison`` or a flattened ``BoolOp``; None for no filter.

    Raises:
        InvalidInputError: The filter is malformed or compares a field in a way it does not support. The
            message shows the filter with a caret under the problem; the hint gives a valid example.

    Example:
        >>> parse_filter("params.depth = 6")
        Comparison(field=Field(kind='param', key='depth', aggregate='last'), op='=', value='6')

    Added in 0.1.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if not isinstance(text, str):
        raise InvalidInputError(f"The filter {text!r} is not a string.", hint=_HINTS["filter"])
    parser = _Parser(text, "filter", "filter")
    condition = parser.parse_or()
    parser.expect_end("join")
    return condition


def parse_order_by(items: Sequence[str] | str | None) -> tuple[OrderKey, ...]:
    """Parse order-by terms such as ``metrics.auc DESC`` into order keys.

    Args:
        items: A term or a sequence of terms: a field (``metrics.auc``, ``min(metrics.loss)``, ``params.lr``,
            ``attributes.start_time`` or a bare attribute such as ``start_time``) and ``ASC`` (the default)
            or ``DESC``. One string may hold several terms separated by commas.

    Returns:
        The order keys in the order given; empty for None and blank terms.

    Raises:
        InvalidInputError: A term is malformed or names an unknown kind or attribute.

    Example:
        >>> parse_order_by(["metrics.auc DESC", "start_time"])[0]
        OrderKey(field=Field(kind='metric', key='auc', aggregate='last'), descending=True)

    Added in 0.1.
    """
    terms = [items] if isinstance(items, str) else () if items is None else items
    if not isinstance(terms, Sequence) or not all(isinstance(term, str) for term in terms):
        raise InvalidInputError(f"order_by={items!r} is not a string or a list of strings.", hint=_HINTS["order"])
    parsed = [_Parser(term, "order_by term", "order").parse_order_keys() for term in terms if term.strip()]
    return tuple(key for keys in parsed for key in keys)


def query_fingerprint(
    experiment_ids: Sequence[str], filter_text: str | None, order_by: Sequence[str] | str | None
) -> str:
    """Return a short hash naming a search, so that a page token only continues the search that made it.

    Args:
        experiment_ids: The experiments searched, in any order.
        filter_text: The filter as given; surrounding blanks do not matter.
        order_by: The order-by terms as given.

    Returns:
        16 hexadecimal characters.

    Added in 0.1.
    """
    terms = [order_by] if isinstance(order_by, str) else list(order_by or ())
    described = [
        sorted(map(str, experiment_ids)),
        str(filter_text or "").strip(),
        [str(t).strip() for t in terms],
    ]
    return hashlib.blake2b(json.dumps(described).encode(), digest_size=8).hexdigest()


def encode_page_token(offset: int, query_fingerprint: str) -> str:
    """Return the opaque, URL-safe token of the page at ``offset`` of the search ``query_fingerprint``.

    Example:
        >>> decode_page_token(encode_page_token(100, "ab12"), "ab12")
        100

    Added in 0.1.
    """
    data = json.dumps({"o": offset, "q": query_fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decode_page_token(token: str | None, query_fingerprint: str) -> int:
    """Return the offset a page token holds, after checking it was made for the search ``query_fingerprint``.

    Args:
        token: ``next_page_token`` of an earlier page; None or empty starts at the first run.
        query_fingerprint: ``query_fingerprint(...)`` of the search being continued.

    Returns:
        The offset of the page's first run.

    Raises:
        InvalidInputError: The token belongs to another search or was not made by modelyard.

    Added in 0.1.
    """
    if not token:
        return 0
    hint = "Pass the same experiments, filter and order_by as the search that made it, or start without a token."
    try:
        if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS:
            raise ValueError(token)
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4)))
        offset, fingerprint = data["o"], data["q"]
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
    except (ValueError, TypeError, KeyError) as exc:
        problem = f"The page token {str(token)[:40]!r} was not made by search_runs; it belongs to another search."
        raise InvalidInputError(problem, hint=hint) from exc
    if fingerprint != query_fingerprint:
        raise InvalidInputError("This page token belongs to another search.", hint=hint)
    return offset
