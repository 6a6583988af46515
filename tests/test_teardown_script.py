"""kc/teardown.sh: it passes shellcheck, and run against a recording fake kubectl it issues exactly
the plan's commands, in order; with --delete-data it adds the data steps and nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import test_teardown_properties
from cases import CASES
from conftest import compile_text
from kc.compiler import teardown
from kc.targets import teardown_text

# A stand-in for kubectl: it records its arguments, one invocation per line, fields separated by
# the ASCII unit separator, prints nothing (so every guard finds nothing) and succeeds.
FAKE_KUBECTL = """#!/usr/bin/env bash
{ printf '%s\\x1f' "${0##*/}" "$@"; printf '\\n'; } >> "$KC_FAKE_KUBECTL_LOG"
"""


def run_script(
    script: str, tmp_path: Path, *args: str, kubectl: str = FAKE_KUBECTL
) -> tuple[subprocess.CompletedProcess[str], list[tuple[str, ...]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "kubectl"
    fake.write_text(kubectl)
    fake.chmod(0o755)
    log = tmp_path / "kubectl.log"
    log.write_text("")
    path = tmp_path / "teardown.sh"
    path.write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "KC_FAKE_KUBECTL_LOG": str(log)}
    result = subprocess.run(["bash", str(path), *args], env=env, capture_output=True, text=True, timeout=60)
    calls = [tuple(line.split("\x1f")[:-1]) for line in log.read_text().splitlines()]
    return result, calls


@pytest.mark.parametrize("case", sorted(CASES))
def test_script_issues_the_plan(case: str, tmp_path: Path) -> None:
    plan = teardown.plan(test_teardown_properties.program_of(case))
    script = teardown_text.script(plan)

    result, calls = run_script(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == list(plan.commands())

    result, with_data = run_script(script, tmp_path, "--delete-data")
    assert result.returncode == 0, result.stderr
    assert with_data == list(teardown.deleting_data(plan).commands())
    # The additions are the data steps (claims, generated Secrets, and the namespace that holds
    # them), in place.
    extra = [s for s in plan.steps if s.data]
    assert all(s.kind in ("PersistentVolumeClaim", "Secret", "Namespace") for s in extra)
    added = list(with_data)
    for call in calls:
        added.remove(call)
    assert added == [cmd for s in extra for cmd in ((s.guard, s.argv) if s.guard else (s.argv,))]
    assert [c for c in with_data if c not in added] == calls


def test_policy_delete_runs_the_data_steps_by_default(tmp_path: Path) -> None:
    program = compile_text(
        """\
        kc: 1
        pipeline: scratch
        policy: {data: delete}
        stages:
          db: {pattern: stateful, image: postgres:16.4, port: 5432, storage: 1Gi, replicas: 2}
        """,
        tmp_path,
    )
    plan = teardown.plan(program)
    assert plan.delete_data
    result, calls = run_script(teardown_text.script(plan), tmp_path)
    assert result.returncode == 0, result.stderr
    assert calls == list(plan.commands())
    assert any(c[:3] == ("kubectl", "delete", "persistentvolumeclaims") for c in calls)


def test_script_arguments(tmp_path: Path) -> None:
    script = teardown_text.script(teardown.plan(test_teardown_properties.program_of("shop")))
    result, calls = run_script(script, tmp_path, "--help")
    assert result.returncode == 0 and "--delete-data" in result.stdout and calls == []
    result, calls = run_script(script, tmp_path, "--delete-everything")
    assert result.returncode == 2 and "usage" in result.stderr and calls == []


def test_a_guard_that_lists_something_keeps_the_object(tmp_path: Path) -> None:
    plan = teardown.plan(test_teardown_properties.program_of("cockroach"))
    # A kubectl whose "get" lists an object that kc did not create, in the namespace.
    lister = FAKE_KUBECTL + 'if [[ "$1" == get ]]; then echo secret/theirs; fi\n'
    result, calls = run_script(teardown_text.script(plan), tmp_path, "--delete-data", kubectl=lister)
    assert result.returncode == 0, result.stderr
    namespace = plan.steps[-1]
    assert namespace.kind == "Namespace"
    assert calls[-1] == namespace.guard and namespace.argv not in calls
    assert "kept Namespace crdb" in result.stderr and "secret/theirs" in result.stderr


def test_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        if os.environ.get("CI"):
            pytest.fail("shellcheck is not installed (Debian: apt-get install shellcheck); CI needs it")
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
    for case in sorted(CASES):
        path = tmp_path / f"{case}.sh"
        path.write_text(teardown_text.script(teardown.plan(test_teardown_properties.program_of(case))))
        result = subprocess.run([shellcheck, "--shell=bash", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, f"{case}:\n{result.stdout}{result.stderr}"
