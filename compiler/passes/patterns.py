"""patterns: validate each stage against its pattern's parameters and expand it into steps.

The workspace (bundle 0) is expanded here too, from the internal ``workspace`` pattern.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import pydantic
from kc.compiler import diagnostics as diag
from kc.compiler import ir, kinds, merge, names, pods, podsecurity, source, validation
from kc.compiler.diagnostics import Pos
from kc.compiler.passes import labels
from kc.compiler.patterns import container, files, registry, render
from kc.schemas import types as t

WORKSPACE = "workspace"
# Parameter types whose globs are read here: as text, or as Kubernetes objects.
_FILE_TYPES: dict[str, Callable[[ir.Program, str, str, list[str]], tuple[Any, list[diag.Diagnostic]]]] = {
    "files": files.read_texts,
    "objects": files.read_objects,
}


def _deps(
    program: ir.Program, name: str, after: str | list[str], enabled: set[str]
) -> tuple[list[ir.Dep], list[diag.Diagnostic]]:
    items = [after] if isinstance(after, str) else after
    deps, errors = [], []
    for index, target in enumerate(items):
        path = ("stages", name, "after") + (() if isinstance(after, str) else (index,))
        pos = program.doc.pos(path)
        if target == name:
            errors.append(diag.error("KC203", pos, f"stage '{name}' cannot come after itself"))
        elif target not in program.raw_stages:
            errors.append(
                diag.error(
                    "KC202",
                    pos,
                    f"stage '{name}' comes after unknown stage '{target}'",
                    diag.did_you_mean(target, program.raw_stages),
                )
            )
        elif target in enabled:  # a dependency on a disabled stage is dropped with it
            deps.append(ir.Dep(target, pos, "after", "after"))
    return deps, errors


def _context(
    program: ir.Program, stage: str, params: dict[str, Any], pattern: registry.Pattern, patterns_of: dict[str, str]
) -> dict[str, Any]:
    instance = program.instance
    ctx: dict[str, Any] = {
        "name": names.object_name(instance, stage),
        "child": lambda suffix: names.object_name(instance, stage, str(suffix)),
        "stage": stage,
        "instance": instance,
        "namespace": program.namespace,
        "pipeline": program.spec.pipeline if program.spec else instance,
        "selector": labels.selector(stage, instance),
        "service_account": names.object_name(instance, ""),
        "p": params,
    }
    if pattern.manifest.container:
        main = pattern.manifest.main
        long_running = main is not None and kinds.long_running(main)
        ctx["container"] = container.container(stage, params, patterns_of, long_running)
        ctx["volumes"] = container.volumes(params, patterns_of)
        ctx["ports"] = container.ports(params)
    return ctx


def _snake(value: Any) -> Any:
    """Template-side parameters: ``storage-class`` reads as ``p.storage_class``."""
    if isinstance(value, dict):
        return {str(k).replace("-", "_") if isinstance(k, str) else k: _snake(v) for k, v in value.items()}
    return value


def _template_params(model: pydantic.BaseModel, parameters: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out = model.model_dump(by_alias=True, exclude={"pattern", "after", "enabled", "labels", "annotations", "patch"})
    return render.template_params(parameters, out)


def _steps(
    program: ir.Program,
    stage: str,
    pattern: registry.Pattern,
    ctx: dict[str, Any],
    pos: Pos,
    deps: tuple[ir.Dep, ...],
    patch: dict[str, Any],
) -> tuple[list[ir.Step], list[diag.Diagnostic]]:
    steps: list[ir.Step] = []
    errors: list[diag.Diagnostic] = []
    kinds_seen: set[str] = set()
    rendered = render.render(pattern, ctx)
    # A step that renders no objects is left out, unless no step renders any; the first step
    # left is named after the stage and carries the stage's dependencies.
    rendered = [r for r in rendered if r[1]] or rendered[:1]
    for index, (decl, manifests) in enumerate(rendered):
        step_id = stage if index == 0 else f"{stage}-{decl.decl.name}"
        objects = []
        for manifest in manifests:
            kind = manifest["kind"]
            kinds_seen.add(kind)
            if kind in patch:
                manifest = merge.patch(manifest, patch[kind])
            problem = pods.shape_problem(manifest)
            if problem is not None:
                where = program.doc.pos(("stages", stage, "patch", kind), key=True) if kind in patch else pos
                errors.append(diag.error("KC106", where, f"{kind} of stage '{stage}': {problem}"))
                continue
            objects.append(ir.Object(manifest, stage, step_id, pos))
        step_deps = deps if index == 0 else (ir.Dep(steps[-1].id, pos, "previous step", "step"),)
        steps.append(ir.Step(step_id, stage, ir.Gate(decl.decl.gate), tuple(objects), step_deps))
    for kind in patch:
        if kind not in kinds_seen:
            errors.append(
                diag.error(
                    "KC101",
                    program.doc.pos(("stages", stage, "patch", kind), key=True),
                    f"patch for kind '{kind}', which stage '{stage}' does not produce",
                    diag.did_you_mean(kind, kinds_seen) or f"it produces: {', '.join(sorted(kinds_seen))}",
                )
            )
    return steps, errors


def _workspace(program: ir.Program) -> ir.Step:
    assert program.spec is not None
    ws = program.spec.workspace
    pattern = registry.load(os.path.join(registry.LIBRARY, WORKSPACE))
    limits = None
    if isinstance(ws.limits, str):
        requests, lim = t.SIZES[ws.limits]
        limits = {"requests": requests, "limits": lim}
    elif ws.limits is not None:
        limits = {"requests": ws.limits.model_dump(), "limits": ws.limits.model_dump()}
    ctx = {
        "name": names.object_name(program.instance, ""),
        "child": lambda suffix: names.object_name(program.instance, "", str(suffix)),
        "instance": program.instance,
        "namespace": program.namespace,
        "description": program.spec.description,
        "workspace": _snake(ws.model_dump(by_alias=True)),
        "limits": limits,
        "service_account": names.object_name(program.instance, ""),
        "pipeline_selector": labels.ownership(program.instance),
        # What the API server's Pod Security admission enforces: as much as the policy allows.
        "pod_security": podsecurity.level({k for k in podsecurity.KEYS if getattr(program.policy, k, False)}),
    }
    pos = (
        program.doc.pos(("workspace",), key=True) if "workspace" in program.doc.data else program.doc.pos(("pipeline",))
    )
    ((_, manifests),) = render.render(pattern, ctx)
    return ir.Step(WORKSPACE, "", ir.Gate("none"), tuple(ir.Object(m, "", WORKSPACE, pos) for m in manifests))


def check_stage(
    doc: source.Document, known: dict[str, str], name: str, raw: dict[str, Any]
) -> tuple[registry.Pattern | None, pydantic.BaseModel | None, list[diag.Diagnostic]]:
    """A stage's pattern and validated parameters, or the diagnostics that say why not."""
    path = ("stages", name)
    pattern_name = raw.get("pattern")
    folder = known.get(str(pattern_name))
    if folder is None or registry.load(folder).manifest.internal:
        where = doc.pos((*path, "pattern")) if "pattern" in raw else doc.pos(path, key=True)
        msg = f"stage '{name}' has no pattern" if pattern_name is None else f"unknown pattern '{pattern_name}'"
        public = [p for p in known if p != WORKSPACE]
        hint = diag.did_you_mean(str(pattern_name), public) or f"known patterns: {', '.join(sorted(public))}"
        return None, None, [diag.error("KC201", where, msg, hint)]
    pattern = registry.load(folder)
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
        model = pattern.model.model_validate({k: v for k, v in raw.items() if k not in omitted})
    except pydantic.ValidationError as exc:
        return pattern, None, errors + validation.diagnostics(exc, doc, path, pattern.model, f" in stage '{name}'")
    return (pattern, None, errors) if errors else (pattern, model, [])


