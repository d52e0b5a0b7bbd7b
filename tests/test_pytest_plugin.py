"""`pytest --threadstore-url=URL --pyargs threadstore.testing` needs no test file of the user's."""

from __future__ import annotations

import pytest


def test_suite_runs_against_a_url(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--threadstore-url=memory://",
        "--pyargs",
        "threadstore.testing",
        "-q",
        "-p",
        "no:cacheprovider",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("errors", 0) == 0
    assert outcomes["passed"] >= 100


def test_suite_without_a_url_says_what_to_give(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--pyargs", "threadstore.testing", "-rs", "-q")
    result.stdout.fnmatch_lines(["*give --threadstore-url=URL*"])
    assert result.parseoutcomes().get("passed", 0) == 0
