"""references: resolve ``${stage.field}`` everywhere, turn each reference into a dependency and,
under ``network: isolated``, into the permission to reach the referenced stage's pods. Last, Jobs
get their content-addressed names, now that their content is final."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, names, source
from kc.compiler.diagnostics import Pos
from kc.compiler.passes import labels
from kc.compiler.patterns import registry, wiring

REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
FIELDS = ("host", "port", "url", "name")
PIPELINE_FIELDS = ("name", "namespace", "instance", "data")
NETWORK_FIELDS = ("host", "port", "url")


@dataclasses.dataclass(frozen=True)
class Ref:
    stage: str  # the stage that refers
    target: str
    field: str
    pos: Pos
    text: str


def _strings(value: Any, path: source.Path) -> Iterator[tuple[str, source.Path]]:
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))


def _column(doc: source.Document, pos: Pos, text: str, offset: int) -> Pos:
    """The reference's own column when its scalar sits on one line of the spec."""
    lines = doc.lines
    if pos.file != doc.file or not 0 < pos.line <= len(lines):
        return pos
    line = lines[pos.line - 1]
    start = pos.col - 1 + (1 if line[pos.col - 1 : pos.col] in ("'", '"') else 0)
    if line[start : start + len(text)] == text:
        return Pos(pos.file, pos.line, start + offset + 1)
    return pos


def _scan(program: ir.Program, stage: str, raw: dict[str, Any]) -> list[Ref]:
    doc = program.doc
    refs = []
    for key, value in raw.items():
        if key == "mounts" and isinstance(value, dict):
            for target in value:
                pos = doc.pos(("stages", stage, "mounts", target), key=True)
                refs.append(Ref(stage, target, "name", pos, f"mounts: {target}"))
            continue
        for text, path in _strings(value, ("stages", stage, key)):
            for match in REF.finditer(text):
                if match.group(1) is None:
                    continue
                pos = _column(doc, doc.pos(path), text, match.start())
                target, _, field = match.group(1).partition(".")
                refs.append(Ref(stage, target, field, pos, match.group(0)))
        if key == "env" and isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, dict) and "config" in item:
                    target = item["config"].split("/")[0]
                    if raw_pattern(program, target) == "config":
                        pos = doc.pos(("stages", stage, "env", name, "config"))
                        refs.append(Ref(stage, target, "name", pos, f"config: {item['config']}"))
    return refs


def raw_pattern(program: ir.Program, stage: str) -> str | None:
    raw = program.raw_stages.get(stage)
    return str(raw.get("pattern")) if isinstance(raw, dict) else None


def _check(program: ir.Program, ref: Ref, facts: dict[str, dict[str, str]]) -> diag.Diagnostic | None:
    if ref.target == "pipeline":
        if ref.field == "data" and program.spec is not None and program.spec.workspace.data is None:
            return _no_data_claim(ref.pos, f"{ref.text} names the pipeline's data claim")
        if ref.field in PIPELINE_FIELDS:
            return None
        return diag.error(
            "KC302",
            ref.pos,
            f"unknown field '{ref.field}' in {ref.text}",
            diag.did_you_mean(ref.field, PIPELINE_FIELDS) or f"pipeline has {', '.join(PIPELINE_FIELDS)}",
        )
    if ref.target not in facts:
        if ref.target in program.raw_stages:
            return diag.error("KC301", ref.pos, f"{ref.text} refers to stage '{ref.target}', which is disabled")
        return diag.error(
            "KC301",
            ref.pos,
            f"{ref.text} refers to unknown stage '{ref.target}'",
            diag.did_you_mean(ref.target, [*facts, "pipeline"]),
        )
    if ref.field not in facts[ref.target]:
        if ref.field in FIELDS:
            why = "its name carries a hash of its content" if ref.field == "name" else "it has no Service"
            return diag.error("KC302", ref.pos, f"{ref.text}: stage '{ref.target}' has no {ref.field}: {why}")
        return diag.error(
            "KC302",
            ref.pos,
            f"unknown field '{ref.field}' in {ref.text}",
            diag.did_you_mean(ref.field, FIELDS) or f"a stage has {', '.join(FIELDS)}",
        )
    return None


