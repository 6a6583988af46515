"""Shared test setup: the ``--update-goldens`` switch and helpers to compile specs in-process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kc.compiler import diagnostics as diag
from kc.compiler import ir, passes, source

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    # Compiled templates are cached (compiler/patterns/cache.py): the tests' own cache, shared by
    # the whole run and the kc processes it starts, never the user's.
    config.kc_cache = tempfile.mkdtemp(prefix="kc-test-cache-")  # type: ignore[attr-defined]
    os.environ["KC_CACHE_DIR"] = config.kc_cache  # type: ignore[attr-defined]


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(getattr(config, "kc_cache", ""), ignore_errors=True)


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


# --- the cluster of the cluster tests ----------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """The cluster the cluster tests run against, and the kubectl that goes with it."""

    kubeconfig: Path
    kubectl: str | None


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """``KC_TEST_KUBECONFIG``'s cluster, or a local one that tests/cluster/up starts (building it
    the first time) and tests/cluster/down stops when the session ends."""
    given = os.environ.get("KC_TEST_KUBECONFIG")
    if given:
        found = Cluster(Path(given), shutil.which("kubectl"))
        _report(request, found, "KC_TEST_KUBECONFIG")
        yield found
        return
    root = tmp_path_factory.mktemp("cluster")
    scripts = ROOT / "tests" / "cluster"
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():  # the first build takes minutes: show its progress
        started = subprocess.run([sys.executable, str(scripts / "up"), str(root)], stdin=subprocess.DEVNULL)
    try:
        if started.returncode != 0:
            message = "tests/cluster/up could not start the local cluster (its output is above)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        found = Cluster(root / "kubeconfig", str(root / "bin" / "kubectl"))
        _report(request, found, "tests/cluster/up")
        yield found
    finally:
        subprocess.run([sys.executable, str(scripts / "down"), str(root)], capture_output=True)


def _report(request: pytest.FixtureRequest, found: Cluster, origin: str) -> None:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(found.kubeconfig))
    version = client.VersionApi(api).get_code().git_version
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"cluster: Kubernetes {version} at {api.configuration.host} ({origin})", file=sys.stderr)
