"""Kubernetes' own sizes and lengths, checked at compile time (the limits pass, KC410)."""

from __future__ import annotations

import base64
from pathlib import Path

from conftest import compile_text, errors_of

MIB = 1 << 20


def _messages(text: str, tmp_path: Path) -> list[str]:
    found = errors_of(text, tmp_path)
    assert {d.code for d in found} == {"KC410"}, found
    return [d.message for d in found]


def test_config_data_over_1_mib(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * (MIB + 100))
    [message] = _messages("kc: 1\npipeline: p\nstages:\n  settings: {pattern: config, files: [big.txt]}\n", tmp_path)
    assert message.endswith(f"its data is {MIB + 100 + len('big.txt')} bytes; Kubernetes allows 1048576 (1 MiB)")


def test_secret_data_counts_decoded_bytes(tmp_path: Path) -> None:
    big = base64.b64encode(b"y" * (MIB - 10)).decode()  # encoded over 1 MiB, decoded under: fine
    secret = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata: {{k: {big}}}\n"
    (tmp_path / "s.yaml").write_text(secret)
    spec = "kc: 1\npipeline: p\nstages:\n  raw: {pattern: manifests, files: [s.yaml]}\n"
    compile_text(spec, tmp_path)
    (tmp_path / "s.yaml").write_text(secret.replace(big, base64.b64encode(b"y" * (MIB + 1)).decode()))
    [message] = _messages(spec, tmp_path)
    assert "its data is 1048578 bytes" in message


def test_names_labels_and_annotations(tmp_path: Path) -> None:
    long = "a" * 70
    objects = f"""\
apiVersion: v1
kind: Service
metadata: {{name: {long}, labels: {{team: {long}}}}}
spec: {{ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: notes, annotations: {{note: {"n" * (256 * 1024)}}}}}
"""
    (tmp_path / "o.yaml").write_text(objects)
    messages = _messages("kc: 1\npipeline: p\nstages:\n  raw: {pattern: manifests, files: [o.yaml]}\n", tmp_path)
    assert any(f"its name has {len(long)} characters; a Service's may have 63" in m for m in messages)
    assert any("label 'team': its value has 70 characters" in m for m in messages)
    assert any("annotations are 262148 bytes; Kubernetes allows 262144 (256 KiB)" in m for m in messages)
