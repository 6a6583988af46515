"""stages: check each stage against its pattern's parameters and its ``after`` against the other
stages; every enabled stage that passes becomes an ``ir.Stage``."""

from __future__ import annotations

from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, model_errors, source
from kc.compiler.patterns import registry
from kc.schemas import check, record, shape

# Parameters every stage has, which kc reads itself rather than the templates.
_NOT_FOR_TEMPLATES = frozenset({"pattern", "after", "enabled", "labels", "annotations", "patch", "egress"})


def check_stage(
    doc: source.Document, library: registry.Library, name: str, raw: dict[str, Any]
) -> tuple[registry.Pattern | None, Any, list[diag.Diagnostic]]:
    """A stage's pattern and validated parameters, or the diagnostics that say why not."""
    path = ("stages", name)
    pattern_name = raw.get("pattern")
    pattern = library.get(str(pattern_name))
    if pattern is None or pattern.manifest.internal:
        where = doc.pos((*path, "pattern")) if "pattern" in raw else doc.pos(path, key=True)
        msg = f"stage '{name}' has no pattern" if pattern_name is None else f"unknown pattern '{pattern_name}'"
        public = [p for p in library.folders if p != registry.WORKSPACE]
        hint = diag.did_you_mean(str(pattern_name), public) or f"known patterns: {', '.join(sorted(public))}"
        return None, None, [diag.error("KC201", where, msg, hint)]
    # A common container field the pattern leaves out: said as such, with what to do instead.
    omitted = [key for key in raw if key in pattern.manifest.omit]
    errors = [
        diag.error(
            "KC101",
            doc.pos((*path, key), key=True),
            f"pattern '{pattern_name}' does not take '{key}' (stage '{name}')",
            pattern.manifest.omit[key],
        )
        for key in omitted
    ]
    try:
        values: Any = check.validate(pattern.record, {k: v for k, v in raw.items() if k not in omitted})
    except check.Refused as refused:
        found = model_errors.diagnostics(refused.error, doc, path, refused.model, f" in stage '{name}'")
        return pattern, None, errors + found
    if errors:
        return pattern, None, errors
    return pattern, _listed_ports(values, raw), []


def _listed_ports(values: Any, raw: dict[str, Any]) -> Any:
    """A pattern's default ``port`` (``service``'s 8080) stands for a stage that names no port: a
    stage that lists its ``ports`` serves those, and no other."""
    if "port" not in raw and getattr(values, "ports", None) and getattr(values, "port", None) is not None:
        return record.replace(values, port=None)
    return values


def _after_errors(draft: ir.Draft, name: str, after: str | list[str]) -> list[diag.Diagnostic]:
    items = [after] if isinstance(after, str) else after
    errors = []
    for index, target in enumerate(items):
        pos = draft.doc.pos(("stages", name, "after") + (() if isinstance(after, str) else (index,)))
        if target == name:
            errors.append(diag.error("KC203", pos, f"stage '{name}' cannot come after itself"))
        elif target not in draft.raw_stages:
            errors.append(
                diag.error(
                    "KC202",
                    pos,
                    f"stage '{name}' comes after unknown stage '{target}'",
                    diag.did_you_mean(target, draft.raw_stages),
                )
            )
    return errors


def enabled(draft: ir.Draft) -> set[str]:
    return {n for n, s in draft.raw_stages.items() if s.get("enabled", True) is not False}


def stages(draft: ir.Draft) -> ir.Draft:
    errors: list[diag.Diagnostic] = []
    found: list[ir.Stage] = []
    on = enabled(draft)
    for name, raw in draft.raw_stages.items():
        pattern, values, stage_errors = check_stage(draft.doc, draft.library, name, raw)
        errors.extend(stage_errors)
        if pattern is None or values is None or name not in on:
            continue
        errors.extend(_after_errors(draft, name, values.after))
        found.append(
            ir.Stage(
                name,
                pattern.name,
                shape.dump(values, exclude_none=True),
                draft.doc.pos(("stages", name), key=True),
                shape.dump(values, for_templates=True, exclude=_NOT_FOR_TEMPLATES),
            )
        )
    diag.raise_if_errors(errors)
    return record.replace(draft, stages=tuple(found))