def unknown_targets(program: ir.Program) -> list[diag.Diagnostic]:
    """The reference errors that need no expanded stage: an unknown or disabled stage, an unknown
    field. Reported beside the errors of an earlier pass, so one run shows both."""
    facts = {
        name: dict.fromkeys(FIELDS, "")
        for name, raw in program.raw_stages.items()
        if not (isinstance(raw, dict) and raw.get("enabled") is False)
    }
    found: list[diag.Diagnostic] = []
    for stage, raw in program.raw_stages.items():
        if stage in facts and isinstance(raw, dict):
            found.extend(p for ref in _scan(program, stage, raw) if (p := _check(program, ref, facts)) is not None)
    return found


def _no_data_claim(pos: Pos, what: str) -> diag.Diagnostic:
    # Storage has a cost and outlives the pipeline (teardown keeps claims), so kc asks for its
    # size rather than inventing one.
    return diag.error(
        "KC303",
        pos,
        f"{what}, but the pipeline has none",
        "add one to the spec, e.g. 'workspace: {data: {size: 10Gi}}'",
    )


def _wires(program: ir.Program) -> tuple[dict[str, list[ir.Dep]], list[diag.Diagnostic]]:
    """Inputs wired to other stages' outputs (``output-ref`` parameters): each is a dependency
    on its producer, checked against the outputs the producer declares."""
    parameters = {s.name: registry.load(program.patterns[s.pattern]).manifest.parameters for s in program.stages}
    declared = {s.name: wiring.outputs(parameters[s.name], s.params) for s in program.stages}
    deps: dict[str, list[ir.Dep]] = {}
    errors: list[diag.Diagnostic] = []
    for stage in program.stages:
        for path, wire in wiring.wires(parameters[stage.name], stage.params):
            pos = program.doc.pos(("stages", stage.name, *path))
            target, _, output = wire.partition(".")
            if target == stage.name:
                errors.append(diag.error("KC203", pos, f"stage '{stage.name}' cannot read its own output '{output}'"))
            elif target not in declared:
                state = "which is disabled" if target in program.raw_stages else "which does not exist"
                hint = "" if target in program.raw_stages else diag.did_you_mean(target, declared)
                errors.append(diag.error("KC301", pos, f"input '{path[-1]}' reads stage '{target}', {state}", hint))
            elif output not in declared[target]:
                has = ", ".join(declared[target])
                hint = diag.did_you_mean(output, declared[target]) or (
                    f"'{target}' declares: {has}" if has else f"'{target}' declares no outputs"
                )
                errors.append(
                    diag.error("KC302", pos, f"input '{path[-1]}': stage '{target}' has no output '{output}'", hint)
                )
            else:
                deps.setdefault(stage.name, []).append(ir.Dep(target, pos, f"input {path[-1]} from {wire}", "input"))
    return deps, errors


def _substitute(value: Any, table: dict[str, str], missing: set[str]) -> Any:
    if isinstance(value, str):
        if "${" not in value:
            return value

        def replace(match: re.Match[str]) -> str:
            if match.group(1) is None:
                return "${"
            found = table.get(match.group(1))
            if found is None:
                missing.add(match.group(0))
                return match.group(0)
            return found

        return REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _substitute(v, table, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, table, missing) for v in value]
    return value


