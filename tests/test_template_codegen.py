"""Templates compiled to Python (compiler/patterns/codegen.py) write exactly what Jinja2 writes.

Every render of every built-in template that the examples, the error corpus and a spec of
parameter variants reach is done both ways and compared; random contexts and random templates
check that the generated code either writes Jinja2's text or gives up, and gives up whenever
Jinja2 raises. tests/test_template_cache.py checks the same through whole compiles."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cases import CASES
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kc.compiler import arguments, commands, diagnostics, ir, passes, source
from kc.compiler.patterns import budget, codegen, embed, registry, render, runtime, sandbox, skeleton, templates

Outcome = tuple[str, Any, Any]  # ("text", text, embedded values) or ("error", message, None)


def _embedded(table: list[embed.JSON] | None) -> Any:
    return None if table is None else [(str(v), v.value) for v in table]


def fast_outcome(fast: Callable[..., str], context: dict[str, Any], plain: bool) -> Outcome:
    table: list[embed.JSON] | None = None if plain else []
    try:
        return ("text", fast(context, table), _embedded(table))
    except Exception as exc:
        return ("error", f"{type(exc).__name__}: {exc}", None)


def jinja_outcome(template: templates.Template, path: str, context: dict[str, Any], plain: bool) -> Outcome:
    table: list[embed.JSON] | None = None if plain else []
    try:
        text = render._jinja_text(template, path, {**context, embed.TABLE: table})
    except diagnostics.CompileError as exc:
        return ("error", [str(d.message) for d in exc.diagnostics], None)
    return ("text", text, _embedded(table))


def agrees(fast: Outcome, jinja: Outcome) -> bool:
    """The generated code wrote Jinja2's text and embedded the same values, or it gave up; it
    gives up whenever Jinja2 raises."""
    if jinja[0] == "error":
        return fast[0] == "error"
    return fast[0] == "error" or fast == jinja


# --- every render the examples and the test specs make, both ways -----------------------------

Render = tuple[templates.Template, str, dict[str, Any], bool]


# Parameter variants of the built-in patterns beyond what the examples use.
VARIANTS = """\
kc: 1
pipeline: variants
workspace: {data: {size: 5Gi, storage-class: fast, access: ReadWriteMany}, network: isolated, limits: small}
stages:
  cache: {pattern: redis}
  store: {pattern: redis, mode: persistent, storage: 2Gi, storage-class: ssd, password-secret: r, port: 6380,
          args: [--loglevel, warning]}
  pg: {pattern: postgres, password-secret: pw, user: app, database: appdb, port: 5433, storage-class: ssd}
  pg2: {pattern: postgres, args: [-c, max_connections=200]}
  web: {pattern: service, image: "a/w:1.0.0", autoscale: {min: 2, max: 5}, expose: {host: w.example.com, class: nginx},
        ports: {http: 8080, admin: 9090}, mounts: {vol: /srv}}
  one: {pattern: service, image: "a/o:1.0.0", replicas: 1}
  sts: {pattern: stateful, image: "a/s:1.0.0", replicas: 3, storage: 1Gi, storage-class: ssd, parallel: true}
  bare: {pattern: stateful, image: "a/b:1.0.0"}
  vol: {pattern: volume, size: 2Gi, storage-class: ssd, access: ReadWriteMany}
  work: {pattern: worker, image: "a/k:1.0.0", replicas: 3, mounts: {vol: /data}}
  nightly: {pattern: cron, image: "a/n:1.0.0", schedule: "0 3 * * *", timeout: 1h, suspend: true,
            retries: {count: 1, on-exit-codes: [2]}}
  once: {pattern: job, image: "a/j:1.0.0", timeout: 2h, parallelism: 2, completions: 4, mounts: {vol: /v},
         retries: {count: 4, on-exit-codes: [3, 1]}, pending-timeout: 90s}
  ingest: {pattern: task, image: "a/i:1.0.0", outputs: [records, lines], timeout: 30m, mounts: {vol: /v},
           retries: {count: 0, on-exit-codes: [75]}}
  dedupe: {pattern: task, image: "a/d:1.0.0", inputs: {raw: ingest.records, also: ingest.lines}, outputs: [out]}
  cfg: {pattern: config, data: {b: "2", a: "1"}}
  keys: {pattern: secret, keys: [token, api-key], length: 40, alphabet: hex}
  crdb: {pattern: cockroachdb, replicas: 1, certs: crdb-certs, flags: [--locality=region=eu], storage-class: ssd}
