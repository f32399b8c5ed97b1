"""The run-search language: filters, order-by terms and page tokens, parsed without a store."""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.errors import InvalidInputError
from modelyard.tracking.models import ATTRIBUTES, BoolOp, Comparison, Condition, Field, OrderKey
from modelyard.tracking.search import (
    decode_page_token,
    encode_page_token,
    parse_filter,
    parse_order_by,
    query_fingerprint,
)

FAST = settings(max_examples=500, deadline=None, database=None)
QUICK = settings(FAST, max_examples=200)
NOV_1_2026_MS = 1793491200000.0


def metric(key: str, aggregate: str = "last") -> Field:
    return Field(kind="metric", key=key, aggregate=aggregate)


def param(key: str) -> Field:
    return Field(kind="param", key=key)


def tag(key: str) -> Field:
    return Field(kind="tag", key=key)


def attribute(key: str) -> Field:
    return Field(kind="attribute", key=key)


def cmp(field: Field, op: str, value: str | float | tuple[str | float, ...]) -> Comparison:
    return Comparison(field=field, op=op, value=value)


def both(op: str, *items: Condition) -> BoolOp:
    return BoolOp(op=op, items=items)


A = cmp(metric("a"), ">", 1.0)
B = cmp(param("b"), "=", "x")
C = cmp(tag("c"), "!=", "y")
D = cmp(metric("d"), "<", 0.0)
TEXT_A, TEXT_B, TEXT_C, TEXT_D = "metrics.a > 1", "params.b = 'x'", "tags.c != 'y'", "metrics.d < 0"


