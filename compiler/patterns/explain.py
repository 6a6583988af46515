"""What ``kc patterns`` and ``kc explain`` print about a pattern."""

from __future__ import annotations

import re
from typing import Any

from kc.compiler.patterns import registry
from kc.schemas import pattern as pattern_schema
from kc.schemas import shape
from kc.schemas import stage as stage_fields

_KIND_LINE = re.compile(r"^kind:.*$", re.MULTILINE)
_KIND = re.compile(r"^kind:\s*(\w+)")
_QUOTED = re.compile(r"[\"']([A-Z]\w*)[\"']")


def summary(pattern: registry.Pattern) -> str:
    return str(pattern.manifest.summary)


def _kinds(path: str) -> list[str]:
    """The kinds a template writes: ``kind: Service``, or each quoted kind in an expression such as
    ``kind: {{ "StatefulSet" if persistent else "Deployment" }}``."""
    with open(path, encoding="utf-8") as f:
        lines = _KIND_LINE.findall(f.read())
    return [k for line in lines for k in (_QUOTED.findall(line) if "{{" in line else _KIND.findall(line))]


def _type(decl: dict[str, Any]) -> str:
    if "enum" in decl:
        return " | ".join(map(str, decl["enum"]))
    kind = str(decl.get("type", "string"))
    if kind == "map":
        return f"map of {_type(decl.get('values', {}))}"
    if kind == "list":
        return f"list of {_type(decl.get('items', {}))}"
    return kind


def explain(pattern: registry.Pattern) -> str:
    m = pattern.manifest
    lines = [f"{pattern.name}: {m.summary}", ""]
    if m.description:
        lines += [m.description.rstrip(), ""]
    lines.append("parameters:")
    rows = []
    for name, decl in m.parameters.items():
        default = (
            "required" if decl.get("required") else f"default {decl['default']!r}" if "default" in decl else "optional"
        )
        rows.append((name, _type(decl), default, str(decl.get("description", ""))))
        for sub, sdecl in (decl.get("properties") or {}).items():
            sdefault = (
                "required"
                if sdecl.get("required")
                else f"default {sdecl['default']!r}"
                if "default" in sdecl
                else "optional"
            )
            rows.append((f"  {name}.{sub}", _type(sdecl), sdefault, str(sdecl.get("description", ""))))
    if m.container:
        own = set(m.parameters)
        common = {f.name for f in shape.fields(stage_fields.StageBase)}
        rows += [
            (f.alias, "common", "see docs/language.md", "")
            for f in shape.fields(pattern.record)
            if f.alias not in own and f.name not in common
        ]
    w0, w1, w2 = (max((len(r[i]) for r in rows), default=0) for i in range(3))
    lines += [f"  {n:<{w0}}  {t:<{w1}}  {d:<{w2}}  {text}".rstrip() for n, t, d, text in rows]
    lines += ["", "steps (a step that renders no objects is left out):"]
    for index, step in enumerate(pattern.steps):
        kinds = ", ".join(dict.fromkeys(k for path, _ in step.templates for k in _kinds(path)))
        step_id = f"<stage>-{step.decl.name}" if index else "<stage>"
        what = "; ".join(t for t in (kinds or "objects from the parameters", step.decl.description) if t)
        lines.append(f"  {index + 1}. {step_id}: {what}; gate: {pattern_schema.GATE_TEXT[step.decl.gate]}")
    return "\n".join(lines) + "\n"