"""


def _specs(variants: Path) -> Iterator[tuple[str, Callable[[], object]]]:
    variants.write_text(VARIANTS)
    yield "variants", lambda: passes.run(source.load_file(str(variants)), ir.Options())
    for case, (spec, flags) in sorted(CASES.items()):
        args = arguments.parser().parse_args(["compile", str(ROOT / spec), *flags])
        yield case, lambda args=args: commands.build(args)
    for path in sorted((ROOT / "tests" / "errors").glob("*.spec")):
        yield path.stem, lambda path=path: passes.run(source.load_file(str(path)), ir.Options())


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> list[Render]:
    """Every template render (template, path, context, plain?) of every case and test spec; each
    renders as text, not by way of a skeleton (tests/test_skeleton.py)."""
    seen: list[Render] = []
    original, by_skeleton = render._text, skeleton.objects

    def recording(template: templates.Template, path: str, context: dict[str, Any], table: Any) -> str:
        seen.append((template, path, context, table is None))
        return original(template, path, context, table)

    render._text = recording  # type: ignore[assignment]
    skeleton.objects = lambda template, context: None  # type: ignore[assignment]
    try:
        for _, build in _specs(tmp_path_factory.mktemp("variants") / "pipeline.spec"):
            with contextlib.suppress(diagnostics.CompileError):
                build()
    finally:
        render._text = original  # type: ignore[assignment]
        skeleton.objects = by_skeleton  # type: ignore[assignment]
    return seen


def test_every_render_of_the_examples_matches_jinja2(renders: list[Render]) -> None:
    assert len(renders) > 200
    used = set()
    assert any("variants" in str(c.get("pipeline")) for _, _, c, _ in renders), "the variants spec did not compile"
    for template, path, context, plain in renders:
        assert template.fast is not None, f"{path} is not compiled"
        fast, jinja = fast_outcome(template.fast, context, plain), jinja_outcome(template, path, context, plain)
        assert fast == jinja, path
        used.add(path)
    # Every built-in template is rendered by some case.
    library = {str(p) for p in Path(registry.LIBRARY).glob("*/*.yaml") if p.name != registry.MANIFEST}
    assert library <= used, sorted(library - used)


def test_every_render_of_the_examples_reads_the_same_by_its_skeleton(renders: list[Render]) -> None:
    """The documents built from a skeleton (skeleton.py) are the ones the text parses to."""
    built = 0
    for template, path, context, plain in renders:
        if plain:
            continue
        expected = render._parsed(template, path, context)
        # The first sighting of a skeleton is left to the parse; the second builds.
        docs = skeleton.objects(template, context) or skeleton.objects(template, context)
        if docs is not None:
            built += 1
            assert repr(docs) == repr(expected), path  # keys in order, 1 not True
    assert built > len(renders) // 2


def test_every_builtin_template_and_warning_is_compiled() -> None:
    for name, folder in registry.builtins().items():
        pattern = registry.load(folder)
        for step in pattern.steps:
            for path, template in step.templates:
                assert template.fast is not None, path
        for decl, condition, _ in pattern.warnings:
            assert condition.fast is not None, (name, decl.when)


def test_warning_conditions_match_jinja2(tmp_path: Path) -> None:
    pattern = registry.load(registry.builtins()["cockroachdb"])
    ((_, condition, _),) = pattern.warnings
    assert condition.fast is not None
    jinja = sandbox.environment(pattern.folder).compile_expression(condition.source)
    for certs in (None, "", "crdb-certs"):
        assert condition.fast({"p": {"certs": certs}}) == jinja(p={"certs": certs})
    with pytest.raises(Exception):  # noqa: B017 - any exception: the caller asks Jinja2
        condition.fast({"p": {}})
    with pytest.raises(Exception, match="has no attribute 'certs'"):
        condition.evaluate({"p": {}})  # Jinja2's own error


# --- random contexts for the built-in templates ------------------------------------------------

_KEYS = ["name", "kind", "scope", "data", "min", "max", "cpu", "host", "path", "class", "tls_secret", "k", "get"]
_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 70000)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["", "x", "Cluster", "pods", "storage", "1Gi", "500m", "30m", "a.b", "CustomResourceDefinition"])
    | st.text(max_size=4)
)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*at, key)
            yield from _paths(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*at, index)
            yield from _paths(inner, (*at, index))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_builtin_templates_on_random_contexts(renders: list[Render], data: st.DataObject) -> None:
    template, path, context, plain = data.draw(st.sampled_from(renders))
    assert template.fast is not None
    context = copy.deepcopy(context)
    paths = [p for p in _paths(context) if p[0] not in ("child",)]
    for at in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        parent: Any = context
        try:
            for step in at[:-1]:
                parent = parent[step]
            if isinstance(parent, dict) and data.draw(st.booleans()):
                parent.pop(at[-1], None)
            else:
                parent[at[-1]] = data.draw(_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    assert agrees(fast_outcome(template.fast, context, plain), jinja_outcome(template, path, context, plain)), path


# --- random templates ---------------------------------------------------------------------------

# Mostly names and values that render; a few that Jinja2 refuses or that the generated code
# leaves to Jinja2 (an undefined name, a method, an internal attribute, a bare range or loop).
_GOOD = ["a", "b", "n", "s", "d", "xs", "d.k", "d['k']", "d.get('k')", "d.get('z', 2)", "xs[0]", "xs | list", "1",
         "0", "-2", "2.5", "'t'", "'%s'", "none", "true", "[1, 'x']", "{'k': 1, 'j': [2]}", "child('c')"]  # fmt: skip
_BAD = ["missing", "xs[5]", "d.items", "s.upper", "dict", "range", "loop", "''.__class__", "d.clear()"]
_ATOMS = st.sampled_from(_GOOD * 3 + _BAD)
_OPS = [" + ", " * ", " - ", " / ", " // ", " % ", " ** ", " ~ ", " == ", " != ", " < ", " >= ", " in ", " not in ",
        " and ", " or "]  # fmt: skip
_FILTERS = ["tojson", "string", "dictsort", "list", "digest", "tojson | tojson", "replace('a', 'b')",
            "selectattr('k') | list", "selectattr('k', 'eq', 1) | map(attribute='k') | list"]  # fmt: skip
_TESTS = ["defined", "undefined", "none", "not none"]


@st.composite
def _expression(draw: st.DrawFn, depth: int = 2) -> str:
    """A random expression over the names of _CONTEXTS, in the generated code's subset and out."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(_ATOMS)
    one, two = draw(_expression(depth - 1)), draw(_expression(depth - 1))
    forms = [
        f"({one}{draw(st.sampled_from(_OPS))}{two})",
        f"({one} if {two} else {draw(_expression(depth - 1))})",
        f"({one} | {draw(st.sampled_from(_FILTERS))})",
        f"({one} is {draw(st.sampled_from(_TESTS))})",
        f"(not {one})",
        f"(-{one})",
        f"dict({one}, k={two})",
        f"[{one}, {two}]",
        f"{{'k': {one}, 'j': {two}}}",
        f"({one})[{two}]",
        f"({one}).k",
        f"({one}).get('k', [])",
    ]
    return draw(st.sampled_from(forms))


