"""The kubernetes target: one YAML file per bundle, named to sort in apply order, and the plan
and its teardown in ``kc/``, which ``kubectl apply -f out/`` does not read."""

from __future__ import annotations

from kc.compiler import contract, ir, teardown
from kc.targets import emit, plan, teardown_text


def _header(bundle: ir.Bundle) -> str:
    gates = ", ".join(f"{s.id}: {s.gate.text}" for s in bundle.steps if s.gate.kind != "none")
    return f"# bundle {bundle.index:02d}: {bundle.name} (gate: {gates or 'none'})\n"


def files(program: ir.Program) -> dict[str, str]:
    """Relative path -> content, for everything ``kc compile -o DIR`` writes."""
    out = {b.filename: _header(b) + emit.dump([o.manifest for o in b.objects]) for b in program.bundles}
    out[contract.PLAN] = plan.render(program)
    out.update(teardown_text.files(teardown.plan(program)))
    return out


def stream(program: ir.Program) -> str:
    """Every bundle as one multi-document stream, each headed by its comment."""
    return "".join(_header(b) + emit.dump([o.manifest for o in b.objects]) for b in program.bundles)
