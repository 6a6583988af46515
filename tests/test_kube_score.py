"""The output as users' CI sees it with kube-score (github.com/zegl/kube-score, 1.20, its default
checks): every golden case scores no warning and no critical finding but those docs/security.md
lists with their reasons. Skipped where kube-score is not installed, unless CI is set; .ci/run
installs it with Go."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cases import CASES
from conftest import ROOT

# Each of these is also in docs/security.md, with the same reason.
REMAINING = {
    "The NetworkPolicys selector doesn't match any pods": "the crontab example runs no pod of its own",
}
FINDING = re.compile(r"^\[(CRITICAL|WARNING)\] (\S+) (\S+): (.*)$")


def _kube_score() -> str | None:
    found = shutil.which("kube-score")
    home = Path.home() / "go" / "bin" / "kube-score"
    return found or (str(home) if home.exists() else None)


@pytest.fixture(scope="module")
def kube_score() -> str:
    found = _kube_score()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "kube-score is missing: GOFLAGS=-mod=mod go install github.com/zegl/kube-score/cmd/kube-score@v1.20.0"
            )
        pytest.skip("kube-score is not installed")
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_kube_score_finds_only_what_security_md_lists(kube_score: str, case: str) -> None:
    files = sorted(str(p) for p in (ROOT / "golden" / case).glob("*.yaml"))
    result = subprocess.run(
        [kube_score, "score", "--output-format", "ci", *files], capture_output=True, text=True, timeout=120
    )
    assert result.returncode in (0, 1), result.stderr
    found = [m.groups() for m in map(FINDING.match, result.stdout.splitlines()) if m]
    assert "[OK]" in result.stdout, result.stdout
    unexpected = [f"{grade} {name} {kind}: {text}" for grade, name, kind, text in found if text not in REMAINING]
    assert not unexpected, "\n".join(unexpected)