@st.composite
def _body(draw: st.DrawFn, depth: int = 2) -> str:
    """Random statements: output, if/elif/else, loops with and without a filter and loop.*."""
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return f"<{{{{ {draw(_expression())} }}}}>\n"
    test, inner, other = draw(_expression()), draw(_body(depth - 1)), draw(_body(depth - 1))
    forms = [
        f"{{% if {test} %}}\n{inner}{{% elif {test} is none %}}{{% else %}}\n{other}{{% endif %}}\n",
        f"{{% for v in {test} %}}{inner}{{{{ v }}}}{{% endfor %}}\n",
        f"{{% for v, w in {test} if v %}}{inner}{{{{ w }}}}{{% endfor %}}\n",
        f"{{% for v in range(n) %}}{inner}{{{{ loop.index }}}}/{{{{ loop.last }}}}{{% endfor %}}\n",
        inner + other,
    ]
    return draw(st.sampled_from(forms))


@st.composite
def _template(draw: st.DrawFn) -> str:
    sets = draw(st.lists(_expression(), max_size=2))
    head = "".join(f"{{% set z{i} = {e} %}}\n" for i, e in enumerate(sets))
    return head + draw(_body()) + "{{ z0 is defined }}"


_CONTEXTS = st.fixed_dictionaries(
    {
        "a": _VALUES,
        "b": _VALUES,
        "n": st.integers(-1, 4),
        "s": st.text(max_size=3),
        "d": st.fixed_dictionaries({"k": _VALUES}, optional={key: _VALUES for key in _KEYS if key != "k"}),
        "xs": st.lists(_VALUES, min_size=1, max_size=3),
        "child": st.just(lambda suffix: f"x-{suffix}"),
    }
)


