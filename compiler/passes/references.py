"""references: resolve every ``${stage.field}`` and ``${pipeline.field}`` in the objects, now
that every stage's facts are known (the dependencies pass has checked that each names one).
``${params.NAME}`` was resolved before the stages were checked (the parameters pass)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, object_names, results
from kc.compiler.diagnostics import Pos
from kc.schemas import record

REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")


def no_data_claim(pos: Pos, what: str) -> diag.Diagnostic:
    # Storage has a cost and outlives the pipeline (teardown keeps claims), so kc asks for its
    # size rather than inventing one.
    return diag.error(
        "KC303",
        pos,
        f"{what}, but the pipeline has none",
        "add one to the spec, e.g. 'workspace: {data: {size: 10Gi}}'",
    )


def param_hint(name: str, declared: Collection[str]) -> str:
    """What to say of a parameter the spec does not declare: the close one, and every one."""
    if not declared:
        return "the spec declares no parameters: add them under 'params:'"
    close = diag.did_you_mean(name, declared)
    return f"{close + ' ' if close else ''}the spec declares: {', '.join(declared)}"


def unknown_param(text: str, name: str, pos: Pos, declared: Collection[str]) -> diag.Diagnostic:
    if not name:
        return diag.error("KC302", pos, f"{text} names no parameter", "write ${params.NAME}")
    return diag.error(
        "KC302", pos, f"{text} names parameter '{name}', which the spec does not declare", param_hint(name, declared)
    )


Replace = Callable[[re.Match[str]], str]

# What the walk looks into; anything else is a leaf without references.
_WALKED = frozenset({str, dict, list})


def substitute(value: Any, replace: Replace) -> Any:
    """``value`` with each ``${…}`` (and ``$${``) given to ``replace``; the very same object where
    it has none, so that objects without references cost a walk and no copies. Leaves without
    references, most of an object, are passed over in the loops rather than in a call each."""
    kind = type(value)
    if kind is str:
        return REF.sub(replace, value) if "${" in value else value
    if kind is dict or kind is list:
        changed: Any = None
        for key, item in value.items() if kind is dict else enumerate(value):
            found = type(item)
            if found not in _WALKED or (found is str and "${" not in item):
                continue
            new = substitute(item, replace)
            if new is not item:
                if changed is None:
                    changed = kind(value)  # a copy, made at the first change
                changed[key] = new
        return value if changed is None else changed
    return value


def _replace(table: dict[str, str], missing: set[str]) -> Replace:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        found = table.get(match.group(1))
        if found is None:
            missing.add(match.group(0))
            return match.group(0)
        return found

    return replace


def _table(draft: ir.Draft) -> dict[str, str]:
    table = {
        "pipeline.name": draft.spec.pipeline,
        "pipeline.namespace": draft.namespace,
        "pipeline.instance": draft.instance,
    }
    if draft.spec.workspace.data is not None:
        table["pipeline.data"] = object_names.object_name(draft.instance, "", "data")
    table["pipeline.results"] = results.configmap(draft.instance)  # what readers of results name
    table.update({f"{s.name}.{f}": v for s in draft.stages for f, v in s.facts.items()})
    return table


def _unresolved(obj: ir.Object, text: str) -> diag.Diagnostic:
    if text == "${pipeline.data}":
        return no_data_claim(obj.pos, f"stage '{obj.stage}' uses the pipeline's data claim")
    return diag.error(
        "KC301", obj.pos, f"{text} in stage '{obj.stage}' cannot be resolved", "write $${ for a literal ${"
    )


def references(draft: ir.Draft) -> ir.Draft:
    table = _table(draft)
    errors: list[diag.Diagnostic] = []
    steps = []
    for step in draft.steps:
        objects = []
        for obj in step.objects:
            missing: set[str] = set()
            objects.append(record.replace(obj, manifest=substitute(obj.manifest, _replace(table, missing))))
            errors.extend(_unresolved(obj, text) for text in sorted(missing))
        steps.append(record.replace(step, objects=tuple(objects)))
    diag.raise_if_errors(errors)
    return record.replace(draft, steps=tuple(steps))
