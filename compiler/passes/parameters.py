"""parameters: each ``${params.NAME}`` in the stages' text replaced by the run parameter's value
(the spec's ``params``, overlaid by profiles and ``--param``), before the stages are checked.

A parameter stands for text the spec could have written in its place, so it is resolved before
anything reads that text: it may be an image's tag, a schedule or a label, and it changes a
config stage's content hash and a Job's name as any other edit would. A value is taken as it is:
a ``${`` in it is written ``$${``, which the references pass turns back into ``${``, so a value
never becomes a reference. A parameter orders nothing and opens no network path
(docs/language.md, Run parameters)."""

from __future__ import annotations

import re
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir
from kc.compiler.passes import dependencies, references
from kc.schemas import record


def literal(values: dict[str, str]) -> dict[str, str]:
    """Each parameter's replacement text: its value, with a ``${`` in it escaped."""
    return {name: value.replace("${", "$${") for name, value in values.items()}


def _replace(literal: dict[str, str], missing: list[str]) -> references.Replace:
    def replace(match: re.Match[str]) -> str:
        target, dot, name = (match.group(1) or "").partition(".")
        if target != "params":
            return match.group(0)  # an escape, or a reference the references pass resolves
        found = literal.get(name) if dot else None
        if found is None:
            missing.append(name)
            return match.group(0)
        return found

    return replace


def resolved(raw: dict[str, Any], replacements: dict[str, str]) -> tuple[dict[str, Any], bool]:
    """The stage with its parameters in place (``replacements``: ``literal(values)``), and whether
    it names one the spec does not declare."""
    missing: list[str] = []
    out: dict[str, Any] = references.substitute(raw, _replace(replacements, missing))
    return out, bool(missing)


def parameters(draft: ir.Draft) -> ir.Draft:
    values = draft.spec.params
    replacements = literal(values)
    errors: list[diag.Diagnostic] = []
    stages: dict[str, dict[str, Any]] = {}
    for name, raw in draft.raw_stages.items():
        stages[name], unknown = resolved(raw, replacements)
        if unknown:  # positioned by the scan the dependencies pass makes, which is slower
            errors += [
                references.unknown_param(ref.text, ref.field, ref.pos, values)
                for ref in dependencies.scan(draft, name, raw)
                if ref.target == "params" and ref.field not in values
            ]
    diag.raise_if_errors(errors)
    return record.replace(draft, raw_stages=stages)
