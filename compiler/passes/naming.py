"""naming: check every object's name, find duplicates, and record what each stage's
``${stage.name}``, ``${stage.host}``, ``${stage.port}``, ``${stage.url}`` and ``${stage.secret}`` (the
Secret whose values kc generates) resolve to."""

from __future__ import annotations

from kc.compiler import contract, ir
from kc.compiler import diagnostics as diag
from kc.schemas import record
from kc.schemas import types as t

# Job names are content-addressed later (seal), so a Job's name is no fact to refer to.
_UNNAMEABLE = ("Job",)


def _facts(program: ir.Draft, stage: ir.Stage, objects: list[ir.Object]) -> dict[str, str]:
    manifest = program.library[stage.pattern].manifest
    facts: dict[str, str] = {}
    main = next((o for o in objects if o.kind == manifest.main), objects[0] if objects else None)
    if main is not None and main.kind not in _UNNAMEABLE:
        facts["name"] = main.name
    generated = next((o for o in objects if o.kind == "Secret" and contract.GENERATE in _annotations(o)), None)
    if generated is not None:
        facts["secret"] = generated.name
    service = next((o for o in objects if o.kind == "Service" and manifest.service), None)
    if service is not None:
        facts["host"] = f"{service.name}.{program.namespace}.svc"
        ports = service.manifest["spec"].get("ports") or []
        if ports:
            facts["port"] = str(ports[0]["port"])
            facts["url"] = f"http://{facts['host']}:{facts['port']}"
    return facts


def _annotations(obj: ir.Object) -> dict[str, str]:
    return obj.manifest["metadata"].get("annotations") or {}


def naming(program: ir.Draft) -> ir.Draft:
    errors: list[diag.Diagnostic] = []
    seen: dict[tuple[str, str, str, str], ir.Object] = {}
    by_stage: dict[str, list[ir.Object]] = {}
    for obj in program.objects:
        by_stage.setdefault(obj.stage, []).append(obj)
        if not t.re_label.match(obj.name) and obj.kind != "CustomResourceDefinition":
            errors.append(diag.error("KC105", obj.pos, f"{obj.kind} name '{obj.name}' is not a valid name"))
        key = (obj.key[0].split("/")[0] if "/" in obj.key[0] else "", *obj.key[1:])
        if key in seen:
            errors.append(
                diag.error(
                    "KC209",
                    obj.pos,
                    f"{obj.kind} '{obj.name}' is produced twice",
                    f"also by stage '{seen[key].stage or 'workspace'}'",
                )
            )
        seen[key] = obj
    diag.raise_if_errors(errors)
    stages = tuple(record.replace(s, facts=_facts(program, s, by_stage.get(s.name, []))) for s in program.stages)
    return record.replace(program, stages=stages)
