"""The path-containment chokepoint (RELIABILITY T7, T8): traversal corpus, planted symlinks, property test."""

from __future__ import annotations

import itertools
import os
import posixpath
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelyard.errors import UnsafePathError
from modelyard.stores.paths import MAX_PATH_BYTES, clean_name, clean_relpath, contained_path, contained_paths

PROFILE = os.environ.get("MODELYARD_TEST_PROFILE", "ci")
PROPERTY_EXAMPLES = {"ci": 4_000, "extended": 200_000}.get(PROFILE, 4_000)

CANARY = "canary.txt"
CANARY_BYTES = b"canary: never read or written through the chokepoint\n"

# -- the corpus ----------------------------------------------------------------------------------------------
_DOTS = [
    "..",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "%252e%252e",
    "%c0%ae%c0%ae",
    "%e0%80%ae%e0%80%ae",
    "\uff0e\uff0e",  # fullwidth full stops
    "\u2024\u2024",  # one dot leaders
    "..\x00",
    "...",
    ". .",
    ".. ",
]
_SEPARATORS = ["/", "\\", "%2f", "%5c", "%252f", "%c0%af", "\uff0f", "\uff3c", "\\/", "/\\"]


def _traversals() -> Iterator[str]:
    for dots, sep, depth in itertools.product(_DOTS, _SEPARATORS, range(1, 7)):
        if depth in (1, 3, 6) or sep in ("/", "\\"):
            yield (dots + sep) * depth + CANARY
    for depth in range(1, 7):
        yield "a/" + "../" * depth + CANARY
        yield "a\\" + "..\\" * depth + CANARY
        yield "a/b/" + "../" * (depth + 1) + "x"
        yield "./" * depth + CANARY
        yield "x/" + "./" * depth + "../" + CANARY


_ABSOLUTE_AND_SCHEMES = [
    "/",
    "/etc/passwd",
    "//etc/passwd",
    "/tmp/" + CANARY,
    "//host/share/x",
    "///x",
    "\\\\host\\share\\x",
    "\\\\?\\C:\\x",
    "\\\\.\\pipe\\x",
    "C:\\Windows\\win.ini",
    "C:/Windows/win.ini",
    "c:x",
    "C:",
    "z:/..",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "file:../" + CANARY,
    "FILE:/etc/passwd",
    "dbfs:/x",
    "dbfs:/../" + CANARY,
    "s3://bucket/key",
    "s3:x",
    "gs://bucket/x",
    "http://169.254.169.254/latest/meta-data",
    "https://example.com/x",
    "hdfs:///x",
    "mlflow-artifacts:/x",
    "a:b",
    "model/x:stream",
    "model.bin::$DATA",
]
_TRICKS = [
    "a#/../../" + CANARY,
    "a?/../../" + CANARY,
    "a;/../../" + CANARY,
    "..;/" + CANARY,
    "x/..;/..;/" + CANARY,
    "a/b#frag",
    "a?x=1",
    "a%00b",
    "%2F" + CANARY,
    "%2e",
    "a%2fb",
    "%25",
    "a/%2e%2e",
    "file%3a///etc/passwd",
    "*",
    "a/*.txt",
    "a<b",
    "a>b",
    "a|b",
    'a"b',
    "a\\b",
]
_CONTROL_AND_UNICODE = [
    "",
    ".",
    "..",
    "./",
    "../",
    "a//b",
    "a//",
    "//",
    "a/./b",
    "a/.",
    "a/..",
    "a\x00b",
    "model.bin\x00.txt",
    "\x00",
    "a\nb",
    "a\rb",
    "a\tb",
    "a\x1bb",
    "a\x7fb",
    "a\x85b",
    "a\u200bb",  # zero-width space
    "a\u202eb",  # right-to-left override
    "\ufeffa",  # byte-order mark
    "a\u2028b",  # line separator
    "a\udc80b",  # lone surrogate (undecodable file name)
    "a\ue000b",  # private use
    "\uff0e\uff0e/x",
    "a\uff0fb",
    "e\u0301t\u0301e\u0301.csv",  # decomposed accents are not NFKC
    "\u2126",  # ohm sign
    "\ufb01le.txt",  # ligature
]
_TRAILING = [
    "a.",
    "a..",
    "a ",
    "a. ",
    "a/b.",
    "a /b",
    "a./b",
    "con.",
    "model.skops.",
    "model.skops ",
    " ",
    "x/ /y",
]
_LONG = [
    "a" * 256,
    "\u00e9" * 128,
    "d/" + "n" * 256,
    "a/" * 513 + "b",
    "x" * 1025,
    "ab/" * 400,
]

