"""ruff and mypy (strict) over the code, as part of the test command."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGES = ("compiler", "schemas", "targets")


def test_ruff() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", *PACKAGES, "tests"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict(tmp_path: Path) -> None:
    # The folders install as kc.compiler, kc.cluster, kc.schemas and kc.targets; give mypy that
    # layout, without compiler/cluster/ under the name kc.compiler.cluster.
    (tmp_path / "kc").mkdir()
    for name in PACKAGES:
        (tmp_path / "kc" / name).symlink_to(ROOT / name)
    (tmp_path / "kc" / "cluster").symlink_to(ROOT / "compiler" / "cluster")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--namespace-packages",
            "--explicit-package-bases",
            "--exclude",
            "^kc/compiler/cluster/",
            "--cache-dir",
            str(tmp_path / ".cache"),
            "-p",
            "kc",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
