"""Embedded ``tojson`` values (compiler/patterns/embed.py) give exactly the data that plain JSON
text would: as whole values, inside other text, and under YAML merge keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import compile_text
from kc.compiler import ir
from kc.compiler.patterns import embed

PATTERN = """\
summary: A ConfigMap that shows off every way a template can write a value.
parameters:
  settings: {type: map, values: {type: string}, required: true}
steps:
  - gate: none
    templates: [configmap.yaml, merged.yaml]
"""
MERGED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ child("merged") }}
  namespace: {{ namespace }}
  annotations:
    <<: {{ {"kc.dev/via": "merge"} | tojson }}
data: {{ p.settings | tojson }}
"""
TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name }}
  namespace: {{ namespace }}
data:
  whole: {{ (p.settings | tojson) | tojson }}
  block: |
    {{ p.settings | tojson }}
  quoted: 'settings={{ p.settings | tojson }}'
  digest: {{ p.settings | tojson | digest }}
"""
SPEC = """\
kc: 1
pipeline: demo
imports: [patterns]
stages:
  cfg:
    pattern: showcase
    settings: {b: "2", a: "1"}
"""


def compiled(tmp_path: Path) -> ir.Program:
    folder = tmp_path / "patterns" / "showcase"
    folder.mkdir(parents=True)
    (folder / "pattern.yaml").write_text(PATTERN)
    (folder / "configmap.yaml").write_text(TEMPLATE)
    (folder / "merged.yaml").write_text(MERGED)
    return compile_text(SPEC, tmp_path)


def configmap(program: ir.Program, name: str = "demo-cfg") -> dict[str, Any]:
    return next(o.manifest for o in program.objects if o.name == name)


def test_values_read_back_as_plain_json_would(tmp_path: Path) -> None:
    data = configmap(compiled(tmp_path))["data"]
    assert data["whole"] == '{"b": "2", "a": "1"}'
    assert data["block"] == '{"b": "2", "a": "1"}\n'
    assert data["quoted"] == 'settings={"b": "2", "a": "1"}'
    assert len(data["digest"]) == 8


def test_merge_keys_fall_back_to_plain_text(tmp_path: Path) -> None:
    merged = configmap(compiled(tmp_path), "demo-cfg-merged")
    assert merged["metadata"]["annotations"]["kc.dev/via"] == "merge"
    assert merged["data"] == {"b": "2", "a": "1"}


def test_restore_replaces_whole_and_inline_placeholders() -> None:
    table = [embed.JSON('{"a": [1]}', {"a": [1]})]
    whole = f"{embed.MARK}0"
    assert embed.restore({"x": whole, "y": [f'pre "{whole}" post']}, table) == {
        "x": {"a": [1]},
        "y": ['pre {"a": [1]} post'],
    }
    assert embed.restore({"plain": "text"}, table) == {"plain": "text"}
