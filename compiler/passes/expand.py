"""expand: render each stage's pattern templates into its steps, and the workspace (bundle 0)
from the internal ``workspace`` pattern."""

from __future__ import annotations

from typing import Any

from kc.compiler import contract, egress, ir, kinds, merge, object_names, pods, podsecurity
from kc.compiler import diagnostics as diag
from kc.compiler.diagnostics import Pos
from kc.compiler.passes import labels
from kc.compiler.patterns import container, registry, render, wiring
from kc.schemas import record, shape, units


def _data(pattern: registry.Pattern, params: dict[str, Any]) -> container.Data:
    parameters = pattern.manifest.parameters
    fan = wiring.items(parameters, params)
    items, shards = fan or ([], False)
    return container.Data(
        tuple(wiring.results(parameters, params)), tuple(items), shards, wiring.when(parameters, params)
    )


def _context(
    draft: ir.Draft,
    stage: str,
    params: dict[str, Any],
    pattern: registry.Pattern,
    patterns_of: dict[str, str],
    data_of: dict[str, container.Data],
    fans: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    instance = draft.instance
    ctx: dict[str, Any] = {
        "name": object_names.object_name(instance, stage),
        "child": lambda suffix: object_names.object_name(instance, stage, str(suffix)),
        "stage": stage,
        "instance": instance,
        "namespace": draft.namespace,
        "pipeline": draft.spec.pipeline,
        "selector": labels.selector(stage, instance),
        "spread": container.spread(labels.selector(stage, instance)),
        "service_account": object_names.object_name(instance, ""),
        "p": params,
    }
    if pattern.manifest.container:
        main = pattern.manifest.main
        long_running = main is not None and kinds.long_running(main)
        data = data_of[stage]
        ctx["container"] = container.container(stage, params, patterns_of, long_running, data)
        ctx["volumes"] = container.volumes(params, patterns_of, data)
        ctx["ports"] = container.ports(params)
        ctx["init_containers"] = container.init_containers(ctx["container"], data)
        wires = [(str(path[-1]), wire) for path, wire in wiring.wires(pattern.manifest.parameters, params)]
        outputs = wiring.outputs(pattern.manifest.parameters, params)
        ctx["data_mounts"] = container.data_mounts(stage, outputs, wires, fans)
        ctx.update(_run_context(data, params.get("parallel"), draft.policy.max_parallelism))
    return ctx


def _run_context(data: container.Data, parallel: int | None, most: int) -> dict[str, Any]:
    """``fanout`` (an Indexed Job's completions and parallelism, or None) and ``job_annotations``:
    what the Job says of its results, items and ``when``, which kc apply reads back."""
    annotations = {}
    if data.results:
        annotations[contract.RESULTS] = ",".join(data.results)
    if data.when:
        annotations[contract.WHEN] = data.when
    fanout = None
    if data.items:
        annotations[contract.ITEMS] = ",".join(data.items)
        fanout = {"completions": len(data.items), "parallelism": parallel or min(len(data.items), most)}
    return {"fanout": fanout, "job_annotations": annotations}


def _snake(value: Any) -> Any:
    """Template-side parameters: ``storage-class`` reads as ``p.storage_class``."""
    if isinstance(value, dict):
        return {str(k).replace("-", "_") if isinstance(k, str) else k: _snake(v) for k, v in value.items()}
    return value


def _steps(
    draft: ir.Draft,
    stage: str,
    pattern: registry.Pattern,
    ctx: dict[str, Any],
    pos: Pos,
    patch: dict[str, Any],
    pending: int | None,
) -> tuple[list[ir.Step], list[diag.Diagnostic]]:
    """The stage's steps; each gate carries ``pending``, the stage's pending-timeout in seconds,
    which kc apply reads from it (or from kc/plan.json)."""
    steps: list[ir.Step] = []
    errors: list[diag.Diagnostic] = []
    kinds_seen: set[str] = set()
    rendered = render.render(pattern, ctx)
    # A step that renders no objects is left out, unless no step renders any; the first step
    # left is named after the stage.
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
                where = draft.doc.pos(("stages", stage, "patch", kind), key=True) if kind in patch else pos
                errors.append(diag.error("KC106", where, f"{kind} of stage '{stage}': {problem}"))
                continue
            objects.append(ir.Object(manifest, stage, step_id, pos))
        steps.append(ir.Step(step_id, stage, ir.Gate(decl.decl.gate, pending_timeout=pending), tuple(objects)))
    for kind in patch:
        if kind not in kinds_seen:
            errors.append(
                diag.error(
                    "KC101",
                    draft.doc.pos(("stages", stage, "patch", kind), key=True),
                    f"patch for kind '{kind}', which stage '{stage}' does not produce",
                    diag.did_you_mean(kind, kinds_seen) or f"it produces: {', '.join(sorted(kinds_seen))}",
                )
            )
    return steps, errors


def _workspace(program: ir.Draft, data_of: dict[str, container.Data]) -> ir.Step:
    ws = program.spec.workspace
    pattern = program.library[registry.WORKSPACE]
    limits = None
    if isinstance(ws.limits, str):
        limits = container.resources({"size": ws.limits})
    elif ws.limits is not None:
        limits = container.resources({"resources": shape.dump(ws.limits, for_templates=True)})
    ctx = {
        "name": object_names.object_name(program.instance, ""),
        "child": lambda suffix: object_names.object_name(program.instance, "", str(suffix)),
        "instance": program.instance,
        "namespace": program.namespace,
        "description": program.spec.description,
        "workspace": _snake(shape.dump(ws)),
        "limits": limits,
        "service_account": object_names.object_name(program.instance, ""),
        "pipeline_selector": contract.ownership(program.instance),
        # What the API server's Pod Security admission enforces: as much as the policy allows.
        "pod_security": podsecurity.level({k for k in podsecurity.KEYS if getattr(program.policy, k, False)}),
        "results": any(d.results for d in data_of.values()),
        "dns": {"namespace": program.policy.dns_namespace, "labels": program.policy.dns_labels},
        "egress": egress.rules(ws.egress, program.policy),
    }
    pos = (
        program.doc.pos(("workspace",), key=True) if "workspace" in program.doc.data else program.doc.pos(("pipeline",))
    )
    ((_, manifests),) = render.render(pattern, ctx)
    step = registry.WORKSPACE
    return ir.Step(step, "", ir.Gate("none"), tuple(ir.Object(m, "", step, pos) for m in manifests))


def expand(draft: ir.Draft) -> ir.Draft:
    errors: list[diag.Diagnostic] = []
    warnings: list[diag.Diagnostic] = []
    data_of = {s.name: _data(draft.library[s.pattern], s.params) for s in draft.stages}
    steps: list[ir.Step] = [_workspace(draft, data_of)]
    patterns_of = {n: str(s.get("pattern")) for n, s in draft.raw_stages.items()}
    fans = {name: d.items for name, d in data_of.items() if d.items}
    for stage in draft.stages:
        errors.extend(_fanout_problems(draft, stage, data_of[stage.name]))
        pattern = draft.library[stage.pattern]
        params = dict(stage.template_params)
        for key in pattern.manifest.parameters:
            if (stage.name, key) in draft.files:
                params[key.replace("-", "_")] = draft.files[(stage.name, key)]
        ctx = _context(draft, stage.name, params, pattern, patterns_of, data_of, fans)
        warnings.extend(render.warnings(pattern, ctx, stage.pos))
        given = stage.params.get("pending-timeout")
        pending = None if given is None else int(units.seconds(given))
        patch = stage.params.get("patch") or {}
        new_steps, step_errors = _steps(draft, stage.name, pattern, ctx, stage.pos, patch, pending)
        errors.extend(step_errors)
        steps.extend(new_steps)
    errors.extend(_step_id_clashes(draft, steps))
    diag.raise_if_errors(errors)
    return record.replace(draft, steps=tuple(steps), warnings=draft.warnings + tuple(warnings))


def _fanout_problems(draft: ir.Draft, stage: ir.Stage, data: container.Data) -> list[diag.Diagnostic]:
    """A list of items is handed to the pod by sh, which needs the command to run; ``parallel``
    bounds the pods of a stage that fans out, and means nothing elsewhere."""
    found = []
    if data.items and not data.shards and stage.params.get("command") is None:
        found.append(
            diag.error(
                "KC104",
                draft.doc.pos(("stages", stage.name, "each"), key=True),
                f"missing field 'command' in stage '{stage.name}': with 'each', kc runs it through /bin/sh "
                "to give each pod its item",
                "give the program to run as 'command' (the image's entrypoint cannot be wrapped)",
            )
        )
    parameters = draft.library[stage.pattern].manifest.parameters.values()
    fans_out = any(d.get("type") in ("items", "shards") for d in parameters)
    if fans_out and stage.params.get("parallel") is not None and not data.items:
        found.append(
            diag.error(
                "KC106",
                draft.doc.pos(("stages", stage.name, "parallel"), key=True),
                f"'parallel' in stage '{stage.name}', which does not fan out",
                "'parallel' bounds the pods of a stage with 'each' or 'shards'",
            )
        )
    return found


def _step_id_clashes(program: ir.Draft, steps: list[ir.Step]) -> list[diag.Diagnostic]:
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
