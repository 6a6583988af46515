"""dependencies: every edge of the stage graph, in one place. A stage comes after the stages its
``after`` names, after the one before it under ``flow: sequential``, after the stages whose
outputs its inputs read, and after the stages a ``${stage.field}`` reference (or a mount, or a
config env entry) names, unless both run for good; each of a stage's later steps comes after the
one before it. References and inputs are checked here, since each names something that must exist.

A reference between two long-running stages (a service calling a database, two services calling
each other) only wires a name and a network permission: such programs retry their connections,
and an edge would make services that call each other a cycle. A stage that runs to completion
(a job, a task, a cron job's runs) is ordered after what it refers to, since it gets one chance
at it, and every stage is ordered after a run-to-completion stage, a claim, a config or a
generated Secret (``{secret: stage/key}``, its own kind of edge) it refers to, since it needs
that to exist or to have finished (docs/language.md, Dependencies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, kinds, source
from kc.compiler.diagnostics import Pos
from kc.compiler.passes import references
from kc.compiler.passes.stages import enabled
from kc.compiler.patterns import wiring
from kc.schemas import record
from kc.schemas.record import Record

FIELDS = ("host", "port", "url", "name", "secret")
# References that need the object to exist before the referring pod starts: they always order.
_EXISTENCE = ("mounts:", "config:", "secret:")
PIPELINE_FIELDS = ("name", "namespace", "instance", "data")
ITEM = "item"  # ${item}: a fanned-out stage's item


class Ref(Record, kw_only=False):
    stage: str  # the stage that refers
    target: str
    field: str
    pos: Pos
    text: str
    key: str = ""  # the stage's field it sits in


# Where the kubelet expands the variables that ${item} and ${stage.results.name} become.
_EXPANDED = ("command", "args", "env")


def _templated(value: Any, path: source.Path) -> Iterator[tuple[str, source.Path]]:
    """Each string in ``value`` that holds a ``${``, with its path; the rest is passed over."""
    if isinstance(value, str):
        if "${" in value:
            yield value, path
    elif isinstance(value, dict | list):
        for k, v in value.items() if isinstance(value, dict) else enumerate(value):
            if isinstance(v, dict | list) or (isinstance(v, str) and "${" in v):
                yield from _templated(v, (*path, k))


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


def scan(program: ir.Draft, stage: str, raw: dict[str, Any]) -> list[Ref]:
    """Every reference the stage's text makes (``${…}``, mounts, config and secret entries)."""
    doc = program.doc
    refs = []
    for key, value in raw.items():
        if key == "mounts" and isinstance(value, dict):
            for target in value:
                pos = doc.pos(("stages", stage, "mounts", target), key=True)
                refs.append(Ref(stage, target, "name", pos, f"mounts: {target}"))
            continue
        for text, path in _templated(value, ("stages", stage, key)):
            for match in references.REF.finditer(text):
                if match.group(1) is None:
                    continue
                pos = _column(doc, doc.pos(path), text, match.start())
                target, _, field = match.group(1).partition(".")
                refs.append(Ref(stage, target, field, pos, match.group(0), key))
        if key == "env" and isinstance(value, dict):
            for name, item in value.items():
                if isinstance(item, dict) and "config" in item:
                    target = item["config"].split("/")[0]
                    if raw_pattern(program, target) == "config":
                        pos = doc.pos(("stages", stage, "env", name, "config"))
                        refs.append(Ref(stage, target, "name", pos, f"config: {item['config']}"))
                elif isinstance(item, dict) and isinstance(item.get("secret"), str):
                    target = item["secret"].split("/")[0]
                    if target in program.raw_stages:  # a stage's generated Secret
                        pos = doc.pos(("stages", stage, "env", name, "secret"))
                        refs.append(Ref(stage, target, "secret", pos, f"secret: {item['secret']}"))
    return refs


def raw_pattern(program: ir.Draft, stage: str) -> str | None:
    raw = program.raw_stages.get(stage)
    return str(raw.get("pattern")) if isinstance(raw, dict) else None


def _declared(program: ir.Draft, stage: str) -> tuple[list[str], bool]:
    """The results a stage declares, and whether it fans out, from its parameters' types."""
    raw = program.raw_stages.get(stage)
    pattern = program.library.get(str(raw.get("pattern"))) if isinstance(raw, dict) else None
    if pattern is None or not isinstance(raw, dict):
        return [], False
    parameters = pattern.manifest.parameters
    declared = raw.get("results")
    names = wiring.results(parameters, raw) if isinstance(declared, list) else []
    try:
        fans = wiring.items(parameters, raw) is not None
    except TypeError:  # a value of the wrong type, which the stage's own check reports
        fans = False
    return names, fans


def _check_item(program: ir.Draft, ref: Ref) -> diag.Diagnostic | None:
    if ref.field:
        return diag.error("KC302", ref.pos, f"{ref.text}: ${{item}} has no fields", "write ${item}")
    if not _declared(program, ref.stage)[1]:
        return diag.error(
            "KC301",
            ref.pos,
            f"${{item}} in stage '{ref.stage}', which does not fan out",
            "give the stage 'each: [a, b, …]' or 'shards: N'",
        )
    if ref.key not in _EXPANDED:
        return diag.error("KC302", ref.pos, f"${{item}} in '{ref.key}': an item is known in command, args and env")
    return None


def _check_result(program: ir.Draft, ref: Ref) -> diag.Diagnostic | None:
    name = ref.field.partition(".")[2]
    if ref.key not in _EXPANDED:
        return diag.error("KC302", ref.pos, f"{ref.text} in '{ref.key}': a result is read in command, args and env")
    declared, _ = _declared(program, ref.target)
    if name not in declared:
        hint = diag.did_you_mean(name, declared) or f"add 'results: [{name or 'NAME'}]' to stage '{ref.target}'"
        return diag.error("KC302", ref.pos, f"{ref.text}: stage '{ref.target}' declares no result '{name}'", hint)
    return None


def _check(program: ir.Draft, ref: Ref, facts: dict[str, dict[str, str]]) -> diag.Diagnostic | None:
    if ref.target == ITEM:  # a reserved stage name
        return _check_item(program, ref)
    if ref.target in facts and (ref.field == "results" or ref.field.startswith("results.")):
        return _check_result(program, ref)
    if ref.target == "params":  # left only where the parameters pass has not run yet, or failed
        declared = program.spec.params
        return None if ref.field in declared else references.unknown_param(ref.text, ref.field, ref.pos, declared)
    if ref.target == "pipeline":
        if ref.field == "data" and program.spec.workspace.data is None:
            return references.no_data_claim(ref.pos, f"{ref.text} names the pipeline's data claim")
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
            diag.did_you_mean(ref.target, [*facts, "pipeline", "params"]),
        )
    if ref.field not in facts[ref.target]:
        if ref.field == "secret":
            hint = "a secret stage generates one, and postgres without password-secret"
            return diag.error("KC302", ref.pos, f"{ref.text}: stage '{ref.target}' generates no Secret", hint)
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