CORPUS = sorted(
    set(itertools.chain(_traversals(), _ABSOLUTE_AND_SCHEMES, _TRICKS, _CONTROL_AND_UNICODE, _TRAILING, _LONG))
)

GOOD = [
    "model/model.skops",
    "plots/roc curve.png",
    "données/été.csv",
    "日本語/ファイル.txt",
    "a",
    "a/b/c/d/e/f/g.txt",
    ".hidden",
    "a/.gitignore",
    "a..b",
    "v1.0/weights",
    "100%.txt",
    "50%off/x",
    "-rf",
    "~user/x",
    "a;b",
    "a b/c d",
    "x" * 255,
    "\u00e9" * 127,
    "n/" * 500 + "x",
]


def _short(value: str) -> str:
    shown = ascii(value)
    return shown if len(shown) <= 60 else f"{shown[:50]}...({len(value)} chars)"


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) >= 300


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A store root inside ``tmp_path`` with a canary file beside it (outside the root)."""
    (tmp_path / CANARY).write_bytes(CANARY_BYTES)
    inside = tmp_path / "root"
    (inside / "a" / "b").mkdir(parents=True)
    return inside


def _outside_state(tmp_path: Path) -> dict[str, bytes]:
    return {
        p.relative_to(tmp_path).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(tmp_path.rglob("*"))
        if "root" not in p.relative_to(tmp_path).parts
    }


def _careless_write(root: Path, payload: str) -> None:
    """Write wherever the chokepoint says, as a careless caller would, so a leak would hit the canary."""
    target = contained_path(root, payload)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"pwned")


@pytest.mark.parametrize("payload", CORPUS, ids=_short)
def test_payload_is_refused(payload: str, root: Path, tmp_path: Path) -> None:
    before = _outside_state(tmp_path)
    with pytest.raises(UnsafePathError, match="Unsafe path"):
        clean_relpath(payload)
    with pytest.raises(UnsafePathError, match="Unsafe path") as refused:
        _careless_write(root, payload)
    assert refused.value.hint is not None
    assert "model/model.skops" in refused.value.hint
    assert _outside_state(tmp_path) == before
    assert (tmp_path / CANARY).read_bytes() == CANARY_BYTES


@pytest.mark.parametrize("payload", CORPUS, ids=_short)
def test_the_batch_chokepoint_refuses_what_the_single_one_refuses(payload: str, root: Path) -> None:
    with pytest.raises(UnsafePathError, match="Unsafe path"):
        contained_paths(root, ["a/fine.txt", payload])


def test_the_batch_chokepoint_agrees_on_good_paths_and_planted_links(root: Path, tmp_path: Path) -> None:
    assert contained_paths(root, GOOD) == [contained_path(root, good) for good in GOOD]
    (root / "a" / "link").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        contained_paths(root, ["a/b/x", "a/link/escape"])
    assert contained_paths(tmp_path / "missing-root", ["x/y"]) == [tmp_path / "missing-root" / "x" / "y"]


@pytest.mark.parametrize("text", [*CORPUS, *GOOD], ids=_short)
def test_names_are_judged_like_the_paths_they_make(text: str) -> None:
    """``clean_name`` on each component agrees with ``clean_relpath`` on the whole (folder walks rely on it)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES or text.endswith("/"):
        return
    try:
        clean_relpath(text)
    except UnsafePathError:
        whole_ok = False
    else:
        whole_ok = True
    try:
        for name in text.split("/"):
            clean_name(name)
    except UnsafePathError:
        names_ok = False
    else:
        names_ok = True
    assert names_ok == whole_ok


def test_message_names_the_value_and_the_reason() -> None:
    with pytest.raises(UnsafePathError, match=r"Unsafe path '\.\./x': it has a '\.\.' component\.") as info:
        clean_relpath("../x")
    assert info.value.code == "unsafe-path"
    with pytest.raises(UnsafePathError, match="U\\+FF0E, a look-alike of '\\.'"):
        clean_relpath("\uff0e\uff0e/x")
    with pytest.raises(UnsafePathError, match="percent-encoded"):
        clean_relpath("%2e%2e/x")
    with pytest.raises(UnsafePathError, match="expected text, got bytes"):
        clean_relpath(b"a/b")  # type: ignore[arg-type]
    with pytest.raises(UnsafePathError, match=r"'x{99}\.\.\.': it is longer than 1024 bytes"):
        clean_relpath("x" * 2000)


