"""network: under ``workspace.network: isolated``, the NetworkPolicies that allow what the
workspace's policy (``isolate``: nothing in, nothing out but DNS) does not:

* for every stage with a Service, ingress from its own pods and from the pods of the stages that
  refer to its host, port or url, and, for a stage with an Ingress, from other namespaces (the
  ingress controller's) to its port;
* for every stage that runs pods, egress to its own pods and to the stages it refers to, each on
  the ports its Services lead to, and to what its ``egress`` names.

They join the workspace's objects. They come from the reference graph, not from one stage's
parameters, so they are a pass rather than pattern data (docs/security.md, "Network")."""

from __future__ import annotations

from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import egress, ir, object_names, pods
from kc.compiler.passes import labels
from kc.schemas import egress as egress_schema
from kc.schemas import record

NETWORK_FIELDS = ("host", "port", "url")


def _referred(program: ir.Draft, running: set[str]) -> dict[str, list[str]]:
    """The stages each stage refers to by host, port or url (recorded by the dependencies pass),
    once each, in the order of its references. A stage that runs no pods (a config) passes its
    references on to the stages that mount it or read it: their pods are the ones that connect."""
    direct: dict[str, list[str]] = {}
    for caller in program.stages:
        targets = direct.setdefault(caller.name, [])
        for target, field in caller.reads:
            if field in NETWORK_FIELDS and target not in ("pipeline", caller.name, *targets):
                targets.append(target)
    out: dict[str, list[str]] = {}
    for caller in program.stages:
        targets = list(direct[caller.name])
        for target, field in caller.reads:
            if field == "name" and target in direct and target not in running:
                targets += [t for t in direct[target] if t not in targets and t != caller.name]
        out[caller.name] = targets
    return out


def _container_ports(objects: list[ir.Object]) -> dict[Any, Any]:
    """The stage's pods' ports by name (what a Service's named target port means)."""
    found: dict[Any, Any] = {}
    for obj in objects:
        for spec in pods.specs(obj.manifest):
            for container in pods.containers(spec):
                for port in container.get("ports") or ():
                    if isinstance(port, dict) and isinstance(port.get("name"), str):
                        found.setdefault(port["name"], port.get("containerPort"))
    return found


def _ports(objects: list[ir.Object]) -> list[dict[str, Any]]:
    """The ports a stage's Services lead to on its pods, as NetworkPolicy matches them: after the
    Service has sent the connection on (the target port), by number where the pods name it."""
    named = _container_ports(objects)
    out: list[dict[str, Any]] = []
    for obj in objects:
        if obj.kind != "Service":
            continue
        for port in (obj.manifest.get("spec") or {}).get("ports") or ():
            if not isinstance(port, dict):
                continue
            target = port.get("targetPort", port.get("port"))
            entry = {"port": named.get(target, target), "protocol": port.get("protocol", "TCP")}
            if entry not in out:
                out.append(entry)
    return out


def _policy(program: ir.Draft, stage: ir.Stage, direction: str, rules: list[dict[str, Any]]) -> ir.Object:
    key = direction.lower()
    manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": object_names.object_name(program.instance, stage.name, key),
            "namespace": program.namespace,
            "labels": labels.stage_labels(program, stage),
        },
        "spec": {
            "podSelector": {"matchLabels": labels.selector(stage.name, program.instance)},
            "policyTypes": [direction],
            key: rules,
        },
    }
    return ir.Object(manifest, stage.name, "workspace", stage.pos)


def _peer(stage: str, instance: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": labels.selector(stage, instance)}}


def _policies(program: ir.Draft) -> list[ir.Object]:
    objects: dict[str, list[ir.Object]] = {}
    for obj in program.objects:
        objects.setdefault(obj.stage, []).append(obj)
    running = {name for name, found in objects.items() if any(True for o in found for _ in pods.specs(o.manifest))}
    referred = _referred(program, running)
    serving = {s.name for s in program.stages if "host" in s.facts}  # a Service: ${stage.host}
    ports = {name: _ports(objects.get(name, [])) for name in serving}
    exposed = {o.stage for o in program.objects if o.kind == "Ingress"}
    out = []
    for stage in program.stages:
        if stage.name in serving:
            callers = [s.name for s in program.stages if s.name in running and stage.name in referred[s.name]]
            rules: list[dict[str, Any]] = [{"from": [_peer(p, program.instance) for p in [stage.name, *callers]]}]
            if stage.name in exposed:  # an ingress controller runs in a namespace of its own
                rules.append(
                    {
                        "from": [{"namespaceSelector": {}}],
                        "ports": [{"port": int(stage.facts["port"]), "protocol": "TCP"}],
                    }
                )
            out.append(_policy(program, stage, "Ingress", rules))
        if stage.name not in running:
            continue  # no pods, nothing leaves
        targets = [t for t in ([stage.name] if stage.name in serving else []) + referred[stage.name] if ports.get(t)]
        rules = [{"to": [_peer(t, program.instance)], "ports": ports[t]} for t in targets]
        rules += egress.rules(stage.params.get("egress") or [], program.policy)
        if rules:
            out.append(_policy(program, stage, "Egress", rules))
    return out


def _stage_names(program: ir.Draft) -> list[diag.Diagnostic]:
    """An egress host named like a stage: the stage is reached by referring to it, which also
    lets it in; a name alone would open the port to every address."""
    entries: list[tuple[tuple[str | int, ...], str]] = [
        (("workspace", "egress", i), text) for i, text in enumerate(program.spec.workspace.egress)
    ]
    for stage in program.stages:
        entries += [
            (("stages", stage.name, "egress", i), text) for i, text in enumerate(stage.params.get("egress") or [])
        ]
    names = {s.name for s in program.stages}
    errors = []
    for path, text in entries:
        dest = egress_schema.parse(text)
        if dest.kind == "host" and dest.host in names:
            errors.append(
                diag.error(
                    "KC106",
                    program.doc.pos(path),
                    f"egress '{text}' names stage '{dest.host}': a host name opens its port to every address",
                    f"refer to the stage instead (${{{dest.host}.host}}, ${{{dest.host}.url}}): that lets its pods "
                    "reach it, on its ports",
                )
            )
    return errors


def network(draft: ir.Draft) -> ir.Draft:
    if draft.spec.workspace.network != "isolated":
        return draft
    diag.raise_if_errors(_stage_names(draft))
    workspace, *rest = draft.steps
    policies = tuple(_policies(draft))
    return record.replace(draft, steps=(record.replace(workspace, objects=workspace.objects + policies), *rest))
