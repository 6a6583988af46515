"""The stage graph with its bundles, as Mermaid or Graphviz dot."""

from __future__ import annotations

from kc.compiler import ir


def _label(step: ir.Step, stages: dict[str, ir.Stage]) -> str:
    stage = stages.get(step.stage)
    pattern = f" ({stage.pattern})" if stage and step.id == stage.name else ""
    gate = f"<br/>gate: {step.gate.text}" if step.gate.kind != "none" else ""
    return f"{step.id}{pattern}{gate}"


def mermaid(program: ir.Program) -> str:
    stages = {s.name: s for s in program.stages}
    lines = ["flowchart TD"]
    for bundle in program.bundles[1:]:
        lines.append(f'  subgraph b{bundle.index}["bundle {bundle.index:02d}"]')
        lines += [f'    {_node(s.id)}["{_label(s, stages)}"]' for s in bundle.steps]
        lines.append("  end")
    for step in program.steps:
        lines += [f"  {_node(d.target)} --> {_node(step.id)}" for d in step.deps]
    return "\n".join(lines) + "\n"


def dot(program: ir.Program) -> str:
    stages = {s.name: s for s in program.stages}
    lines = ["digraph kc {", "  rankdir=TB;", "  node [shape=box];"]
    for bundle in program.bundles[1:]:
        lines.append(f"  subgraph cluster_{bundle.index} {{")
        lines.append(f'    label="bundle {bundle.index:02d}";')
        lines += [f'    "{s.id}" [label="{_label(s, stages).replace("<br/>", chr(92) + "n")}"];' for s in bundle.steps]
        lines.append("  }")
    for step in program.steps:
        lines += [f'  "{d.target}" -> "{step.id}" [label="{d.why.split(" ")[0]}"];' for d in step.deps]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node(step_id: str) -> str:
    return "s_" + step_id.replace("-", "_")


FORMATS = {"mermaid": mermaid, "dot": dot}
