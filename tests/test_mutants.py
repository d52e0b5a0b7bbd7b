"""The conformance suite fails every deliberately broken backend in ``mutants.py``.

The mutants are installed the way a third party installs a backend, through an entry
point of a distribution (a ``.dist-info`` made here, on ``PYTHONPATH``), so child
processes the suite starts find them too. One test class per mutant runs the whole
suite; two pytest processes share the classes. Each mutant must fail the tests named
below (and pass most of the rest: proof the run itself worked).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

import pytest

from mutants import MUTANTS

HERE = Path(__file__).parent
SM = "test_state_machine"
CAUGHT_BY: dict[str, set[str]] = {
    "mutant-has-more": {"test_has_more_is_exact_at_the_page_boundary[8-False-asc]", SM},
    "mutant-cursor-included": {"test_after_excludes_the_cursor[asc]", SM},
    "mutant-before-order": {
        "test_before_returns_the_previous_page_in_requested_order[desc]",
        SM,
    },
    "mutant-terminal-guard": {"test_terminal_run_cannot_move[completed]", SM},
    "mutant-expected-ignored": {
        "test_expected_status_is_compare_and_set",
        "test_concurrent_claims_have_one_winner",
        SM,
    },
    "mutant-unlocked-modify": {
        "test_no_lost_updates_between_threads",
        "test_no_lost_updates_on_any_record[one]",
    },
    "mutant-lock-per-object": {"test_no_lost_updates_on_any_record[many]"},
    "mutant-shallow-delete": {"test_delete_thread_cascades", SM},
    "mutant-create-overwrites": {"test_create_existing_thread_fails_and_overwrites_nothing", SM},
    "mutant-ghost-reads": {"test_reads_never_create", SM},
    "mutant-retry-duplicates": {"test_iter_messages_reads_everything_in_order", SM},
    "mutant-stale-cache": {"test_second_store_object_sees_writes", SM},
    "mutant-moves-on-update": {"test_updates_keep_list_positions", SM},
    "mutant-claims-persistence": {"test_data_outlives_the_process"},
    "mutant-claims-multi-process": {
        "test_concurrent_appends_from_processes",
        "test_concurrent_claims_from_processes",
        "test_no_lost_updates_between_processes",
    },
}
"""Mutant scheme → suite tests that must fail against it."""

CLASS = "Test_{}"
SUITE_MODULE = """\
import uuid

import pytest

from threadstore.testing import ThreadStoreConformance
{classes}"""
SUITE_CLASS = """

class {name}(ThreadStoreConformance):
    @pytest.fixture
    def store_url(self) -> str:
        return f"{scheme}://{{uuid.uuid4().hex}}"
"""


def class_name(scheme: str) -> str:
    return CLASS.format(scheme.replace("-", "_"))


def install_mutants(site: Path) -> None:
    """A distribution's metadata whose entry points serve each mutant's scheme."""
    info = site / "threadstore_mutants-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: threadstore-mutants\nVersion: 0\n")
    lines = [f"{scheme} = mutants:{cls.__name__}" for scheme, cls in MUTANTS.items()]
    (info / "entry_points.txt").write_text("[threadstore.backends]\n" + "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Mutant scheme → {suite test: "passed" | "failed" | "skipped" | "error"}."""
    root = tmp_path_factory.mktemp("mutants")
    install_mutants(root / "site")
    (root / "pytest.ini").write_text("[pytest]\n")
    classes = "".join(
        SUITE_CLASS.format(name=class_name(scheme), scheme=scheme) for scheme in MUTANTS
    )
    (root / "test_suite_on_mutants.py").write_text(SUITE_MODULE.format(classes=classes))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root / "site"), str(HERE)]),
        "THREADSTORE_HYPOTHESIS_PROFILE": "ci",
    }
    schemes = list(MUTANTS)
    runs: list[tuple[Path, subprocess.Popen[bytes]]] = []
    for part in (schemes[::2], schemes[1::2]):
        report = root / f"report-{len(runs)}.xml"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "test_suite_on_mutants.py",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={report}",
            "-k",
            " or ".join(class_name(scheme) for scheme in part),
        ]
        runs.append((report, subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE)))
    results: dict[str, dict[str, str]] = defaultdict(dict)
    by_class = {class_name(scheme): scheme for scheme in schemes}
    for report, process in runs:
        output, _ = process.communicate(timeout=600)
        assert process.returncode == pytest.ExitCode.TESTS_FAILED, output.decode()[-3000:]
        for case in ElementTree.parse(report).iter("testcase"):  # noqa: S314 - our own report
            scheme = by_class[case.get("classname", "").rpartition(".")[2]]
            states = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            results[scheme][case.get("name", "")] = states[0] if states else "passed"
    return results


def test_every_mutant_is_listed() -> None:
    assert set(CAUGHT_BY) == set(MUTANTS)


@pytest.mark.parametrize("scheme", list(MUTANTS))
def test_the_suite_catches(outcomes: dict[str, dict[str, str]], scheme: str) -> None:
    results = outcomes[scheme]
    failed = {name for name, state in results.items() if state in ("failure", "error")}
    passed = [name for name, state in results.items() if state == "passed"]
    assert len(passed) > 100, f"the suite did not run properly against {scheme}: {results}"
    missed = CAUGHT_BY[scheme] - failed
    assert not missed, f"{scheme} passed {sorted(missed)}; the suite failed {sorted(failed)}"