def patterns(program: ir.Program) -> ir.Program:
    assert program.spec is not None
    errors: list[diag.Diagnostic] = []
    warnings: list[diag.Diagnostic] = []
    enabled = {n for n, s in program.raw_stages.items() if s.get("enabled", True) is not False}
    stages: list[ir.Stage] = []
    steps: list[ir.Step] = [_workspace(program)]
    patterns_of = {n: str(s.get("pattern")) for n, s in program.raw_stages.items()}
    previous: str | None = None
    for name, raw in program.raw_stages.items():
        path = ("stages", name)
        pos = program.doc.pos(path, key=True)
        pattern, model, stage_errors = check_stage(program.doc, program.patterns, name, raw)
        errors.extend(stage_errors)
        if pattern is None or model is None:
            continue
        if name not in enabled:
            continue
        deps, dep_errors = _deps(program, name, model.after, enabled)  # type: ignore[attr-defined]
        errors.extend(dep_errors)
        if program.spec.flow == "sequential" and previous is not None:
            deps.append(ir.Dep(previous, pos, "flow: sequential", "flow"))
        previous = name
        params = _template_params(model, pattern.manifest.parameters)
        for key, decl in pattern.manifest.parameters.items():
            reader = _FILE_TYPES.get(str(decl.get("type")))
            if reader is not None:
                params[key.replace("-", "_")], file_errors = reader(
                    program, name, key, params[key.replace("-", "_")] or []
                )
                errors.extend(file_errors)
        if errors:
            continue
        ctx = _context(program, name, params, pattern, patterns_of)
        warnings.extend(render.warnings(pattern, ctx, pos))
        new_steps, step_errors = _steps(program, name, pattern, ctx, pos, tuple(deps), model.patch)  # type: ignore[attr-defined]
        errors.extend(step_errors)
        steps.extend(new_steps)
        stages.append(
            ir.Stage(name, pattern.name, model.model_dump(by_alias=True, exclude_none=True), pos, tuple(deps))
        )
    errors.extend(_step_id_clashes(program, steps))
    diag.raise_if_errors(errors)
    return dataclasses.replace(
        program, stages=tuple(stages), steps=tuple(steps), warnings=program.warnings + tuple(warnings)
    )


def _step_id_clashes(program: ir.Program, steps: list[ir.Step]) -> list[diag.Diagnostic]:
    """A later step's id, <stage>-<step>, must not be another stage's name (``db-init``)."""
    owner: dict[str, str] = {}
    errors = []
    for step in steps:
        if step.id in owner and owner[step.id] != step.stage:
            errors.append(
                diag.error(
                    "KC211",
                    program.doc.pos(("stages", step.stage), key=True),
                    f"step '{step.id}' of stage '{step.stage}' has the same name as a step of stage '{owner[step.id]}'",
                    "rename one of the two stages",
                )
            )
        owner.setdefault(step.id, step.stage)
    return errors
