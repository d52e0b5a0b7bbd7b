"""Hostile inputs, as Hypothesis strategies, and the checks every hostile call must pass.

An ID may arrive as path traversal, a separator, NUL, whitespace, a Unicode look-alike
of a safe character, or ten kilobytes; metadata may break every limit; a URL may be any
text. Whatever arrives, the store must answer with a threadstore error (or succeed, when
the input is in fact valid), never a bare ``OSError``/``KeyError``/``ValueError`` from
deep inside, and must write nothing outside its root.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from threadstore.errors import InvalidRequestError, ThreadStoreError
from threadstore.ids import ID_PATTERN

__all__ = [
    "HOSTILE_IDS",
    "HOSTILE_METADATA",
    "TRAVERSALS",
    "answers_cleanly",
    "is_valid_id",
    "tree",
]

TRAVERSALS = [
    "",
    ".",
    "..",
    "../x",
    "../../../../etc/passwd",
    "..\\..\\windows",
    "a/b",
    "a\\b",
    "/abs",
    "x\x00y",
    "\x00",
    " ",
    "a b",
    "line\n",
    "tab\t",
    "thread_1/..",
    "thread_1/../thread_2",
    "%2e%2e%2fx",
    "~root",
    "$HOME",
    "-rf",
    "_lead",
    "\uff54hread_1",  # fullwidth t
    "thread_\u0430",  # Cyrillic a
    "thread\u2215x",  # division slash
    "thread\u2044x",  # fraction slash
    "\uff0e\uff0e",  # fullwidth full stops
    "thread_1\u202e",  # right-to-left override
    "thread_1\u200b",  # zero-width space
    "thread_1\ufeff",
    "e\u0301",  # combining accent
    "a" * 65,
    "a" * 10_240,
    "msg_" + "0" * 10_236,
    "thread_ok\x00../../x",
]
"""Hand-picked IDs that must never name a path or key."""

HOSTILE_IDS: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(TRAVERSALS),
    st.text(max_size=80),
    st.builds(
        lambda safe, bad, tail: safe + bad + tail,
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        st.sampled_from(["/", "\\", "..", "\x00", " ", ".", ":", "\u2215", "\uff0f"]),
        st.text(max_size=10),
    ),
    st.builds(lambda char, size: char * size, st.characters(), st.integers(60, 10_240)),
)

_VALUE = st.one_of(
    st.text(max_size=20),
    st.text(min_size=513, max_size=600),
    st.integers(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
HOSTILE_METADATA: st.SearchStrategy[Any] = st.one_of(
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), min_size=17, max_size=24),
    st.dictionaries(st.text(min_size=65, max_size=80), st.text(max_size=8), min_size=1, max_size=2),
    st.dictionaries(st.text(max_size=8), _VALUE, min_size=1, max_size=3).filter(
        lambda d: any(not isinstance(v, str) or len(v) > 512 for v in d.values())
    ),
    st.lists(st.text(max_size=5), max_size=3),
    st.text(max_size=20),
    st.integers(),
)
"""Metadata that breaks a limit: too many pairs, long keys or values, wrong types."""


def is_valid_id(value: str) -> bool:
    return ID_PATTERN.fullmatch(value) is not None


def answers_cleanly(call: Callable[[], Any], *, invalid: bool) -> str:
    """Make the call; return ``"ok"`` or the threadstore error's class name.

    Anything but a :class:`ThreadStoreError` fails the test, and so does any answer but
    :class:`InvalidRequestError` when the input is ``invalid``.
    """
    error: ThreadStoreError | None = None
    try:
        call()
    except ThreadStoreError as raised:
        error = raised
    if error is None:
        assert not invalid, "invalid input was accepted"
        return "ok"
    if invalid:
        assert isinstance(error, InvalidRequestError), f"{type(error).__name__}: {error}"
    return type(error).__name__


def tree(top: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every path under ``top`` (except under ``skip``) with its size and mtime."""
    found: dict[str, tuple[int, int]] = {}
    for directory, dirnames, filenames in os.walk(top):
        if skip is not None and Path(directory).is_relative_to(skip):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = Path(directory, name)
            if skip is not None and path == skip:
                continue
            info = path.lstat()
            found[str(path.relative_to(top))] = (info.st_size, info.st_mtime_ns)
    return found


@contextmanager
def nothing_written_outside(top: Path, root: Path) -> Iterator[None]:
    """Fail if anything under ``top`` but outside ``root`` changes inside the block."""
    before = tree(top, skip=root)
    yield
    assert tree(top, skip=root) == before, "something was written outside the store's root"
