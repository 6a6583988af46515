"""kc's pre-commit hooks (.pre-commit-hooks.yaml), run by pre-commit itself on a sample repository
that uses this checkout's committed HEAD, as a user's repository would use a release."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from kc.compiler import cli

HOOKS = """\
repos:
  - repo: {root}
    rev: {rev}
    hooks:
      - id: kc-validate
      - id: kc-compile-check
        args: [pipeline.spec, -o, out]
"""


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_hooks_run_under_pre_commit(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and kc's own git checkout")
    rev = git(ROOT, "rev-parse", "HEAD")
    if "kc-compile-check" not in git(ROOT, "show", f"{rev}:.pre-commit-hooks.yaml"):
        pytest.skip("HEAD has no kc hooks yet")
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    shutil.copy(ROOT / "examples" / "shop" / "pipeline.spec", repo / "pipeline.spec")
    assert cli.main(["compile", str(repo / "pipeline.spec"), "-o", str(repo / "out")]) == 0
    (repo / ".pre-commit-config.yaml").write_text(HOOKS.format(root=ROOT, rev=rev))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a pipeline")
    pre_commit = [str(Path(sys.executable).parent / "pre-commit"), "run", "--all-files", "--color", "never"]
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache")}

    passed = subprocess.run(pre_commit, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "kc validate" in passed.stdout and "kc compile --check" in passed.stdout

    # A change to the spec: the output is stale; a mistake: the spec is invalid.
    spec = repo / "pipeline.spec"
    spec.write_text(spec.read_text().replace("    replicas: 2\n", "    replicas: 3\n"))
    stale = subprocess.run(pre_commit, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert stale.returncode == 1 and "stale" in stale.stdout, stale.stdout
    spec.write_text(spec.read_text().replace("    replicas: 3\n", "    replica: 3\n"))
    invalid = subprocess.run(pre_commit, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert invalid.returncode == 1 and "unknown field 'replica'" in invalid.stdout, invalid.stdout

    # A mistake in a profile no command selects: kc validate checks each profile, so the hook fails.
    spec.write_text(spec.read_text().replace("    replica: 3\n", "    replicas: 2\n"))
    spec.write_text(spec.read_text().replace("api: {replicas: 4, size: medium}", "api: {replica: 4, size: huge}"))
    profile = subprocess.run(pre_commit, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert profile.returncode == 1, profile.stdout
    assert "unknown field 'replica'" in profile.stdout and "with --profile prod" in profile.stdout, profile.stdout
    assert "invalid value for 'size'" in profile.stdout