# -- valid filters -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # metrics: numbers, signs, exponents, every operator spelling, aggregates, lists
        ("metrics.auc > 0.9", cmp(metric("auc"), ">", 0.9)),
        ("metric.auc >= 1", cmp(metric("auc"), ">=", 1.0)),
        ("METRICS.auc < -1.5e-3", cmp(metric("auc"), "<", -0.0015)),
        ("metrics.val.loss <= +2", cmp(metric("val.loss"), "<=", 2.0)),
        ("metrics.x == .5", cmp(metric("x"), "=", 0.5)),
        ("metrics.x = 5.", cmp(metric("x"), "=", 5.0)),
        ("metrics.x <> 1E3", cmp(metric("x"), "!=", 1000.0)),
        ("metrics.x != 1", cmp(metric("x"), "!=", 1.0)),
        ("metrics.x>-1", cmp(metric("x"), ">", -1.0)),
        ("min(metrics.loss) < 0.1", cmp(metric("loss", "min"), "<", 0.1)),
        ("MAX( metrics.auc ) > 0.5", cmp(metric("auc", "max"), ">", 0.5)),
        ("last(metrics.auc) = 1", cmp(metric("auc"), "=", 1.0)),
        ("min(metrics.`val loss`) < 1", cmp(metric("val loss", "min"), "<", 1.0)),
        ("metrics.epochs in (10, 20)", cmp(metric("epochs"), "in", (10.0, 20.0))),
        ("metrics.epochs NOT IN (1)", cmp(metric("epochs"), "not in", (1.0,))),
        # params and tags: text; a bare number with = and != becomes the text Python logs for it
        ("params.model = 'rf'", cmp(param("model"), "=", "rf")),
        ('param.model != "rf"', cmp(param("model"), "!=", "rf")),
        ("params.depth = 6", cmp(param("depth"), "=", "6")),
        ("params.lr = 0.6", cmp(param("lr"), "=", "0.6")),
        ("params.lr = 0.60", cmp(param("lr"), "=", "0.6")),
        ("params.n = 1e3", cmp(param("n"), "=", "1000.0")),
        ("params.n = 007", cmp(param("n"), "=", "7")),
        ("params.n != -0", cmp(param("n"), "!=", "0")),
        ("params.n = -12", cmp(param("n"), "=", "-12")),
        ("params.n = +12", cmp(param("n"), "=", "12")),
        ("tags.team like 'ri%'", cmp(tag("team"), "like", "ri%")),
        ("tag.team ILIKE 'RI%'", cmp(tag("team"), "ilike", "RI%")),
        ("tags.team not like 'x%'", cmp(tag("team"), "not like", "x%")),
        ("tags.team Not Ilike 'x'", cmp(tag("team"), "not ilike", "x")),
        ("tags.team in ('a', \"b\")", cmp(tag("team"), "in", ("a", "b"))),
        ("tags.team not in ('a')", cmp(tag("team"), "not in", ("a",))),
        ("tags.flag = true", cmp(tag("flag"), "=", "true")),
        ("tags.flag != False", cmp(tag("flag"), "!=", "False")),
        ("params.f in (true, 'x')", cmp(param("f"), "in", ("true", "x"))),
        # attributes
        ("attributes.status = 'finished'", cmp(attribute("status"), "=", "FINISHED")),
        ("attr.status in ('failed', 'KILLED')", cmp(attribute("status"), "in", ("FAILED", "KILLED"))),
        ("attribute.status != 'Running'", cmp(attribute("status"), "!=", "RUNNING")),
        ("attributes.name like 'r_'", cmp(attribute("name"), "like", "r_")),
        ("attributes.Name = 'x'", cmp(attribute("name"), "=", "x")),
        ("attributes.parent_id = 'abc'", cmp(attribute("parent_id"), "=", "abc")),
        ("attributes.experiment_id != '1'", cmp(attribute("experiment_id"), "!=", "1")),
        ("attributes.id not in ('a', 'b')", cmp(attribute("id"), "not in", ("a", "b"))),
        ("attributes.start_time > 1700000000000", cmp(attribute("start_time"), ">", 1.7e12)),
        ("attributes.start_time >= '2026-11-01'", cmp(attribute("start_time"), ">=", NOV_1_2026_MS)),
        (
            "attributes.end_time < '2026-11-01T00:00:01Z'",
            cmp(attribute("end_time"), "<", NOV_1_2026_MS + 1000),
        ),
        ("attributes.end_time < '2026-11-01T02:00:00+02:00'", cmp(attribute("end_time"), "<", NOV_1_2026_MS)),
        (
            "attributes.end_time = '2026-11-01 00:00:00.0015'",
            cmp(attribute("end_time"), "=", NOV_1_2026_MS + 1.5),
        ),
        (
            "attributes.start_time in ('2026-11-01', 5)",
            cmp(attribute("start_time"), "in", (NOV_1_2026_MS, 5.0)),
        ),
        # quoting and escapes
        ("params.x = 'it''s'", cmp(param("x"), "=", "it's")),
        (r"params.x = 'it\'s'", cmp(param("x"), "=", "it's")),
        (r"params.x = 'back\\slash'", cmp(param("x"), "=", "back\\slash")),
        (r"params.x = 'C:\temp'", cmp(param("x"), "=", "C:\\temp")),
        (r"params.x like 'a\_b'", cmp(param("x"), "like", "a\\_b")),
        ('params.x = "say ""hi"""', cmp(param("x"), "=", 'say "hi"')),
        (r'params.x = "say \"hi\""', cmp(param("x"), "=", 'say "hi"')),
        ("params.x = ''", cmp(param("x"), "=", "")),
        ("params.x = 'a and b or (c)'", cmp(param("x"), "=", "a and b or (c)")),
        ("params.x = 'line\nbreak'", cmp(param("x"), "=", "line\nbreak")),
        ("params.x = 'café ☕'", cmp(param("x"), "=", "café ☕")),
        # keys
        ("metrics.`val loss` < 1", cmp(metric("val loss"), "<", 1.0)),
        ("params.`a.b c` = 'x'", cmp(param("a.b c"), "=", "x")),
        ("params.`tick``s` = 'x'", cmp(param("tick`s"), "=", "x")),
        ("params.\"my key\" = 'v'", cmp(param("my key"), "=", "v")),
        ("metrics.val/loss:1-a < 1", cmp(metric("val/loss:1-a"), "<", 1.0)),
        ("params.2nd = 'x'", cmp(param("2nd"), "=", "x")),
        ("params.and = 'x'", cmp(param("and"), "=", "x")),
        ("metrics.AUC > 1", cmp(metric("AUC"), ">", 1.0)),
        # whitespace
        ("  metrics.auc>0.9  ", cmp(metric("auc"), ">", 0.9)),
        ("metrics.auc\n>\t0.9", cmp(metric("auc"), ">", 0.9)),
        ("params.x in('a','b')", cmp(param("x"), "in", ("a", "b"))),
    ],
)
def test_valid_filters_give_the_exact_tree(text: str, expected: Condition) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{TEXT_A} and {TEXT_B} and {TEXT_C}", both("and", A, B, C)),
        (f"{TEXT_A} or {TEXT_B} or {TEXT_C}", both("or", A, B, C)),
        (f"{TEXT_A} or {TEXT_B} and {TEXT_C}", both("or", A, both("and", B, C))),
        (f"{TEXT_A} and {TEXT_B} or {TEXT_C}", both("or", both("and", A, B), C)),
        (f"{TEXT_A} OR {TEXT_B} AND {TEXT_C}", both("or", A, both("and", B, C))),
        (f"({TEXT_A} or {TEXT_B}) and {TEXT_C}", both("and", both("or", A, B), C)),
        (f"{TEXT_A} and ({TEXT_B} or {TEXT_C})", both("and", A, both("or", B, C))),
        (f"{TEXT_A} and ({TEXT_B} and {TEXT_C})", both("and", A, B, C)),
        (f"({TEXT_A} or {TEXT_B}) or ({TEXT_C} or {TEXT_D})", both("or", A, B, C, D)),
        (f"{TEXT_A} or {TEXT_B} and {TEXT_C} or {TEXT_D}", both("or", A, both("and", B, C), D)),
        (f"(({TEXT_A}))", A),
        (f"({TEXT_A})and({TEXT_B})", both("and", A, B)),
        (
            f"({TEXT_A} or {TEXT_B}) and ({TEXT_C} or {TEXT_D})",
            both("and", both("or", A, B), both("or", C, D)),
        ),
    ],
)
def test_and_binds_tighter_than_or_and_groups_are_flattened(text: str, expected: Condition) -> None:
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_no_filter(text: str | None) -> None:
    assert parse_filter(text) is None


