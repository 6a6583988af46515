"""The kubernetes target: one YAML file per bundle, named to sort in apply order, and the plan
and its teardown in ``kc/``, which ``kubectl apply -f out/`` does not read."""

from __future__ import annotations

from collections.abc import Iterator

from kc.compiler import contract, ir, teardown
from kc.targets import emit, plan, teardown_text


def _header(bundle: ir.Bundle) -> str:
    gates = ", ".join(f"{s.id}: {s.gate.text}" for s in bundle.steps if s.gate.kind != "none")
    return f"# bundle {bundle.index:02d}: {bundle.name} (gate: {gates or 'none'})\n"


def _bundle(bundle: ir.Bundle) -> str:
    return _header(bundle) + emit.dump([o.manifest for o in bundle.objects])


def files(program: ir.Program) -> Iterator[tuple[str, str]]:
    """(relative path, content) of everything ``kc compile -o DIR`` writes, made one at a time as
    they are taken, so that a large plan's files are never all in memory together."""
    for bundle in program.bundles:
        yield bundle.filename, _bundle(bundle)
    yield contract.PLAN, plan.render(program)
    yield from teardown_text.files(teardown.plan(program)).items()


def stream(program: ir.Program) -> Iterator[str]:
    """Every bundle as one multi-document stream, each headed by its comment, bundle by bundle."""
    return (_bundle(b) for b in program.bundles)