def _both(text: str) -> tuple[Callable[..., str] | None, templates.Template | None]:
    """The generated function (None: not covered) and Jinja2's template (None: Jinja2 refuses to
    compile it, so kc would report it when loading the pattern, and generate nothing)."""
    env = sandbox.environment(str(ROOT / "tests"))
    try:
        jinja = templates.Template(str(ROOT / "tests"), "-", None, env.from_string(text))
    except Exception:
        return None, None
    try:
        python = codegen.template(env, text)
    except codegen.Unsupported:
        return None, jinja
    namespace: dict[str, Any] = {"rt": runtime}
    exec(codegen.code(python, "<test>"), namespace)
    return namespace["render"], jinja


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_template(), context=_CONTEXTS, plain=st.booleans())
def test_random_templates_match_jinja2_or_give_up(text: str, context: dict[str, Any], plain: bool) -> None:
    fast, template = _both(text)
    if fast is not None and template is not None:
        assert agrees(fast_outcome(fast, context, plain), jinja_outcome(template, "-", context, plain)), text


@pytest.mark.parametrize(
    "text",
    [
        "{% macro m() %}x{% endmacro %}{{ m() }}",
        "{{ 'a' | upper }}",
        "{% include 'other.yaml' %}",
        "{% if x %}{% set y = 1 %}{% endif %}",
        "{{ y }}{% set y = 1 %}",
        "{{ x[1:] }}",
        "{{ 1 if x }}",
        "{{ range(3) }}",
        "{% for i in x %}{{ loop.cycle('a', 'b') }}{% endfor %}",
        "{{ x | selectattr('k') }}",
    ],
)
def test_constructs_outside_the_subset_are_left_to_jinja2(text: str) -> None:
    with pytest.raises(codegen.Unsupported):
        codegen.template(sandbox.environment(str(ROOT / "tests")), text)


def test_budget_limits_are_kept_in_step(tmp_path: Path) -> None:
    # The generated code gives up before Jinja2's limits, never after.
    assert runtime.MAX_SECONDS < budget.MAX_SECONDS and runtime.MAX_OUTPUT == budget.MAX_OUTPUT
    fast, _ = _both("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}")
    assert fast is not None
    with pytest.raises(runtime.Abandon):
        fast({}, None)