# -- errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        # unknown kinds, attributes and fields
        ("metric_s.x = 1", r"unknown field kind 'metric_s'\. Did you mean 'metrics'\?"),
        ("not_a_kind.x = 1", r"unknown field kind 'not_a_kind'.*Start a field with metrics\."),
        ("attributes.statsu = 'x'", r"unknown attribute 'statsu'\. Did you mean 'status'\?"),
        ("attributes.bogus = 'x'", r"unknown attribute 'bogus'\..*Attributes are id, name, status"),
        ("auc > 1", r"'auc' is not a field.*e\.g\. metrics\.auc"),
        ("status = 'FINISHED'", r"Did you mean 'attributes\.status'\?"),
        ("metrics > 1", r"'metrics' is not a field.*metrics\.auc"),
        ("metrics.`` > 1", r"the key is empty"),
        ("metrics. `a` > 1", r"a key must follow 'metrics\.'"),
        ("params.'a' = 'x'", r"a key must follow 'params\.'"),
        ("= 1", r"expected a field such as metrics\.auc, got '='"),
        ("'metrics.x' = 1", r"expected a field"),
        # metrics compare with numbers
        ("metrics.auc > 'high'", r"metrics\.auc is a number, got 'high'.*e\.g\. metrics\.auc >= 0\.9"),
        ("metrics.auc = true", r"metrics\.auc is a number, got true"),
        ("metrics.auc in (1, 'a')", r"metrics\.auc is a number, got 'a'"),
        ("metrics.auc like 'a%'", r"metrics\.auc does not support 'like'"),
        ("metrics.auc not ilike 'a%'", r"does not support 'not ilike'"),
        ("metrics.x = 1e999", r"the number 1e999 is out of range"),
        # params and tags are text
        ("params.lr < 3", r"params\.lr does not support '<'.*log numbers as metrics"),
        ("tags.team >= 'a'", r"tags\.team does not support '>='.*log numbers as metrics"),
        ("params.depth in (6, 8)", r"params\.depth is text, so in needs a quoted value, got 6.*'6'"),
        ("params.depth not in ('6', 8)", r"got 8"),
        ("params.x like 5", r"like needs a quoted value, got 5.*params\.x like '5'"),
        ("tags.x not like true", r"not like needs a quoted value, got true"),
        # attributes
        ("attributes.status = 'done'", r"'done' is not a run status.*Statuses are RUNNING, FINISHED"),
        ("attributes.status = 'finshed'", r"Did you mean 'FINISHED'"),
        ("attributes.status = 1", r"1 is not a run status"),
        ("attributes.status like 'F%'", r"attributes\.status does not support 'like'"),
        ("attributes.status < 'RUNNING'", r"does not support '<'"),
        ("attributes.start_time like '2026%'", r"attributes\.start_time does not support 'like'"),
        (
            "attributes.start_time > 'yesterday'",
            r"'yesterday' is not an ISO-8601 time.*'2026-11-01T09:30:00Z'",
        ),
        ("attributes.end_time > true", r"true is not an ISO-8601 time"),
        ("attributes.name = 5", r"attributes\.name is text, so = needs a quoted value, got 5"),
        ("attributes.name = true", r"needs a quoted value, got true"),
        ("attributes.parent_id in (1)", r"attributes\.parent_id in \('1'\)"),
        # aggregates only on metrics
        ("min(params.loss) < 1", r"min\(\) takes a metric, not params\.loss"),
        ("max(tags.x) = 'a'", r"max\(\) takes a metric"),
        ("last(attributes.name) = 'a'", r"last\(\) takes a metric"),
        ("min(metrics.loss < 1", r"expected '\)' to close min\(, got '<'"),
        ("min(min(metrics.loss)) < 1", r"'min' is not a field"),
        # structure
        (f"({TEXT_A}", r"expected '\)' to close the '\(' at column 1, got the end of the text"),
        (f"(({TEXT_A})", r"expected '\)' to close the '\(' at column 1"),
        (f"{TEXT_A})", r"this '\)' has no matching '\('"),
        (f"{TEXT_A} {TEXT_B}", r"unexpected 'params\.b' after a complete filter.*Join conditions"),
        (f"{TEXT_A} garbage", r"unexpected 'garbage'"),
        (f"{TEXT_A} and", r"a condition is missing here"),
        (f"{TEXT_A} or or {TEXT_B}", r"'or' is not a field"),
        ("()", r"expected a field such as metrics\.auc, got '\)'"),
        ("(" * 60 + TEXT_A + ")" * 60, r"parentheses nest deeper than 50 levels"),
        ("params.x in ()", r"the list of values is empty"),
        ("params.x in ('a',)", r"expected a value, got '\)'"),
        ("params.x in 'a'", r"expected a list of values in parentheses, got \"'a'\""),
        ("params.x in ('a' 'b')", r"expected ',' or '\)' in the list of values"),
        ("params.x in ('a'", r"expected ',' or '\)' in the list of values, got the end of the text"),
        ("params.x = 'abc", r"the string opened by ' is never closed"),
        ('params.x = "abc', r'the string opened by " is never closed'),
        ("params.`abc = 'x'", r"the string opened by ` is never closed"),
        (r"params.x = 'abc\'", r"never closed"),
        ("params.x ~ 'a'", r"unexpected character '~'"),
        ("params.x = 'a' ;", r"unexpected character ';'"),
        ("params.x", r"expected an operator after the field, got the end of the text"),
        ("params.x is 'a'", r"expected an operator after the field, got 'is'"),
        ("params.x not = 'a'", r"expected in, like or ilike after 'not', got '='"),
        ("not params.x = 'a'", r"'not' may only follow a field"),
        ("params.x = `a`", r"expected a value, got '`a`'.*backticks are for keys"),
        ("params.x = abc", r"expected a value, got 'abc'"),
        ("params.x =", r"expected a value, got the end of the text"),
    ],
)
def test_errors_show_the_filter_a_caret_and_a_hint(text: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=re.compile(match, re.DOTALL)) as info:
        parse_filter(text)
    error = info.value
    assert error.message.startswith(f"Cannot parse the filter {text!r} at ")
    assert re.search(r"\n    .*\n *\^$", error.message), error.message
    assert re.search(r"e\.g\.|such as", error.hint or "")


