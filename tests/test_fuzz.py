"""Fuzzing the front end, the passes and the teardown builder: the examples, mutated at random,
and bytes that are barely YAML. Whatever goes in, kc either compiles it (and then builds a sound
teardown plan) or reports positioned diagnostics — never a traceback, never a hang.

CI runs a short budget; KC_FUZZ_EXAMPLES=N runs N examples per test (docs/testing.md has the
figures of the last long run).
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cases import CASES
from conftest import ROOT
from hypothesis import event, given, settings
from hypothesis import strategies as st
from kc.compiler import diagnostics as diag
from kc.compiler import ir, passes, source, teardown
from kc.compiler.teardown import model

EXAMPLES = int(os.environ.get("KC_FUZZ_EXAMPLES", "40"))
SECONDS = 20  # far more than any compile takes: past it, kc hangs
SPECS = sorted({spec for spec, _ in CASES.values()})
# What a mutation puts in: YAML's structure, kc's words, references, hostile scalars.
PIECES = [
    ":", "- ", "{", "}", "[", "]", "\n", "  ", "&a ", "*a", "<<: *a", "!!str ", "---", "#", "'", '"', "${",
    "${db.host}", "$${", "pattern: ", "service", "job", "cron", "stateful", "manifests", "task", "config",
    "image: ", "nginx:1.27.3", "replicas: ", "-1", "0", "99999999999999999999", "1e309", ".nan", "~", "true",
    "after: ", "[db, db]", "env: ", "{secret: a/b}", "port: ", "65536", "health: ", "/x", "storage: ", "10Gi",
    "schedule: ", "@daily", "* * * * * *", "timezone: ", "Mars/Base", "patch: ", "enabled: ", "\t", "\x00",
    "\u2028", "é", "x" * 300,
]  # fmt: skip


@contextmanager
def time_limit() -> Iterator[None]:
    def hang(*_: object) -> None:
        raise AssertionError(f"kc took more than {SECONDS}s: a hang")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def compile_bytes(path: Path, raw: bytes) -> None:
    """Compile ``raw`` as ``path``; fail on anything but success or positioned diagnostics."""
    path.write_bytes(raw)
    with time_limit():
        try:
            program = passes.run(source.load_file(str(path)), ir.Options())
        except diag.CompileError as exc:
            assert exc.diagnostics, "an error without diagnostics"
            event(f"refused: {min(d.code for d in exc.diagnostics)}")
            for d in exc.diagnostics:
                assert d.code.startswith("KC") and d.message, d
                assert d.pos.file, f"unpositioned: {d}"
            return
        event("compiled")
        for delete_data in (False, True):
            assert model.problems(teardown.plan(program, delete_data)) == []


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the examples (and of the tests' own golden specs), so a mutated spec still finds
    the files its example imports."""
    root = tmp_path_factory.mktemp("fuzz")
    for spec in SPECS:
        folder = Path(spec).parent
        shutil.copytree(ROOT / folder, root / folder, dirs_exist_ok=True)
    return root


def mutate(draw: st.DrawFn, text: str) -> bytes:
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 40))
        text = text[:at] + draw(st.sampled_from(PIECES)) + text[at + cut :]
    return text.encode("utf-8", "surrogatepass")


FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None)


@FUZZ
@given(data=st.data())
def test_mutated_examples(examples: Path, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(SPECS), label="example")
    raw = mutate(data.draw, (ROOT / spec).read_text())
    compile_bytes((examples / spec).with_name("fuzz.spec"), raw)


@FUZZ
@given(raw=st.binary(max_size=400) | st.lists(st.sampled_from(PIECES), max_size=40).map(lambda p: "".join(p).encode()))
def test_arbitrary_input(examples: Path, raw: bytes) -> None:
    compile_bytes(examples / "fuzz.spec", raw)
