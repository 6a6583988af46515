"""``kc/plan.json``: the index of a compiled plan, and what diff and teardown read back
(``kc.compiler.contract`` writes it under its format and reads it)."""

from __future__ import annotations

from typing import Any

from kc.compiler import contract, ir


def _object_entry(obj: ir.Object) -> dict[str, Any]:
    return {
        "apiVersion": obj.manifest["apiVersion"],
        "kind": obj.kind,
        "namespace": obj.namespace,
        "name": obj.name,
        "stage": obj.stage or None,
        "step": obj.step,
        "source": obj.manifest["metadata"].get("annotations", {}).get(contract.SOURCE),
        "digest": obj.digest,
    }


def _gate(gate: ir.Gate) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": gate.kind,
        "text": gate.text,
        "objects": [{"kind": k, "name": n} for k, n in gate.objects],
    }
    # Only where the stage sets it, so that a plan without it reads as kc's default, in seconds.
    if gate.pending_timeout is not None:
        out["pending_timeout"] = gate.pending_timeout
    return out


def plan(program: ir.Program) -> dict[str, Any]:
    # The run parameters' values, as profiles and --param left them: what a reviewer of the
    # compiled directory reads to know which run it is. Left out when the spec declares none.
    params = {"params": dict(program.spec.params)} if program.spec.params else {}
    return {
        "pipeline": program.spec.pipeline,
        "instance": program.instance,
        "namespace": program.namespace,
        "namespace_created": program.spec.workspace.create,
        "revision": program.revision,
        "data_policy": program.data_policy,
        **params,
        "bundles": [
            {
                "index": b.index,
                "file": b.filename,
                "steps": [
                    {
                        "id": s.id,
                        "stage": s.stage or None,
                        "gate": _gate(s.gate),
                        "after": sorted({d.target for d in s.deps}),
                    }
                    for s in b.steps
                ],
                "objects": [_object_entry(o) for o in b.objects],
            }
            for b in program.bundles
        ],
        "stages": [
            {
                "name": s.name,
                "pattern": s.pattern,
                "source": f"{s.pos.line}",
                "after": [{"stage": d.target, "kind": d.kind, "why": d.why, "line": d.pos.line} for d in s.deps],
            }
            for s in program.stages
        ],
    }


def render(program: ir.Program) -> str:
    return contract.plan_text(plan(program))
