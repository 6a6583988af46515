"""Compiled templates through whole compiles: a render the generated code gives up on, and one that
fails, gives Jinja2's text and errors; the cache (compiler/patterns/cache.py) is only a miss when
damaged or unwritable, and never an error; a compile on a warm cache does not import Jinja2."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, compile_text, errors_of
from kc.compiler.patterns import cache, embed, registry, render, templates

SPEC = """\
kc: 1
pipeline: site
imports: [patterns]
stages:
  web:
    pattern: page
    title: Hello
"""
MANIFEST = """\
summary: A ConfigMap.
parameters:
  title: {type: string, required: true}
steps:
  - gate: none
    templates: [page.yaml]
"""
PAGE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ name }}
  namespace: {{ namespace }}
data:
  title: BODY
"""


def page(tmp_path: Path, body: str, manifest: str = MANIFEST) -> Path:
    folder = tmp_path / "patterns" / "page"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pattern.yaml").write_text(manifest)
    (folder / "page.yaml").write_text(PAGE.replace("BODY", body))
    return folder


def _jinja_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        render,
        "_text",
        lambda template, path, context, table: render._jinja_text(template, path, {**context, embed.TABLE: table}),
    )

    def evaluate(self: templates.Condition, context: dict[str, Any]) -> Any:
        return templates._jinja_expression(self.folder, self.source)(**context)

    monkeypatch.setattr(templates.Condition, "evaluate", evaluate)


def _diagnostics(text: str, tmp_path: Path) -> list[tuple[str, str, int, str]]:
    return [(d.code, d.pos.file, d.pos.line, d.message) for d in errors_of(text, tmp_path)]


@pytest.mark.parametrize(
    "body",
    [
        "{{ p.missing }}",
        "{{ undefined_name | tojson }}",
        "{{ p.title ~ (1 / 0) }}",
        "{{ p.title.__class__ }}",
        "{{ p.update }}",
        "{{ p.clear() }}",
        "{{ 'x' * 99999 * 99999 }}",
        "{{ 9 ** 999999 }}",
        "{% for i in range(200000) %}{% endfor %}",
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
        "{% for i in range(20000) %}{{ 'y' * 99 }}{% endfor %}",
        "{{ p.title | bytes }}",
        "{{ child(p) | tojson }}\n{{ p.title | seconds }}",
    ],
)
def test_failing_renders_give_jinja2s_errors(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    page(tmp_path, body)
    fast = _diagnostics(SPEC, tmp_path)
    assert registry.load(str(tmp_path / "patterns" / "page")).steps[0].templates[0][1].fast is not None
    _jinja_only(monkeypatch)
    registry.load.cache_clear()
    assert fast == _diagnostics(SPEC, tmp_path) and fast[0][0] == "KC502", fast


def test_warnings_fall_back_to_jinja2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = (
        MANIFEST + "warnings:\n  - {when: p.nothing, message: never}\n  - {when: \"p.title == 'Hello'\", message: hi}\n"
    )
    page(tmp_path, "{{ p.title }}", manifest)
    program = compile_text(SPEC, tmp_path)
    assert [w.message for w in program.warnings] == ["hi"]  # p.nothing: Jinja2's undefined is None
    manifest = MANIFEST + "warnings:\n  - {when: p.title + 1, message: never}\n"
    registry.load.cache_clear()
    page(tmp_path, "{{ p.title }}", manifest)
    fast = _diagnostics(SPEC, tmp_path)
    _jinja_only(monkeypatch)
    registry.load.cache_clear()
    assert fast == _diagnostics(SPEC, tmp_path) and fast[0][0] == "KC502"


def test_unsupported_templates_render_through_jinja2(tmp_path: Path) -> None:
    folder = page(tmp_path, "{{ p.title | upper }}")
    program = compile_text(SPEC, tmp_path)
    assert next(o for o in program.objects if o.kind == "ConfigMap").manifest["data"] == {"title": "HELLO"}
    assert registry.load(str(folder)).steps[0].templates[0][1].fast is None
    registry.load.cache_clear()  # the cache remembers that the generator does not cover it
    assert registry.load(str(folder)).steps[0].templates[0][1].fast is None


def test_a_damaged_cache_is_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KC_CACHE_DIR", str(tmp_path / "cache"))
    folder = page(tmp_path, "{{ p.title | tojson }}")
    before = compile_text(SPEC, tmp_path)
    key = templates._key("template", (folder / "page.yaml").read_text())
    assert key is not None
    entry = Path(cache.directory(), "templates", key)
    good = entry.read_bytes()
    for damage in (b"", b"garbage", good[:-3], good[:40] + b"\x00" * (len(good) - 40), good[:4] + good[5:]):
        entry.write_bytes(damage)
        registry.load.cache_clear()
        assert registry.load(str(folder)).steps[0].templates[0][1].fast is not None
        assert compile_text(SPEC, tmp_path).objects == before.objects
        assert entry.read_bytes() == good  # written again, whole


def test_an_unwritable_cache_is_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("not a directory")
    monkeypatch.setenv("KC_CACHE_DIR", str(tmp_path / "file"))
    folder = page(tmp_path, "{{ p.title | tojson }}")
    program = compile_text(SPEC, tmp_path)
    assert next(o for o in program.objects if o.kind == "ConfigMap").manifest["data"] == {"title": "Hello"}
    assert registry.load(str(folder)).steps[0].templates[0][1].fast is not None


def test_a_template_linked_from_outside_is_refused_even_when_cached(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(PAGE.replace("BODY", "{{ p.title }}"))
    page(tmp_path, "{{ p.title }}")  # the same text, compiled and cached from inside the folder
    compile_text(SPEC, tmp_path)
    linked = tmp_path / "other"
    folder = page(linked, "x")
    (folder / "page.yaml").unlink()
    os.symlink(outside, folder / "page.yaml")
    (found,) = errors_of(SPEC, linked)
    assert found.code == "KC501" and "no template 'page.yaml'" in found.message


def test_cache_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KC_CACHE_DIR", "/somewhere/kc")
    assert cache.directory() == "/somewhere/kc"
    monkeypatch.delenv("KC_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/xdg")
    assert cache.directory() == "/xdg/kc"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # the XDG rule: a relative path is ignored
    monkeypatch.setenv("HOME", "/home/someone")
    assert cache.directory() == "/home/someone/.cache/kc"


_PROBE = textwrap.dedent(
    """\
    import sys
    from kc.compiler import cli
    code = cli.main(["compile", sys.argv[1], "-o", sys.argv[2]])
    print(code, "jinja2" in sys.modules)
    """
)


def test_a_compile_on_a_warm_cache_does_not_import_jinja2(tmp_path: Path) -> None:
    env = {**os.environ, "KC_CACHE_DIR": str(tmp_path / "cache")}
    spec = str(ROOT / "examples" / "shop" / "pipeline.spec")
    runs = [
        subprocess.run(
            [sys.executable, "-c", _PROBE, spec, str(tmp_path / f"out{i}")], env=env, capture_output=True, text=True
        )
        for i in range(2)
    ]
    assert [r.stdout.split() for r in runs] == [["0", "True"], ["0", "False"]], [r.stderr for r in runs]
    first, second = (sorted((tmp_path / f"out{i}").rglob("*")) for i in range(2))
    assert [p.read_bytes() for p in first if p.is_file()] == [p.read_bytes() for p in second if p.is_file()]
