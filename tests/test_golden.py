"""Every example compiles to exactly the files in golden/<case>/, byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cases import CASES
from conftest import ROOT
from kc.compiler import arguments, commands
from kc.targets import kubernetes


def compiled(case: str) -> dict[str, str]:
    spec, flags = CASES[case]
    args = arguments.parser().parse_args(["compile", str(ROOT / spec), *flags])
    return dict(kubernetes.files(commands.build(args)))


def on_disk(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, update_goldens: bool) -> None:
    want_dir = ROOT / "golden" / case
    got = compiled(case)
    if update_goldens:
        shutil.rmtree(want_dir, ignore_errors=True)
        for rel, content in got.items():
            (want_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (want_dir / rel).write_text(content)
    want = on_disk(want_dir)
    assert sorted(got) == sorted(want), f"golden/{case} is stale: run pytest --update-goldens"
    for rel in got:
        assert got[rel] == want[rel], f"golden/{case}/{rel} is stale: run pytest --update-goldens"


def test_every_example_has_a_case() -> None:
    examples = {str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*/pipeline.spec")}
    assert examples <= {spec for spec, _ in CASES.values()}


def test_no_golden_without_a_case() -> None:
    assert {p.name for p in (ROOT / "golden").iterdir() if p.is_dir()} == set(CASES)


def test_compile_is_deterministic_across_processes(tmp_path: Path) -> None:
    # Fresh processes with different hash seeds: nothing may depend on set or dict order, on
    # caches warmed by an earlier compile, or on the process.
    kc = str(Path(sys.executable).parent / "kc")
    for case, (spec, flags) in sorted(CASES.items()):
        trees = []
        for seed in ("1", "2"):
            out = tmp_path / f"{case}-{seed}"
            env = {**os.environ, "PYTHONHASHSEED": seed}
            done = subprocess.run([kc, "compile", str(ROOT / spec), *flags, "-o", str(out)], env=env, cwd=tmp_path)
            assert done.returncode == 0
            trees.append({rel: (out / rel).read_bytes() for rel in on_disk(out)})
        assert trees[0] == trees[1], case
        assert {rel: text.encode() for rel, text in on_disk(ROOT / "golden" / case).items()} == trees[0], case
