"""Least privilege on the network, as kube-score sees it: no pod of any golden case lacks an
ingress or an egress NetworkPolicy (its check ``pod-networkpolicy``). kube-score is a Go program,
not a Python package: the test runs it when it is on PATH or in Go's bin directory, and is skipped
otherwise (``go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0`` brings it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cases import CASES
from conftest import ROOT


def kube_score() -> str | None:
    go_bin = Path(os.environ.get("GOPATH") or Path.home() / "go") / "bin" / "kube-score"
    return shutil.which("kube-score") or (str(go_bin) if go_bin.is_file() else None)


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_pod_has_ingress_and_egress_policies(case: str) -> None:
    found = kube_score()
    if found is None:
        pytest.skip("kube-score is not installed")
    files = sorted(str(p) for p in (ROOT / "golden" / case).glob("*.yaml"))
    result = subprocess.run([found, "score", *files, "--output-format", "ci"], capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if "NetworkPolicy" in line and not line.startswith("[OK]")]
    # A policy of the workspace selects every pod of the instance; a pipeline without pods (the
    # crontab example's stages are custom resources) leaves it selecting none.
    unmatched = "The NetworkPolicys selector doesn't match any pods"
    assert [line for line in lines if unmatched not in line] == [], result.stdout
