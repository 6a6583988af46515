"""Users' own patterns: a folder named in ``imports``, in the same format as the built-ins.
Templates render in a sandbox that cannot reach Python's internals, the filesystem or the
environment; every mistake in a pattern is an error at the pattern file's line."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, codes, compile_text, errors_of
from kc.compiler import cli

SPEC = """\
kc: 1
pipeline: site
imports: [patterns]
stages:
  web:
    pattern: static-site
    image: docker.io/library/nginx:1.27.3
    title: Hello
"""
MANIFEST = """\
summary: A static site behind a Service.
container: true
main: Deployment
service: Service
parameters:
  title: {type: string, required: true, description: The page title.}
  replicas: {type: integer, default: 1, minimum: 1, maximum: 5}
steps:
  - gate: rollout
    templates: [site.yaml]
"""
TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ name }}
  namespace: {{ namespace }}
  annotations: {"site/title": {{ p.title | tojson }}}
spec:
  replicas: {{ p.replicas }}
  selector: {matchLabels: {{ selector | tojson }}}
  template:
    metadata: {labels: {{ selector | tojson }}}
    spec:
      containers: [{{ container | tojson }}]
---
apiVersion: v1
kind: Service
metadata:
  name: {{ name }}
  namespace: {{ namespace }}
spec:
  selector: {{ selector | tojson }}
  ports: [{name: http, port: 80, targetPort: 8080}]
"""


def pattern(tmp_path: Path, name: str = "static-site", manifest: str = MANIFEST, **templates: str) -> Path:
    folder = tmp_path / "patterns" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pattern.yaml").write_text(textwrap.dedent(manifest))
    for file, text in (templates or {"site.yaml": TEMPLATE}).items():
        (folder / file.replace("_", ".")).write_text(text)
    return folder


def test_user_pattern_compiles_like_a_builtin(tmp_path: Path) -> None:
    pattern(tmp_path)
    program = compile_text(SPEC, tmp_path)
    deployment = next(o for o in program.objects if o.kind == "Deployment").manifest
    assert deployment["metadata"]["annotations"]["site/title"] == "Hello"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "static-site"
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["runAsNonRoot"] is True  # the passes apply to it too
    assert next(s for s in program.stages if s.name == "web").facts["host"] == "site-web.site.svc"


def test_parameters_are_checked_at_the_spec_line(tmp_path: Path) -> None:
    pattern(tmp_path)
    found = errors_of(SPEC.replace("title: Hello", "title: Hello\n    replicas: 9\n    colour: red"), tmp_path)
    assert sorted((d.code, d.pos.file.endswith("pipeline.spec"), d.pos.line) for d in found) == [
        ("KC101", True, 10),
        ("KC103", True, 9),
    ]
    assert codes(errors_of(SPEC.replace("    title: Hello\n", ""), tmp_path)) == ["KC104"]


def test_shadowing_a_builtin_needs_override(tmp_path: Path) -> None:
    pattern(tmp_path, name="service")
    spec = SPEC.replace("static-site", "service")
    (found,) = errors_of(spec, tmp_path)
    assert (found.code, found.pos.line) == ("KC501", 3) and "override: true" in found.hint
    other = tmp_path / "other"  # patterns load once per folder and run, so a fresh folder
    pattern(other, name="service", manifest=MANIFEST + "override: true\n")
    program = compile_text(spec, other)
    deployment = next(o for o in program.objects if o.kind == "Deployment").manifest
    assert deployment["metadata"]["annotations"]["site/title"] == "Hello"


