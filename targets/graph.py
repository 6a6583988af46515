"""The stage graph with its bundles, as Mermaid or Graphviz dot."""

from __future__ import annotations

import typing

from kc.compiler import ir


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


FORMATS = {"mermaid": mermaid, "dot": dot}