def test_the_caret_points_at_the_problem() -> None:
    with pytest.raises(InvalidInputError, match="column 15") as info:
        parse_filter("metrics.auc > 'x'")
    assert info.value.message == (
        "Cannot parse the filter \"metrics.auc > 'x'\" at column 15: metrics.auc is a number, got 'x'.\n"
        "    metrics.auc > 'x'\n"
        "                  ^"
    )
    assert info.value.hint == "Metrics are numbers: use = != < <= > >= in or not in, e.g. metrics.auc >= 0.9."


def test_the_caret_finds_its_line_in_a_multi_line_filter() -> None:
    with pytest.raises(InvalidInputError, match="line 2, column 11") as info:
        parse_filter("metrics.x = 1 and\n\tparams.y < 3")
    assert info.value.message.endswith("\n     params.y < 3\n              ^")


def test_the_caret_stays_under_the_problem_in_a_long_filter() -> None:
    text = " and ".join(f"metrics.m{i} > {i}" for i in range(20)) + " and params.p < 1 and " + TEXT_A * 3
    with pytest.raises(InvalidInputError, match="does not support") as info:
        parse_filter(text)
    line, caret = info.value.message.splitlines()[-2:]
    assert len(line) < 100
    assert line[caret.index("^")] == "<"


def test_a_filter_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="is not a string"):
        parse_filter(42)  # type: ignore[arg-type]


