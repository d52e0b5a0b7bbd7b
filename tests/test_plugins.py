"""The plugin path, end to end, with the example distribution as the third-party backend.

``threadstore-example`` is installed like any plugin (its own pyproject, its own entry
points); nothing in the core names it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from threadstore.errors import BackendNotFoundError, CapabilityError
from threadstore.protocol import Capability
from threadstore.registry import GROUP, available_backends, backend_class, open_store
from threadstore.testing import SUITE_VERSION

GUIDE = Path(__file__).parents[1] / "docs" / "writing-a-backend.md"


def test_the_example_is_discovered_through_its_entry_point() -> None:
    assert {"example", "example-broken"} <= set(available_backends())
    [entry] = entry_points(group=GROUP, name="example")
    assert entry.value == "threadstore_example:JsonDirThreadStore"
    assert entry.dist is not None
    assert entry.dist.name == "threadstore-example"
    from threadstore_example import JsonDirThreadStore

    found: list[object] = [backend_class("example"), backend_class("EXAMPLE")]
    assert found == [JsonDirThreadStore, JsonDirThreadStore]


def test_only_the_backend_asked_for_is_imported(tmp_path: Path) -> None:
    script = f"""
import json, sys
import threadstore

def plugins():
    return sorted(m for m in sys.modules if m.startswith("threadstore_"))

threadstore.available_backends()
threadstore.open_store("memory://").create_thread()
before = plugins()
threadstore.open_store("example://{tmp_path}/store").create_thread()
print(json.dumps([before, plugins()]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    before, after = json.loads(done.stdout)
    assert before == []
    assert after == ["threadstore_example", "threadstore_example.jsondir"]


def test_a_plugin_that_fails_to_import_is_named() -> None:
    with pytest.raises(BackendNotFoundError) as caught:
        open_store("example-broken://anything")
    message = str(caught.value)
    assert "example-broken://" in message
    assert "ImportError" in message
    assert "'nonexistent' driver" in message


def test_an_unknown_scheme_names_what_is_installed() -> None:
    with pytest.raises(BackendNotFoundError, match=r"no backend for nosuch://") as caught:
        open_store("nosuch://x")
    assert "example://" in str(caught.value)
    assert "memory://" in str(caught.value)


def test_required_capabilities_of_a_plugin(tmp_path: Path) -> None:
    store = open_store(f"example://{tmp_path}", require={"persistent", Capability.SHARED})
    assert Capability.PERSISTENT in store.capabilities
    with pytest.raises(CapabilityError, match="multi-process"):
        open_store(f"example://{tmp_path}", require={Capability.MULTI_PROCESS})


def test_the_suite_runs_against_the_plugin_by_url(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    result = pytester.runpytest_subprocess(
        f"--threadstore-url=example://{tmp_path}/suite",
        "--pyargs",
        "threadstore.testing",
        "-p",
        "no:cacheprovider",
        "-v",
        "-rs",
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0
    assert outcomes.get("errors", 0) == 0
    assert outcomes["passed"] >= 120
    result.stdout.fnmatch_lines(["*::test_state_machine PASSED*"])
    skipped = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert skipped, "a backend that claims little has tests skipped"
    assert all("does not declare" in line for line in skipped), skipped


def test_the_guide_records_this_suite_version() -> None:
    assert f"### {SUITE_VERSION}" in GUIDE.read_text()