def _network_policies(program: ir.Program, refs: list[Ref]) -> list[ir.Object]:
    assert program.spec is not None
    if program.spec.workspace.network != "isolated":
        return []
    callers: dict[str, list[str]] = {}
    for ref in refs:
        if ref.field in NETWORK_FIELDS and ref.target != "pipeline" and ref.target != ref.stage:
            callers.setdefault(ref.target, [])
            if ref.stage not in callers[ref.target]:
                callers[ref.target].append(ref.stage)
    out = []
    exposed = {o.stage for o in program.objects if o.kind == "Ingress"}
    for stage in program.stages:
        if "host" not in stage.facts:
            continue
        selector = labels.selector(stage.name, program.instance)
        peers = [stage.name, *callers.get(stage.name, [])]
        rules: list[dict[str, Any]] = [
            {
                "from": [
                    {
                        "podSelector": {"matchLabels": labels.selector(p, program.instance)}
                    }
                    for p in peers
                ]
            }
        ]
        if stage.name in exposed:
            # An ingress controller runs in a namespace of its own.
            rules.append(
                {
                    "from": [{"namespaceSelector": {}}],
                    "ports": [{"port": int(stage.facts["port"]), "protocol": "TCP"}],
                }
            )
        manifest = {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {
                "name": names.object_name(program.instance, stage.name, "ingress"),
                "namespace": program.namespace,
                "labels": labels.stage_labels(program, stage),
            },
            "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": ["Ingress"], "ingress": rules},
        }
        out.append(ir.Object(manifest, stage.name, "workspace", stage.pos))
    return out


def _seal_job(obj: ir.Object) -> ir.Object:
    manifest = obj.manifest
    content = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
    name = names.job_name(obj.name, names.digest(content))
    return dataclasses.replace(obj, manifest={**manifest, "metadata": {**manifest["metadata"], "name": name}})


def references(program: ir.Program) -> ir.Program:
    assert program.spec is not None
    facts = {s.name: s.facts for s in program.stages}
    table = {
        f"pipeline.{k}": v
        for k, v in (
            ("name", program.spec.pipeline),
            ("namespace", program.namespace),
            ("instance", program.instance),
        )
    }
    if program.spec.workspace.data is not None:
        table["pipeline.data"] = names.object_name(program.instance, "", "data")
    table.update({f"{s}.{f}": v for s, fs in facts.items() for f, v in fs.items()})
    errors: list[diag.Diagnostic] = []
    refs: list[Ref] = []
    for stage in program.stages:
        for ref in _scan(program, stage.name, program.raw_stages[stage.name]):
            problem = _check(program, ref, facts)
            if problem is not None:
                errors.append(problem)
            else:
                refs.append(ref)
    deps, wire_errors = _wires(program)
    errors.extend(wire_errors)
    diag.raise_if_errors(errors)
    for ref in refs:
        if ref.target not in ("pipeline", ref.stage) and ref.target in facts:
            deps.setdefault(ref.stage, []).append(ir.Dep(ref.target, ref.pos, f"reference {ref.text}", "reference"))
    stages = tuple(dataclasses.replace(s, deps=s.deps + tuple(deps.get(s.name, ()))) for s in program.stages)
    by_name = {s.name: s for s in stages}
    steps = []
    policies = _network_policies(dataclasses.replace(program, stages=stages), refs)
    for step in program.steps:
        objects = []
        for obj in step.objects:
            missing: set[str] = set()
            obj = dataclasses.replace(obj, manifest=_substitute(obj.manifest, table, missing))
            errors.extend(
                _no_data_claim(obj.pos, f"stage '{obj.stage}' uses the pipeline's data claim")
                if text == "${pipeline.data}"
                else diag.error(
                    "KC301",
                    obj.pos,
                    f"{text} in stage '{obj.stage}' cannot be resolved",
                    "write $${ for a literal ${",
                )
                for text in sorted(missing)
            )
            objects.append(_seal_job(obj) if obj.kind == "Job" else obj)
        if not step.stage:  # the workspace
            objects.extend(policies)
        step_deps = by_name[step.stage].deps if step.id == step.stage else step.deps
        steps.append(dataclasses.replace(step, objects=tuple(objects), deps=step_deps))
    diag.raise_if_errors(errors)
    return dataclasses.replace(program, stages=stages, steps=tuple(steps))