# -- order by ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (None, ()),
        ("", ()),
        ([], ()),
        (["", "  "], ()),
        ("metrics.auc DESC", (OrderKey(field=metric("auc"), descending=True),)),
        ("min(metrics.loss)", (OrderKey(field=metric("loss", "min")),)),
        ("params.lr asc", (OrderKey(field=param("lr")),)),
        ("attributes.start_time", (OrderKey(field=attribute("start_time")),)),
        ("start_time", (OrderKey(field=attribute("start_time")),)),
        ("NAME Desc", (OrderKey(field=attribute("name"), descending=True),)),
        ("tags.`team name` DESC", (OrderKey(field=tag("team name"), descending=True),)),
        (
            ["metrics.auc DESC", "params.lr"],
            (OrderKey(field=metric("auc"), descending=True), OrderKey(field=param("lr"))),
        ),
        (
            "metrics.auc desc, params.lr, end_time DESC",
            (
                OrderKey(field=metric("auc"), descending=True),
                OrderKey(field=param("lr")),
                OrderKey(field=attribute("end_time"), descending=True),
            ),
        ),
    ],
)
def test_order_by(items: list[str] | str | None, expected: tuple[OrderKey, ...]) -> None:
    assert parse_order_by(items) == expected


@pytest.mark.parametrize(
    ("items", "match"),
    [
        ("start_timee", r"'start_timee' is not a field.*Did you mean 'start_time'\?"),
        ("auc DESC", r"'auc' is not a field.*metrics\.auc"),
        ("metrics.auc DESCC", r"unexpected 'DESCC' after a complete order_by term.*metrics\.auc DESC"),
        ("metric_s.auc", r"Did you mean 'metrics'\?"),
        ("min(params.x)", r"min\(\) takes a metric"),
        ("attributes.bogus", r"unknown attribute 'bogus'"),
        ("metrics.auc DESC,", r"expected a field such as metrics\.auc, got the end of the text"),
        ("metrics.auc > 1", r"unexpected '>'"),
        (["metrics.auc", "params.x DESC DESC"], r"'params\.x DESC DESC'.*unexpected 'DESC'"),
        ([1], r"order_by=\[1\] is not a string or a list of strings"),
        (7, r"order_by=7 is not a string"),
    ],
)
def test_order_by_errors(items: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=re.compile(match, re.DOTALL)):
        parse_order_by(items)  # type: ignore[arg-type]


# -- page tokens ---------------------------------------------------------------------------------------------


def test_page_tokens_round_trip_and_are_url_safe() -> None:
    fingerprint = query_fingerprint(["e1"], "metrics.auc > 0.9", ["metrics.auc DESC"])
    for offset in (0, 1, 1000, 10**12):
        token = encode_page_token(offset, fingerprint)
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
        assert decode_page_token(token, fingerprint) == offset
    assert decode_page_token(None, fingerprint) == 0
    assert decode_page_token("", fingerprint) == 0


def test_a_token_of_another_search_is_refused() -> None:
    token = encode_page_token(100, query_fingerprint(["e1"], None, "metrics.auc"))
    other = query_fingerprint(["e1"], None, "metrics.auc DESC")
    with pytest.raises(InvalidInputError, match=r"belongs to another search.*same experiments, filter and order_by"):
        decode_page_token(token, other)


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "abc",
        "ü",
        "A" * 500,
        _b64([1, 2]),
        _b64("text"),
        _b64({"o": 5}),
        _b64({"o": -1, "q": "fp"}),
        _b64({"o": True, "q": "fp"}),
        _b64({"o": "3", "q": "fp"}),
        _b64({"o": 1.5, "q": "fp"}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidInputError, match="belongs to another search"):
        decode_page_token(token, "fp")