def unknown_targets(program: ir.Draft) -> list[diag.Diagnostic]:
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
            found.extend(p for ref in scan(program, stage, raw) if (p := _check(program, ref, facts)) is not None)
    return found


def _wires(program: ir.Draft) -> tuple[dict[str, list[ir.Dep]], list[diag.Diagnostic]]:
    """Inputs wired to other stages' outputs (``output-ref`` parameters): each is a dependency
    on its producer, checked against the outputs the producer declares."""
    parameters = {s.name: program.library[s.pattern].manifest.parameters for s in program.stages}
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


def _references(draft: ir.Draft) -> tuple[list[Ref], list[diag.Diagnostic]]:
    """Every reference the stages make, and the errors of those that name nothing."""
    facts = {s.name: s.facts for s in draft.stages}
    refs: list[Ref] = []
    errors: list[diag.Diagnostic] = []
    for stage in draft.stages:
        for ref in scan(draft, stage.name, draft.raw_stages[stage.name]):
            problem = _check(draft, ref, facts)
            if problem is None:
                refs.append(ref)
            else:
                errors.append(problem)
    return refs, errors


def _after(draft: ir.Draft, stage: ir.Stage, on: set[str]) -> Iterator[ir.Dep]:
    after = stage.params.get("after") or []
    for index, target in enumerate([after] if isinstance(after, str) else after):
        path = ("stages", stage.name, "after") + (() if isinstance(after, str) else (index,))
        if target in on:  # a dependency on a disabled stage is dropped with it
            yield ir.Dep(target, draft.doc.pos(path), "after", "after")


