"""ordering: lay the steps out into bundles. Bundle 0 is the workspace; each later bundle holds
the steps whose dependencies all sit in earlier bundles, in declaration order; within a bundle,
objects follow a fixed kind order. A cycle is an error that shows every edge of it."""

from __future__ import annotations

from kc.compiler import diagnostics as diag
from kc.compiler import ir, kinds
from kc.schemas import record


def _step_deps(steps: tuple[ir.Step, ...]) -> dict[str, list[ir.Dep]]:
    """Each step's dependencies as step ids: a stage dependency waits for that stage's last step."""
    last = {s.stage: s.id for s in steps}
    ids = {s.id for s in steps}
    return {
        s.id: [
            record.replace(d, target=d.target if d.kind == "step" or d.target not in last else last[d.target])
            for d in s.deps
            if d.target in ids or d.target in last
        ]
        for s in steps
    }


def _cycle_error(leftover: list[str], deps: dict[str, list[ir.Dep]]) -> diag.Diagnostic:
    """Every step left after layering waits on another left-over step: walk those edges until a
    step repeats, and that walk's tail is a cycle."""
    left = set(leftover)
    walk: list[tuple[str, ir.Dep]] = []
    seen: dict[str, int] = {}
    node = leftover[0]
    while node not in seen:
        seen[node] = len(walk)
        dep = next(d for d in deps[node] if d.target in left)
        walk.append((node, dep))
        node = dep.target
    edges = walk[seen[node] :]
    names = " -> ".join([src for src, _ in edges] + [edges[0][0]])
    lines = "".join(f"\n    {src} waits for {dep.target}: {dep.why} at {dep.pos}" for src, dep in edges)
    return diag.error("KC204", edges[0][1].pos, f"dependency cycle: {names}{lines}", "remove one of these dependencies")


def _layers(steps: tuple[ir.Step, ...], deps: dict[str, list[ir.Dep]]) -> dict[str, int]:
    """Kahn's algorithm; a step's layer is one more than its deepest dependency's."""
    waiting = {s.id: len({d.target for d in deps[s.id]}) for s in steps}
    users: dict[str, list[str]] = {}
    for s in steps:
        for target in {d.target for d in deps[s.id]}:
            users.setdefault(target, []).append(s.id)
    layer: dict[str, int] = {}
    ready = [s.id for s in steps if waiting[s.id] == 0]
    while ready:
        node = ready.pop()
        layer[node] = max((layer[d.target] for d in deps[node]), default=0) + 1
        for user in users.get(node, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    return layer


def _bundle_name(steps: list[ir.Step]) -> str:
    ids = [s.id for s in steps]
    return "+".join(ids) if len(ids) <= 3 else f"{ids[0]}+{len(ids) - 1}-more"


def _finished(step: ir.Step, deps: list[ir.Dep]) -> ir.Step:
    """The step with its dependencies as step ids and the objects its gate waits on."""
    waits_on = tuple((o.kind, o.name) for o in step.objects if kinds.gated(o.kind, step.gate.kind))
    gate = record.replace(step.gate, objects=waits_on)
    return record.replace(step, gate=gate, deps=tuple(deps))


def ordering(draft: ir.Draft) -> ir.Program:
    workspace, *rest = draft.steps
    steps = tuple(rest)
    deps = _step_deps(steps)
    layer = _layers(steps, deps)
    leftover = [s.id for s in steps if s.id not in layer]
    if leftover:
        raise diag.CompileError([_cycle_error(leftover, deps)])
    by_layer: dict[int, list[ir.Step]] = {}
    for step in steps:  # declaration order within a layer
        by_layer.setdefault(layer[step.id], []).append(step)
    digits = max(2, len(str(len(by_layer))))  # 100 bundles and more: 000-, 001-, … still sort
    bundles = [ir.Bundle(0, "workspace", (_finished(workspace, []),), digits)]
    for index in sorted(by_layer):
        members = by_layer[index]
        finished = tuple(_finished(s, deps[s.id]) for s in members)
        bundles.append(ir.Bundle(len(bundles), _bundle_name(members), finished, digits))
    return ir.Program(draft.doc, draft.options, draft.spec, draft.policy, draft.stages, tuple(bundles), draft.warnings)
