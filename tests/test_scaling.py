"""No work that grows faster than the pipeline: the cost per stage of a whole compile, counted in
Python function calls (which do not vary with the machine's speed, unlike time), is about the
same at 80 and at 320 stages. A quadratic step (a scan of every stage for each stage) would show
as calls per stage growing with the size, as long as its inner step calls a function; a loop
that calls none is not counted, and the benchmark's 10,000-stage row is what would show it. Speed
itself is measured by bench/run.py, never here."""

from __future__ import annotations

import cProfile
import pstats
import sys
from pathlib import Path

from conftest import ROOT
from kc.compiler import passes, source
from kc.targets import kubernetes

sys.path.insert(0, str(ROOT / "bench"))
from run import generate_spec  # the benchmark's own generator: the same pipelines


def _calls(stages: int, tmp_path: Path) -> int:
    spec = tmp_path / f"n{stages}.spec"
    spec.write_text(generate_spec(stages))
    profile = cProfile.Profile()
    profile.enable()
    dict(kubernetes.files(passes.run(source.load_file(str(spec)))))
    profile.disable()
    return pstats.Stats(profile).total_calls  # type: ignore[attr-defined,no-any-return]


def test_the_cost_per_stage_does_not_grow_with_the_pipeline(tmp_path: Path) -> None:
    _calls(20, tmp_path)  # patterns loaded and templates compiled once, as in any run
    small, large = _calls(80, tmp_path), _calls(320, tmp_path)
    growth = (large / 320) / (small / 80)
    assert growth < 1.15, f"calls per stage grew {growth:.2f}x from 80 to 320 stages ({small} and {large} calls)"
