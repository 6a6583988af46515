"""The stage graph with its bundles, as Mermaid or Graphviz dot; and, with ``--network``, who may
talk to whom on which port (``targets/network.py``)."""

from __future__ import annotations

import typing

from kc.compiler import ir
from kc.targets import network


def _label(step: ir.Step, stages: dict[str, ir.Stage]) -> str:
    stage = stages.get(step.stage)
    pattern = f" ({stage.pattern})" if stage and step.id == stage.name else ""
    gate = f"<br/>gate: {step.gate.text}" if step.gate.kind != "none" else ""
    return f"{step.id}{pattern}{gate}"


def _edges(program: ir.Program) -> list[tuple[str, str, str]]:
    """One edge per pair of steps however many dependencies join them (two references to the same
    stage are one arrow), labelled with each kind of reason once, in a fixed order."""
    kinds: dict[tuple[str, str], set[str]] = {}
    for step in program.steps:
        for dep in step.deps:
            kinds.setdefault((dep.target, step.id), set()).add(dep.kind)
    order = typing.get_args(ir.DepKind)
    return [(src, dst, ", ".join(k for k in order if k in found)) for (src, dst), found in kinds.items()]


def mermaid(program: ir.Program) -> str:
    stages = {s.name: s for s in program.stages}
    lines = ["flowchart TD"]
    for bundle in program.bundles[1:]:
        lines.append(f'  subgraph b{bundle.index}["bundle {bundle.index:02d}"]')
        lines += [f'    {_node(s.id)}["{_label(s, stages)}"]' for s in bundle.steps]
        lines.append("  end")
    lines += [f"  {_node(src)} -->|{why}| {_node(dst)}" for src, dst, why in _edges(program)]
    return "\n".join(lines) + "\n"


def dot(program: ir.Program) -> str:
    stages = {s.name: s for s in program.stages}
    lines = ["digraph kc {", "  rankdir=TB;", "  node [shape=box];"]
    for bundle in program.bundles[1:]:
        lines.append(f"  subgraph cluster_{bundle.index} {{")
        lines.append(f'    label="bundle {bundle.index:02d}";')
        lines += [f'    "{s.id}" [label="{_label(s, stages).replace("<br/>", chr(92) + "n")}"];' for s in bundle.steps]
        lines.append("  }")
    lines += [f'  "{src}" -> "{dst}" [label="{why}"];' for src, dst, why in _edges(program)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node(step_id: str) -> str:
    return "s_" + step_id.replace("-", "_")


class _Places:
    """The nodes of the network view: the stages that run pods, every pod of the pipeline, and
    each place outside it once (``x1``, ``x2``, … in the order they are first met)."""

    def __init__(self, program: ir.Program) -> None:
        self.program = program
        self.patterns = {s.name: s.pattern for s in program.stages}
        self.outside: dict[str, str] = {}

    def id(self, name: str, outside: bool) -> str:
        if outside:
            return self.outside.setdefault(name, f"x{len(self.outside) + 1}")
        return "every_pod" if name == network.EVERY_POD else _node(name)

    def label(self, name: str) -> str:
        if name == network.EVERY_POD:
            return f"every pod of {self.program.instance}"
        return f"{name} ({self.patterns[name]})"


def _ends(link: network.Link) -> tuple[tuple[str, bool], tuple[str, bool]]:
    return (link.source, link.outside == "source"), (link.target, link.outside == "target")


def network_mermaid(program: ir.Program) -> str:
    places, links = _Places(program), network.links(program)
    inside = [network.EVERY_POD] if any(link.source == network.EVERY_POD for link in links) else []
    lines = ["flowchart LR"]
    lines += [f'  {places.id(n, False)}["{places.label(n)}"]' for n in inside + network.running(program)]
    edges = []
    for link in links:
        (a, a_out), (b, b_out) = _ends(link)
        edges.append(f"  {places.id(a, a_out)} -->|{link.ports}| {places.id(b, b_out)}")
    lines += [f'  {node}(["{name}"])' for name, node in places.outside.items()]
    return "\n".join(lines + edges) + "\n"


def network_dot(program: ir.Program) -> str:
    places, links = _Places(program), network.links(program)
    inside = [network.EVERY_POD] if any(link.source == network.EVERY_POD for link in links) else []
    lines = ["digraph kc {", "  rankdir=LR;", "  node [shape=box];"]
    lines += [f'  "{places.id(n, False)}" [label="{places.label(n)}"];' for n in inside + network.running(program)]
    edges = []
    for link in links:
        (a, a_out), (b, b_out) = _ends(link)
        edges.append(f'  "{places.id(a, a_out)}" -> "{places.id(b, b_out)}" [label="{link.ports}"];')
    lines += [f'  "{node}" [label="{name}", shape=ellipse];' for name, node in places.outside.items()]
    return "\n".join([*lines, *edges, "}"]) + "\n"


FORMATS = {"mermaid": mermaid, "dot": dot}
NETWORK_FORMATS = {"mermaid": network_mermaid, "dot": network_dot}