def test_cli_lists_and_explains_imported_patterns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pattern(tmp_path)
    spec = tmp_path / "pipeline.spec"
    spec.write_text(SPEC)
    assert cli.main(["patterns", "--spec", str(spec)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("static-site"))
    assert "A static site behind a Service." in line and "patterns/static-site" in line
    assert cli.main(["explain", "static-site", "--spec", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "title" in out and "required" in out and "Deployment, Service" in out
    assert cli.main(["explain", "static-site"]) == 2  # not a built-in
    assert "unknown pattern" in capsys.readouterr().err


def test_example_pattern_folder(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(ROOT / "examples" / "crontab" / "pipeline.spec")
    assert cli.main(["explain", "crontab", "--spec", spec]) == 0
    assert "schedule" in capsys.readouterr().out


# --- the sandbox -------------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ joiner.__init__.__globals__.__builtins__ }}",
    "{{ child.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ '{0.__class__}'.format('') }}",
    "{{ p | attr('__class__') }}",
    "{{ p.clear() }}",
    "{{ range(10 ** 9) | list | length }}",
    "{{ 1 / 0 }}",
    "{{ undefined_name }}",
    "{{ config }}",
    "{{ environ }}",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_sandbox_refuses(tmp_path: Path, escape: str) -> None:
    pattern(
        tmp_path, site_yaml=TEMPLATE.replace("{{ p.title | tojson }}", "{{ p.title | tojson }}}\n# " + escape + "\n#")
    )
    (found,) = errors_of(SPEC, tmp_path)
    assert found.code == "KC502"
    assert found.pos.file == str(tmp_path / "patterns" / "static-site" / "site.yaml")
    assert found.pos.line == 7, found


# Templates that would hang kc or exhaust its memory: each ends at its line with what it exceeded.
BUDGET = [
    ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "loops ran more than"),
    ("{{ 'x' * 99999 * 99999 }}", "builds a value of 9999800001 items"),
    ("{{ ['x'] * 10 ** 8 }}", "builds a value of 100000000 items"),
    ("{{ ('x' * 1000000) + ('y' * 1000000) }}", "builds a value of 2000000 items"),
    ("{{ 9 ** 999999 }}", "too large for a template"),
]


def _with_line_7(body: str) -> str:
    return TEMPLATE.replace("{{ p.title | tojson }}", "{{ p.title | tojson }}}\n# " + body + "\n#")


@pytest.mark.parametrize("body,why", BUDGET)
def test_rendering_has_a_budget(tmp_path: Path, body: str, why: str) -> None:
    pattern(tmp_path, site_yaml=_with_line_7(body))
    (found,) = errors_of(SPEC, tmp_path)
    assert (found.code, found.pos.line) == ("KC502", 7) and why in found.message, found


def test_rendered_output_has_a_budget(tmp_path: Path) -> None:
    many = "{% for i in range(20000) %}{{ 'y' * 99 }}{% endfor %}"  # each step small, the whole too big
    pattern(tmp_path, site_yaml=_with_line_7(many))
    (found,) = errors_of(SPEC, tmp_path)
    assert found.code == "KC502" and "wrote more than 1048576 characters" in found.message
    assert found.pos.file == str(tmp_path / "patterns" / "static-site" / "site.yaml")


@pytest.mark.parametrize("include", ["/etc/passwd", "../../pipeline.spec", "../static-site/../../secret.txt"])
def test_templates_cannot_read_outside_their_folder(tmp_path: Path, include: str) -> None:
    (tmp_path / "secret.txt").write_text("token")
    pattern(tmp_path, site_yaml="{% include '" + include + "' %}\n" + TEMPLATE)
    found = errors_of(SPEC, tmp_path)
    assert codes(found) == ["KC502"] and found[0].pos.line == 1


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("kind: Secret\n")
    folder = pattern(tmp_path, site_yaml="{% include 'leak.yaml' %}\n" + TEMPLATE)
    os.symlink(tmp_path / "secret.txt", folder / "leak.yaml")
    (found,) = errors_of(SPEC, tmp_path)
    assert found.code == "KC502" and "outside the pattern's folder" in found.message


def test_template_errors_point_at_the_template(tmp_path: Path) -> None:
    pattern(tmp_path, site_yaml="kind: x\n{% if %}\n")
    (found,) = errors_of(SPEC, tmp_path)
    assert (found.code, Path(found.pos.file).name, found.pos.line) == ("KC502", "site.yaml", 2)
    pattern(tmp_path, site_yaml=TEMPLATE.replace("p.replicas", "p.replica"))
    (found,) = errors_of(SPEC, tmp_path)
    assert (found.code, found.pos.line) == ("KC502", 8) and "replica" in found.message


@pytest.mark.parametrize(
    "manifest,line",
    [
        (MANIFEST.replace("steps:", "stepz:"), 9),
        (MANIFEST.replace("{type: string,", "{type: text,"), 6),
        (MANIFEST.replace("minimum: 1, maximum: 5", "minimum: 1, maxmum: 5"), 7),
        (MANIFEST.replace("container: true", "container: true\nomit: [image]"), 3),
        (MANIFEST + "warnings:\n  - {when: 'p.title ==', message: x}\n", 12),
    ],
)
def test_manifest_errors_point_at_pattern_yaml(tmp_path: Path, manifest: str, line: int) -> None:
    pattern(tmp_path, manifest=manifest)
    found = errors_of(SPEC, tmp_path)
    assert ("KC501", "pattern.yaml", line) in [(d.code, Path(d.pos.file).name, d.pos.line) for d in found]


def test_pattern_warnings(tmp_path: Path) -> None:
    pattern(
        tmp_path, manifest=MANIFEST + "warnings:\n  - {when: p.replicas < 2, message: One replica., hint: Add one.}\n"
    )
    program = compile_text(SPEC, tmp_path)
    assert [(w.code, w.severity, w.pos.line, w.hint) for w in program.warnings] == [("KC503", "warning", 5, "Add one.")]
    assert compile_text(SPEC + "    replicas: 2\n", tmp_path).warnings == ()


def test_output_refs_in_a_users_pattern(tmp_path: Path) -> None:
    """Wiring is by parameter type, so a user's pattern can produce and consume outputs too."""
    producer = """\
        summary: Writes an export.
        main: ConfigMap
        parameters:
          produces: {type: outputs, default: [export]}
        steps: [{gate: none, templates: [cm.yaml]}]
        """
    configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ name }}', namespace: '{{ namespace }}'}\n"
    pattern(tmp_path, name="exporter", manifest=producer, cm_yaml=configmap)
    spec = SPEC.replace(
        "stages:\n",
        "workspace: {data: {}}\nstages:\n  dump: {pattern: exporter}\n  read:\n    pattern: task\n"
        "    image: a/b:1.0.0\n    inputs: {src: dump.export}\n",
    )
    pattern(tmp_path)
    program = compile_text(spec, tmp_path)
    read = next(s for s in program.stages if s.name == "read")
    assert [d.target for d in read.deps] == ["dump"]
