"""What ``kc patterns`` and ``kc explain`` print about a pattern."""

from __future__ import annotations

import re

from kc.compiler.patterns import registry
from kc.schemas import params as params_schema

_KIND = re.compile(r"^kind:\s*(\w+)", re.MULTILINE)


def summary(pattern: registry.Pattern) -> str:
    return str(pattern.manifest.summary)


def _kinds(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return _KIND.findall(f.read())


def _type(decl: dict[str, object]) -> str:
    if "enum" in decl:
        return " | ".join(map(str, decl["enum"]))  # type: ignore[call-overload]
    return str(decl.get("type", "string"))


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
        rows += [
            (f.alias or n, "common", "see docs/language.md", "")
            for n, f in params_schema.ContainerStage.model_fields.items()
            if (f.alias or n) not in own and n not in params_schema.StageBase.model_fields
        ]
    width = max((len(r[0]) for r in rows), default=0)
    lines += [f"  {n:<{width}}  {t:<10} {d:<16} {text}".rstrip() for n, t, d, text in rows]
    lines += ["", "steps:"]
    for index, step in enumerate(pattern.steps):
        kinds = [k for path, _ in step.templates for k in _kinds(path)]
        name = step.decl.name or "(main)"
        lines.append(f"  {index + 1}. {name}: {', '.join(dict.fromkeys(kinds))}; gate: {step.decl.gate}")
    return "\n".join(lines) + "\n"
