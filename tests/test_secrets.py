"""A Secret's values never leave kc except in the manifests that carry the Secret itself (the
bundle files, or the stream `kc compile` prints): not in diagnostics, logs, JSON, graphs,
plan.json or the teardown files of any command. One marker value, every command."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from kc.compiler import cli

MARKER = "hunter2-marker"
ENCODED = base64.b64encode(f"{MARKER}-data".encode()).decode()
SECRET = f"""\
apiVersion: v1
kind: Secret
metadata: {{name: creds}}
stringData: {{password: {MARKER}-string}}
data: {{token: {ENCODED}}}
"""
SPEC = """\
kc: 1
pipeline: sec
stages:
  raw: {pattern: manifests, files: [secret.yaml]}
  app:
    pattern: job
    image: busybox:1.36.1
    env: {PASSWORD: {secret: creds/password}}
"""


def leaks(text: str) -> bool:
    return MARKER in text or ENCODED in text or base64.b64encode(MARKER.encode()).decode()[:12] in text


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "secret.yaml").write_text(SECRET)
    path = tmp_path / "pipeline.spec"
    path.write_text(SPEC)
    return path


def test_no_command_shows_a_secret(spec: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli.main(["compile", str(spec), "-o", str(out)]) == 0
    bundles = [p for p in out.glob("*.yaml")]
    assert any(MARKER in p.read_text() for p in bundles), "the Secret itself is applied from its bundle"
    for path in (out / "kc").iterdir():
        assert not leaks(path.read_text()), path
    runs = [
        ["validate", str(spec)],
        ["validate", str(spec), "--format", "json"],
        ["graph", str(spec)],
        ["graph", str(spec), "--format", "dot"],
        ["compile", str(spec), "-o", str(out), "--check"],
        ["compile", str(spec), "--teardown"],
        ["diff", str(spec), "--against", str(out)],
        ["diff", str(spec), "--against", str(out), "-o", "json"],
        ["teardown", str(spec), "--dry-run"],
        ["teardown", str(out), "--dry-run", "-o", "json"],
        ["explain", "manifests", "--spec", str(spec)],
        ["patterns", "--spec", str(spec)],
    ]
    capsys.readouterr()
    for argv in runs:
        code = cli.main(argv)
        printed = capsys.readouterr()
        assert code == 0, (argv, printed.err)
        assert not leaks(printed.out + printed.err), argv
    # A stale output directory is named, never shown.
    (tmp_path / "secret.yaml").write_text(SECRET.replace(MARKER, MARKER + "-new"))
    assert cli.main(["compile", str(spec), "-o", str(out), "--check"]) == 1
    printed = capsys.readouterr()
    assert not leaks(printed.out + printed.err)
    changed = cli.main(["diff", str(spec), "--against", str(out), "-o", "json"])
    printed = capsys.readouterr()
    assert changed == 1 and not leaks(printed.out + printed.err)
    assert any(f.get("redacted") for c in json.loads(printed.out)["change"] for f in c["fields"])


def test_errors_about_a_secret_do_not_show_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = SECRET.replace(f"{MARKER}-string", MARKER * 80000)  # over 1 MiB: KC410
    for text in (big, SECRET.replace(f"stringData: {{password: {MARKER}-string}}", f"stringData: [{MARKER}]")):
        (tmp_path / "secret.yaml").write_text(text)
        (tmp_path / "pipeline.spec").write_text(SPEC)
        code = cli.main(["validate", str(tmp_path / "pipeline.spec"), "--format", "json"])
        printed = capsys.readouterr()
        assert code in (0, 2) and not leaks(printed.out + printed.err), printed.out[:300]
