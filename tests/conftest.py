"""Shared test setup: the ``--update-goldens`` switch and helpers to compile specs in-process."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from kc.compiler import diagnostics as diag
from kc.compiler import ir, passes, source

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite golden/ from the current compiler output")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


def compile_text(text: str, tmp_path: Path, name: str = "pipeline.spec", **options: object) -> ir.Program:
    """Compile spec text written to ``tmp_path``; raises CompileError like the CLI would report."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return passes.run(source.load_file(str(path)), ir.Options(**options))  # type: ignore[arg-type]


def errors_of(text: str, tmp_path: Path, **options: object) -> list[diag.Diagnostic]:
    with pytest.raises(diag.CompileError) as caught:
        compile_text(text, tmp_path, **options)
    return list(caught.value.diagnostics)


def codes(diagnostics: list[diag.Diagnostic]) -> list[str]:
    return sorted(d.code for d in diagnostics)


@pytest.fixture(autouse=True)
def _no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    os.environ.pop("KC_TRACEBACK", None)
