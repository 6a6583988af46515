"""Work done in a forked child (compiler/aside.py) gives what the same work gives here: the
compiled files are the same either way, a failing child is made up for, and a child whose result
is not taken is ended."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import ROOT
from kc.compiler import aside, passes, source
from kc.targets import kubernetes

pytestmark = pytest.mark.skipif(not aside._can_fork(), reason="forking is not possible or not safe here")


def _child_pids() -> list[int]:
    try:
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
    except OSError:
        pytest.skip("no /proc to list children in")
    return [int(pid) for pid in children]


def test_the_result_comes_from_the_child() -> None:
    parent = os.getpid()
    with aside.forked(lambda: {"pid": str(os.getpid())}, worth_it=True) as result:
        assert _child_pids()
        found = result()
    assert found["pid"] != str(parent)
    assert not _child_pids()


def test_a_failing_child_is_made_up_for_here() -> None:
    parent = os.getpid()

    def work() -> dict[str, str]:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return {"where": "parent"}

    with aside.forked(work, worth_it=True) as result:
        assert result() == {"where": "parent"}


def test_not_worth_it_runs_here() -> None:
    with aside.forked(lambda: {"pid": str(os.getpid())}, worth_it=False) as result:
        assert not _child_pids()
        assert result() == {"pid": str(os.getpid())}


def test_a_result_not_taken_ends_the_child() -> None:
    with pytest.raises(KeyError), aside.forked(lambda: {"never": "read"}, worth_it=True):
        assert _child_pids()
        raise KeyError("the parent fails first")
    assert not _child_pids()


def test_the_files_are_the_same_either_way(monkeypatch: pytest.MonkeyPatch) -> None:
    program = passes.run(source.load_file(str(ROOT / "examples" / "shop" / "pipeline.spec")))
    monkeypatch.setattr(kubernetes, "_TEARDOWN_ASIDE", 0)
    forked = kubernetes.files(program)
    monkeypatch.setattr(aside, "_can_fork", lambda: False)
    assert forked == kubernetes.files(program)