def test_the_fingerprint_names_the_search() -> None:
    base = query_fingerprint(["e1", "e2"], "metrics.auc > 0.9", ["metrics.auc DESC"])
    assert re.fullmatch(r"[0-9a-f]{16}", base)
    assert base == query_fingerprint(("e2", "e1"), "  metrics.auc > 0.9 ", "metrics.auc DESC")
    assert base != query_fingerprint(["e1"], "metrics.auc > 0.9", ["metrics.auc DESC"])
    assert base != query_fingerprint(["e1", "e2"], "metrics.auc > 0.8", ["metrics.auc DESC"])
    assert base != query_fingerprint(["e1", "e2"], "metrics.auc > 0.9", ["metrics.auc"])
    assert query_fingerprint(["e1"], None, None) == query_fingerprint(["e1"], "", [])


# -- properties ----------------------------------------------------------------------------------------------

PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-./:]+")
ALIASES = {
    "metric": ["metrics", "metric", "METRICS"],
    "param": ["params", "param", "Params"],
    "tag": ["tags", "tag"],
    "attribute": ["attributes", "attribute", "attr"],
}
NUMERIC_OPS = ["=", "!=", "<", "<=", ">", ">="]
TEXT_OPS = ["=", "!=", "like", "ilike", "not like", "not ilike"]
OP_SPELLINGS = {"=": ["=", "=="], "!=": ["!=", "<>"]}

keys = st.one_of(st.from_regex(r"[A-Za-z0-9_\-./:]{1,10}", fullmatch=True), st.text(min_size=1, max_size=10))
numbers = st.floats(allow_nan=False, allow_infinity=False)


def _lists(
    values: st.SearchStrategy[str | float],
) -> st.SearchStrategy[tuple[str | float, ...]]:
    return st.lists(values, min_size=1, max_size=4).map(tuple)


def _compare(
    fields: st.SearchStrategy[Field],
    ops: list[str],
    values: st.SearchStrategy[str | float],
) -> st.SearchStrategy[Comparison]:
    single = st.builds(cmp, fields, st.sampled_from(ops), values)
    listed = st.builds(cmp, fields, st.sampled_from(["in", "not in"]), _lists(values))
    return st.one_of(single, listed)


comparisons = st.one_of(
    _compare(st.builds(metric, keys, st.sampled_from(["last", "min", "max"])), NUMERIC_OPS, numbers),
    _compare(st.builds(param, keys) | st.builds(tag, keys), TEXT_OPS, st.text(max_size=12)),
    _compare(st.sampled_from(["id", "name", "parent_id", "experiment_id"]).map(attribute), TEXT_OPS, st.text()),
    _compare(
        st.just(attribute("status")),
        ["=", "!="],
        st.sampled_from(["RUNNING", "FINISHED", "FAILED", "KILLED"]),
    ),
    _compare(st.sampled_from(["start_time", "end_time"]).map(attribute), NUMERIC_OPS, numbers),
)
conditions = st.recursive(
    comparisons,
    lambda inner: st.builds(
        lambda op, items: BoolOp(op=op, items=tuple(items)),
        st.sampled_from(["and", "or"]),
        st.lists(inner, min_size=2, max_size=4),
    ),
    max_leaves=6,
)


def _quote(text: str, quote: str) -> str:
    return quote + text.replace("\\", "\\\\").replace(quote, quote * 2) + quote


def _keyword(word: str, rnd: random.Random) -> str:
    return rnd.choice([word, word.upper(), word.capitalize()])


def _space(rnd: random.Random) -> str:
    return rnd.choice([" ", " ", "  ", "\n", "\t "])


def render_field(field: Field, rnd: random.Random) -> str:
    key = field.key.upper() if field.kind == "attribute" and rnd.random() < 0.3 else field.key
    if not PLAIN_KEY.fullmatch(key) or rnd.random() < 0.1:
        key = _quote(key, rnd.choice('`"'))
    text = f"{rnd.choice(ALIASES[field.kind])}.{key}"
    if field.aggregate != "last" or (field.kind == "metric" and rnd.random() < 0.1):
        text = f"{_keyword(field.aggregate, rnd)}({text})"
    return text


def render_value(value: str | float, field: Field, rnd: random.Random) -> str:
    if isinstance(value, float):
        return repr(value)
    if field == attribute("status") and rnd.random() < 0.5:
        value = value.lower()  # statuses are case-insensitive
    return _quote(value, rnd.choice("'\""))