def _long_running(draft: ir.Draft) -> set[str]:
    mains = {s.name: draft.library[s.pattern].manifest.main for s in draft.stages}
    return {name for name, main in mains.items() if main is not None and kinds.long_running(main)}


def _stage_deps(draft: ir.Draft, refs: list[Ref], inputs: dict[str, list[ir.Dep]]) -> dict[str, tuple[ir.Dep, ...]]:
    on, serving = enabled(draft), _long_running(draft)
    referenced: dict[str, list[ir.Dep]] = {}
    for r in refs:
        ordering = r.text.startswith(_EXISTENCE) or not {r.stage, r.target} <= serving
        if r.target not in ("pipeline", ITEM, r.stage) and ordering:
            if r.field.startswith("results."):
                dep = ir.Dep(r.target, r.pos, f"result {r.text}", "result")
            elif r.text.startswith("secret:"):  # its own kind: it orders even between two services
                dep = ir.Dep(r.target, r.pos, r.text, "secret")
            else:
                dep = ir.Dep(r.target, r.pos, f"reference {r.text}", "reference")
            referenced.setdefault(r.stage, []).append(dep)
    out: dict[str, tuple[ir.Dep, ...]] = {}
    previous: str | None = None
    for stage in draft.stages:
        deps = list(_after(draft, stage, on))
        if draft.spec.flow == "sequential" and previous is not None:
            deps.append(ir.Dep(previous, stage.pos, "flow: sequential", "flow"))
        previous = stage.name
        deps += inputs.get(stage.name, []) + referenced.get(stage.name, [])
        out[stage.name] = tuple(deps)
    return out


def _finally(draft: ir.Draft, deps: dict[str, tuple[ir.Dep, ...]]) -> list[diag.Diagnostic]:
    """A finally step (``when:``) comes after every other stage: after each one no other stage
    waits for, which orders it after the rest. No other stage may wait for a finally step, which
    runs once the pipeline has finished or failed."""
    final = {}
    for stage in draft.stages:
        when = wiring.when(draft.library[stage.pattern].manifest.parameters, stage.params)
        if when is not None:
            final[stage.name] = when
    if not final:
        return []
    errors = [
        diag.error(
            "KC213",
            dep.pos,
            f"stage '{name}' waits for '{dep.target}' ({dep.why}), a finally step that runs once the "
            f"pipeline has {'finished' if final[dep.target] == 'always' else 'failed'}",
            f"a finally step comes after every other stage; give '{name}' 'when' too, or drop the dependency",
        )
        for name, own in deps.items()
        if name not in final
        for dep in own
        if dep.target in final
    ]
    waited_for = {d.target for name, own in deps.items() if name not in final for d in own}
    last = [s.name for s in draft.stages if s.name not in final and s.name not in waited_for]
    for name, when in final.items():
        pos = draft.doc.pos(("stages", name, "when"))
        deps[name] += tuple(ir.Dep(stage, pos, f"when: {when}", "finally") for stage in last)
    return errors


def dependencies(draft: ir.Draft) -> ir.Draft:
    refs, errors = _references(draft)
    inputs, wire_errors = _wires(draft)
    diag.raise_if_errors(errors + wire_errors)
    deps = _stage_deps(draft, refs, inputs)
    diag.raise_if_errors(_finally(draft, deps))
    pos = {s.name: s.pos for s in draft.stages}
    steps: list[ir.Step] = []
    for step in draft.steps:
        if not step.stage:  # the workspace
            step_deps: tuple[ir.Dep, ...] = ()
        elif step.id == step.stage:
            step_deps = deps[step.stage]
        else:  # a stage's later step waits for the one before it
            step_deps = (ir.Dep(steps[-1].id, pos[step.stage], "previous step", "step"),)
        steps.append(record.replace(step, deps=step_deps))
    reads: dict[str, list[tuple[str, str]]] = {}
    for ref in refs:
        if ref.target != ITEM:
            reads.setdefault(ref.stage, []).append((ref.target, ref.field))
    stages = tuple(record.replace(s, deps=deps[s.name], reads=tuple(reads.get(s.name, ()))) for s in draft.stages)
    return record.replace(draft, stages=stages, steps=tuple(steps))
