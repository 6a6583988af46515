"""network: under ``workspace.network: isolated``, a NetworkPolicy for every stage with a Service
that lets in its own pods and the pods of the stages that refer to its host, port or url, and,
for a stage with an Ingress, the ingress controller. They join the workspace's objects.

They come from the reference graph, not from one stage's parameters, so they are a pass rather
than pattern data."""

from __future__ import annotations

from typing import Any

from kc.compiler import ir, object_names
from kc.compiler.passes import labels
from kc.schemas import record

NETWORK_FIELDS = ("host", "port", "url")


def _policies(program: ir.Draft) -> list[ir.Object]:
    callers: dict[str, list[str]] = {}
    for caller in program.stages:  # the references the dependencies pass found
        for target, field in caller.reads:
            if field in NETWORK_FIELDS and target != "pipeline" and target != caller.name:
                callers.setdefault(target, [])
                if caller.name not in callers[target]:
                    callers[target].append(caller.name)
    out = []
    exposed = {o.stage for o in program.objects if o.kind == "Ingress"}
    for stage in program.stages:
        if "host" not in stage.facts:
            continue
        selector = labels.selector(stage.name, program.instance)
        peers = [stage.name, *callers.get(stage.name, [])]
        rules: list[dict[str, Any]] = [
            {"from": [{"podSelector": {"matchLabels": labels.selector(p, program.instance)}} for p in peers]}
        ]
        if stage.name in exposed:
            # An ingress controller runs in a namespace of its own.
            rules.append(
                {
                    "from": [{"namespaceSelector": {}}],
                    "ports": [{"port": int(stage.facts["port"]), "protocol": "TCP"}],
                }
            )
        manifest = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": object_names.object_name(program.instance, stage.name, "ingress"),
                "namespace": program.namespace,
                "labels": labels.stage_labels(program, stage),
            },
            "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": rules},
        }
        out.append(ir.Object(manifest, stage.name, "workspace", stage.pos))
    return out


def network(draft: ir.Draft) -> ir.Draft:
    if draft.spec.workspace.network != "isolated":
        return draft
    workspace, *rest = draft.steps
    policies = tuple(_policies(draft))
    return record.replace(draft, steps=(record.replace(workspace, objects=workspace.objects + policies), *rest))