def render(condition: Condition, rnd: random.Random) -> str:
    """Write ``condition`` as filter text, choosing spellings, case, quotes and blanks at random."""
    sp = _space(rnd)
    if isinstance(condition, Comparison):
        op = " ".join(
            _keyword(word, rnd) for word in rnd.choice(OP_SPELLINGS.get(condition.op, [condition.op])).split()
        )
        if isinstance(condition.value, tuple):
            value = "(" + f",{sp}".join(render_value(v, condition.field, rnd) for v in condition.value) + ")"
        else:
            value = render_value(condition.value, condition.field, rnd)
        return f"{render_field(condition.field, rnd)}{sp}{op}{_space(rnd)}{value}"
    parts = []
    for item in condition.items:
        text = render(item, rnd)
        needs_parens = isinstance(item, BoolOp) and item.op == "or" and condition.op == "and"
        parts.append(f"({sp}{text}{sp})" if needs_parens or rnd.random() < 0.2 else text)
    return f"{sp}{_keyword(condition.op, rnd)}{sp}".join(parts)


def flatten(condition: Condition) -> Condition:
    """Return the canonical tree the parser gives: no ``and`` right inside ``and``, nor ``or`` in ``or``."""
    if isinstance(condition, Comparison):
        return condition
    items: list[Condition] = []
    for item in map(flatten, condition.items):
        items.extend(item.items if isinstance(item, BoolOp) and item.op == condition.op else [item])
    return BoolOp(op=condition.op, items=tuple(items))


@FAST
@given(conditions, st.randoms(use_true_random=False))
def test_rendered_trees_parse_back_to_themselves(condition: Condition, rnd: random.Random) -> None:
    text = render(condition, rnd)
    assert parse_filter(text) == flatten(condition), text


@QUICK
@given(
    st.lists(st.builds(OrderKey, field=comparisons.map(lambda c: c.field), descending=st.booleans()), max_size=4),
    st.randoms(use_true_random=False),
)
def test_rendered_order_by_parses_back(order: list[OrderKey], rnd: random.Random) -> None:
    terms = [
        render_field(key.field, rnd) + (f" {_keyword('desc', rnd)}" if key.descending else rnd.choice(["", " asc"]))
        for key in order
    ]
    assert parse_order_by(terms) == tuple(order)
    assert parse_order_by(", ".join(terms)) == tuple(order)


GRAMMAR_ALPHABET = "metricsparamtgsubyxz_.`'\"\\()<>=!, -+0123456789eE\nANDORINOTLIKE"


@st.composite
def mangled_filters(draw: st.DrawFn) -> str:
    """A valid filter with a few characters replaced, inserted or removed somewhere."""
    text = render(draw(conditions), draw(st.randoms(use_true_random=False)))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, min(len(text), start + 5)))
    return text[:start] + draw(st.text(alphabet=GRAMMAR_ALPHABET, max_size=3)) + text[end:]


noisy_text = st.one_of(st.text(), st.text(alphabet=GRAMMAR_ALPHABET), mangled_filters())


def error_of(call: Callable[[], object]) -> InvalidInputError | None:
    """Call ``call``; return the InvalidInputError it raised, None if none (anything else propagates)."""
    try:
        call()
    except InvalidInputError as exc:
        return exc
    return None


@FAST
@given(noisy_text)
def test_the_parser_raises_only_invalid_input(text: str) -> None:
    error = error_of(lambda: parse_filter(text))
    assert error is None or (error.message.startswith("Cannot parse the filter") and error.hint), error


@QUICK
@given(st.one_of(noisy_text, st.lists(st.text(alphabet=GRAMMAR_ALPHABET), max_size=3)))
def test_order_by_raises_only_invalid_input(items: str | list[str]) -> None:
    error = error_of(lambda: parse_order_by(items))
    assert error is None or error.hint, error


@QUICK
@given(st.text(max_size=300), st.text(max_size=20))
def test_any_token_text_is_refused_cleanly(token: str, fingerprint: str) -> None:
    error = error_of(lambda: decode_page_token(token, fingerprint))
    assert error is None or "another search" in str(error), error


def test_attribute_names_cover_the_model() -> None:
    assert {key.field.key for key in parse_order_by(list(ATTRIBUTES))} == set(ATTRIBUTES)
