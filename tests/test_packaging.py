"""Every distribution builds as a maintainer builds it (``python -m build``), and ships what
it says: its license, its own files and nothing of the others', the examples, py.typed."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LICENSE = (ROOT / "LICENSE").read_text()


def build(directory: Path, out: Path) -> tuple[list[str], list[str]]:
    """Build the sdist and the wheel of ``directory``; the names of the files in each."""
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation", "--outdir", out],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    with tarfile.open(sdist) as archive:
        in_sdist = [name.partition("/")[2] for name in archive.getnames()]
        license_member = next(m for m in archive.getmembers() if m.name.endswith("/LICENSE"))
        extracted = archive.extractfile(license_member)
        assert extracted is not None
        assert extracted.read().decode() == LICENSE
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = archive.namelist()
        licenses = [name for name in in_wheel if name.endswith(".dist-info/licenses/LICENSE")]
        assert len(licenses) == 1, in_wheel
        assert archive.read(licenses[0]).decode() == LICENSE
    return in_sdist, in_wheel


def test_the_core_ships_its_own_files_the_examples_and_its_license(tmp_path: Path) -> None:
    in_sdist, in_wheel = build(ROOT, tmp_path)
    assert "LICENSE" in in_sdist
    assert "examples/fastapi_app.py" in in_sdist
    assert "src/threadstore/py.typed" in in_sdist
    assert not [name for name in in_sdist if name.startswith("backends/")]
    assert "threadstore/py.typed" in in_wheel
    assert "threadstore/__main__.py" in in_wheel
    assert not [name for name in in_wheel if not name.startswith("threadstore")]


@pytest.mark.parametrize("name", ["threadstore-fsspec", "threadstore-example"])
def test_each_backend_ships_its_license(tmp_path: Path, name: str) -> None:
    package = name.replace("-", "_")
    in_sdist, in_wheel = build(ROOT / "backends" / name, tmp_path)
    assert "LICENSE" in in_sdist
    assert f"src/{package}/py.typed" in in_sdist
    assert f"{package}/py.typed" in in_wheel
