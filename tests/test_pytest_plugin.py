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


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "nope://u:hunter2@x",
            "*--threadstore-url=nope://u:***@x: no store opens there: no backend*",
        ),
        ("memory:/x", "*--threadstore-url: not a store URL*did you mean memory://x?*"),
    ],
)
def test_a_bad_url_stops_the_run_with_one_message(
    pytester: pytest.Pytester, url: str, says: str
) -> None:
    result = pytester.runpytest_subprocess(
        f"--threadstore-url={url}", "--pyargs", "threadstore.testing"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {says}"])
    assert [line for line in result.stderr.lines if line] == result.stderr.lines[:1]
    assert "hunter2" not in result.stdout.str() + result.stderr.str()
    assert result.stdout.str() == ""
