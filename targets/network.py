"""Who may talk to whom, on which port: ``kc graph SPEC --network``.

Read from the NetworkPolicies the network pass wrote, not from the spec, so what it shows is what
a cluster that enforces NetworkPolicy will allow: a connection between two stages needs the
caller's egress and the callee's ingress both to admit it, and is shown on the ports both do."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from kc.compiler import contract, egress, ir, pods
from kc.schemas import egress as egress_schema

EVERY_POD = ""  # what a policy that selects every pod of the instance applies to


class Link(NamedTuple):
    source: str  # a stage, EVERY_POD, or the label of a place outside the pipeline
    target: str
    ports: str  # "5432/TCP, 8080/TCP" or "all ports"
    outside: str = ""  # which end is outside the pipeline: "source", "target" or ""


def _ports(ports: list[dict[str, Any]] | None) -> set[str] | None:
    """Ports as text; None for every port."""
    return None if not ports else {f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports}


def _text(ports: set[str] | None) -> str:
    return "all ports" if ports is None else ", ".join(sorted(ports, key=lambda p: (int(p.split("/")[0]), p)))


def _both(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    return b if a is None else a if b is None else a & b


def _selected(policy: dict[str, Any]) -> str:
    labels = ((policy.get("spec") or {}).get("podSelector") or {}).get("matchLabels") or {}
    return str(labels.get(contract.STAGE, EVERY_POD))


def _stage_of(peer: dict[str, Any]) -> str | None:
    if "namespaceSelector" in peer or "ipBlock" in peer:
        return None
    return ((peer.get("podSelector") or {}).get("matchLabels") or {}).get(contract.STAGE)


def _place(peer: dict[str, Any]) -> str:
    """A peer outside the pipeline, as a reader names it."""
    if "ipBlock" in peer:
        return str(peer["ipBlock"]["cidr"])
    namespace = (peer.get("namespaceSelector") or {}).get("matchLabels") or {}
    labels = (peer.get("podSelector") or {}).get("matchLabels") or {}
    where = f"namespace {namespace['kubernetes.io/metadata.name']}" if namespace else "other namespaces"
    return where + (f", pods {','.join(f'{k}={v}' for k, v in labels.items())}" if labels else "")


def _named(program: ir.Program) -> dict[tuple[str, str], list[str]]:
    """(who, rule as JSON) -> the spec's egress entries that made the rule: a host name compiles to
    every address, and the graph says which names that stands for."""
    found: dict[tuple[str, str], list[str]] = {}
    entries = [(EVERY_POD, program.spec.workspace.egress)] + [
        (s.name, s.params.get("egress") or []) for s in program.stages
    ]
    for who, texts in entries:
        for text in texts:
            for rule in egress.rules([text], program.policy):
                found.setdefault((who, json.dumps(rule, sort_keys=True)), []).append(text)
    return found


def _admitted(rules: list[dict[str, Any]], caller: str) -> tuple[bool, set[str] | None]:
    """Whether ingress ``rules`` let ``caller``'s pods in, and on which ports (None: every port)."""
    found, ports = False, set[str]()
    for rule in rules:
        if any(_stage_of(p) == caller for p in rule.get("from") or []):
            more = _ports(rule.get("ports"))
            if more is None:
                return True, None
            found, ports = True, ports | more
    return found, ports


def _outward(rule: dict[str, Any], label: list[str] | None) -> list[str]:
    """The places outside the pipeline an egress rule leads to."""
    if not rule.get("to"):
        return ["anywhere"]
    places = []
    cidrs = tuple(p["ipBlock"]["cidr"] for p in rule["to"] if "ipBlock" in p)
    if cidrs:
        place = "any address" if cidrs == egress_schema.EVERYWHERE else ", ".join(cidrs)
        places.append(f"{', '.join(label)} ({place})" if label and place == "any address" else place)
    places += [_place(p) for p in rule["to"] if "ipBlock" not in p and _stage_of(p) is None]
    return places


def links(program: ir.Program) -> list[Link]:
    policies = [o.manifest for o in program.objects if o.kind == "NetworkPolicy" and o.step == "workspace"]
    ingress: dict[str, list[dict[str, Any]]] = {}
    egress_rules: dict[str, list[dict[str, Any]]] = {}
    for policy in policies:
        spec = policy.get("spec") or {}
        ingress.setdefault(_selected(policy), []).extend(spec.get("ingress") or [])
        egress_rules.setdefault(_selected(policy), []).extend(spec.get("egress") or [])
    named = _named(program)
    out: list[Link] = []
    for who in [EVERY_POD, *(s.name for s in program.stages)]:
        for rule in egress_rules.get(who, []):
            ports = _ports(rule.get("ports"))
            label = named.get((who, json.dumps(rule, sort_keys=True)))
            out += [Link(who, place, _text(ports), "target") for place in _outward(rule, label)]
            for stage in [s for p in rule.get("to") or [] if (s := _stage_of(p)) is not None]:
                admitted, door = _admitted(ingress.get(EVERY_POD, []) + ingress.get(stage, []), who)
                if admitted and who != EVERY_POD:  # a connection needs both ends to allow it
                    out.append(Link(who, stage, _text(_both(ports, door)), ""))
    for callee in program.stages:
        for rule in ingress.get(callee.name, []):
            for peer in rule.get("from") or []:
                if _stage_of(peer) is None:
                    out.append(Link(_place(peer), callee.name, _text(_ports(rule.get("ports"))), "source"))
    return out


def running(program: ir.Program) -> list[str]:
    """The stages that run pods, in the spec's order."""
    with_pods = {o.stage for o in program.objects if any(True for _ in pods.specs(o.manifest))}
    return [s.name for s in program.stages if s.name in with_pods]
