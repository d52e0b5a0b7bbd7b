"""The benchmark command still runs end to end: a ``--smoke`` pass into a temp directory.

Benchmarks are not tests and their numbers are not checked here; this only keeps the
code from rotting. The run uses tiny sizes and takes seconds on an idle machine (more
on a busy one); its saved results must then render to the same report again. Where
the S3 pieces are not installed the command leaves them out by itself, and this test
passes without them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXPECTED_PLOTS = {"append.png", "writers.png", "pages.png", "growth.png", "memory_vs_plain.png"}


def _benchmarks(*args: str) -> None:
    command = [sys.executable, "-m", "benchmarks", *args]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]


def test_smoke_run_writes_the_report_and_its_plots(tmp_path: Path) -> None:
    out, saved = tmp_path / "docs", tmp_path / "results.json"
    _benchmarks("--smoke", "--out", str(out), "--workdir", str(tmp_path), "--results", str(saved))

    report = (out / "benchmarks.md").read_text()
    assert report.startswith("<!-- BEGIN GENERATED BENCHMARK REPORT")
    for heading in (
        "## Targets",
        "## Append, one writer",
        "## Page of 20 by thread size",
        "## Agents SDK session memory",
        "## Start-up",
    ):
        assert heading in report
    assert "FAILED" not in report

    plots = {path.name: path for path in (out / "benchmarks").glob("*.png")}
    assert set(plots) >= EXPECTED_PLOTS
    for name, path in plots.items():
        assert path.read_bytes().startswith(PNG_SIGNATURE), name
        assert f"(benchmarks/{name})" in report, f"{name} is not embedded in the report"

    again = tmp_path / "again"
    _benchmarks("--report-from", str(saved), "--out", str(again))
    assert (again / "benchmarks.md").read_text() == report