@pytest.mark.parametrize("good", GOOD, ids=_short)
def test_good_paths_are_accepted(good: str, tmp_path: Path) -> None:
    root = tmp_path
    cleaned = clean_relpath(good)
    assert cleaned == good
    assert clean_relpath(cleaned) == cleaned
    target = contained_path(root, good)
    assert target == root.joinpath(*good.split("/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"ok")
    assert contained_path(root, good).read_bytes() == b"ok"


def test_one_trailing_slash_is_dropped() -> None:
    assert clean_relpath("model/") == "model"
    assert clean_relpath(clean_relpath("model/")) == "model"
    with pytest.raises(UnsafePathError, match="empty name"):
        clean_relpath("model//")


@pytest.mark.parametrize(
    ("link", "points_to"),
    [
        ("out", "{tmp}"),  # a folder outside
        ("a/out", "{tmp}/" + CANARY),  # a file outside
        ("a/up", ".."),  # relative, climbs to the root
        ("a/b/far", "../../.."),  # relative, climbs out
        ("in", "{root}/a"),  # stays inside: still refused
        ("a/b/self", "."),
        ("dangling", "{tmp}/does-not-exist"),
        ("abs", "/etc"),
    ],
)
def test_planted_symlinks_are_refused(link: str, points_to: str, root: Path, tmp_path: Path) -> None:
    planted = root / link
    planted.symlink_to(points_to.format(tmp=tmp_path, root=root))
    before = _outside_state(tmp_path)
    for rel in (link, f"{link}/{CANARY}", f"{link}/x/y"):
        with pytest.raises(UnsafePathError, match="is a symbolic link"):
            contained_path(root, rel)
    assert _outside_state(tmp_path) == before


def test_the_root_itself_may_be_a_symlink(root: Path, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    assert contained_path(alias, "a/b/new.txt") == alias / "a" / "b" / "new.txt"


def test_a_file_in_the_way_is_not_a_containment_problem(root: Path) -> None:
    (root / "f").write_text("x")
    assert contained_path(root, "f/child") == root / "f" / "child"


# -- the property (T8) ---------------------------------------------------------------------------------------
_VALID_SEGMENTS = ["a", "b", "a/b", "l0", "a/l1", "a/b/l2", "x", "\u00e9"]
_HOSTILE_SEGMENTS = [".", "..", "..;", "", " ", "x.", "e\u0301", "%2e", "\uff0e", ":", "\\"]
_SEGMENTS = st.sampled_from(_VALID_SEGMENTS * 4 + _HOSTILE_SEGMENTS)
_LINK_SITES = ["l0", "a/l1", "a/b/l2"]
_LINK_TARGETS = [
    "{out}",
    "{out}/o",
    "{root}",
    "{root}/a",
    "..",
    "../..",
    "../../..",
    "a",
    "b",
    "/",
    "missing",
]


def _oracle(root: Path, cleaned: str) -> bool:
    """Independent answer: no existing component is a link and the realpath stays strictly inside the root."""
    current = str(root)
    for name in cleaned.split("/"):
        current = os.path.join(current, name)
        if os.path.islink(current):
            return False
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, cleaned))
    return real.startswith(real_root + os.sep)


def test_containment_property(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "out" / "o").mkdir(parents=True)

    @settings(
        max_examples=PROPERTY_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        links=st.dictionaries(st.sampled_from(_LINK_SITES), st.sampled_from(_LINK_TARGETS), min_size=1, max_size=3),
        parts=st.lists(_SEGMENTS, min_size=1, max_size=6),
        lead=st.sampled_from(["", "", "/", "./"]),
        trail=st.sampled_from(["", "", "/", "//"]),
        noise=st.text(max_size=6),
    )
    def check(links: dict[str, str], parts: list[str], lead: str, trail: str, noise: str) -> None:
        planted = [root / site for site in links]
        for site, target in links.items():
            (root / site).symlink_to(target.format(out=tmp_path / "out", root=root))
        try:
            for text in (lead + "/".join(parts) + trail, noise, "/".join(parts) + noise):
                _check_one(root, text)
        finally:
            for link in planted:
                link.unlink()

    check()


def _check_one(root: Path, text: str) -> None:
    try:
        cleaned = clean_relpath(text)
    except UnsafePathError:
        with pytest.raises(UnsafePathError, match="Unsafe path"):
            contained_path(root, text)
        return
    assert clean_relpath(cleaned) == cleaned
    assert posixpath.normpath(cleaned) == cleaned
    assert not cleaned.startswith("/")
    assert unicodedata.normalize("NFKC", cleaned) == cleaned
    expected = _oracle(root, cleaned)
    try:
        result = contained_path(root, text)
    except UnsafePathError:
        assert not expected, f"refused {text!r} though it stays inside"
        return
    assert expected, f"accepted {text!r}"
    real_root = os.path.realpath(root)
    assert os.path.realpath(result).startswith(real_root + os.sep)
