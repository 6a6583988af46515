"""policy: the guard-rails of docs/language.md (Policy), checked on the objects as they will be applied (after
patches), each violation an error at the spec line that caused it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import egress, ir, kinds, pods, podsecurity
from kc.compiler.diagnostics import Pos
from kc.schemas import egress as egress_schema
from kc.schemas import spec as spec_schema


class _Blame:
    """Where to point for a value: the patch that set it, the stage field, or the stage."""

    def __init__(self, program: ir.Draft, stage: str) -> None:
        self.program = program
        self.stage = stage
        raw = program.raw_stages.get(stage, {}) if stage else {}
        self.patch: dict[str, Any] = raw.get("patch") or {}

    def __call__(self, kind: str, needle: str, *param: str | int) -> Pos:
        doc = self.program.doc
        if kind in self.patch and f'"{needle}"' in json.dumps(self.patch[kind]):
            return doc.pos(("stages", self.stage, "patch", kind), key=True)
        if not self.stage:
            return doc.pos(("workspace",))
        path = ("stages", self.stage, *param)
        return doc.pos(path) if path in doc.values else doc.pos(("stages", self.stage), key=True)


# The Pod Security Standards' rules, by the policy key that relaxes them (podsecurity.py).
_CODES = {
    "allow_privileged": "KC404",
    "allow_host_paths": "KC405",
    "allow_root": "KC411",
    "allow_unconfined": "KC412",
    "allow_volume_types": "KC413",
}


def _image_ok(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and last.rsplit(":", 1)[1] != "latest"


def _check_pod(
    obj: ir.Object, spec: dict[str, Any], policy: spec_schema.Policy, blame: _Blame
) -> Iterator[diag.Diagnostic]:
    kind = obj.kind
    for c in pods.containers(spec):
        image = str(c.get("image", ""))
        if not policy.allow_latest_tag and not _image_ok(image):
            yield diag.error(
                "KC403",
                blame(kind, "image", "image"),
                f"image '{image}' has no pinned tag (policy allow-latest-tag is false)",
                "give a version tag such as ':1.4.2', or a digest",
            )
    seen: set[tuple[str, str]] = set()
    for key, field, problem in podsecurity.violations(spec):
        if not getattr(policy, key) and (key, problem) not in seen:  # init and app containers alike
            seen.add((key, problem))
            message = f"{kind} '{obj.name}': {problem} (policy {key.replace('_', '-')} is false)"
            yield diag.error(_CODES[key], blame(kind, field), message)


def _check(obj: ir.Object, policy: spec_schema.Policy, blame: _Blame) -> Iterator[diag.Diagnostic]:
    kind, spec = obj.kind, obj.manifest.get("spec") or {}
    retention = spec.get("persistentVolumeClaimRetentionPolicy") if kind == "StatefulSet" else None
    if policy.data == "retain" and isinstance(retention, dict) and "Delete" in retention.values():
        # Its claims would go with it (or with a scale-down), whatever teardown keeps.
        yield diag.error(
            "KC409",
            blame(kind, "persistentVolumeClaimRetentionPolicy"),
            f"StatefulSet '{obj.name}' deletes its claims (persistentVolumeClaimRetentionPolicy); "
            "policy data is retain",
            "keep Retain, or set policy data: delete",
        )
    replicas = (
        spec.get("maxReplicas")
        if kind == "HorizontalPodAutoscaler"
        else (spec.get("replicas") if kinds.long_running(kind) else None)
    )
    if isinstance(replicas, int) and replicas > policy.max_replicas:
        where = ("autoscale", "max") if kind == "HorizontalPodAutoscaler" else ("replicas",)
        yield diag.error(
            "KC401",
            blame(kind, "maxReplicas" if where[0] == "autoscale" else "replicas", *where),
            f"{kind} '{obj.name}' asks for {replicas} replicas; policy max-replicas is {policy.max_replicas}",
        )
    job = spec.get("jobTemplate", {}).get("spec", {}) if kind == "CronJob" else spec if kind == "Job" else {}
    parallelism = job.get("parallelism")
    if isinstance(parallelism, int) and parallelism > policy.max_parallelism:
        yield diag.error(
            "KC402",
            blame(kind, "parallelism", "parallelism"),
            f"{kind} '{obj.name}' runs {parallelism} pods at once; policy max-parallelism is {policy.max_parallelism}",
        )
    for pod_spec in pods.specs(obj.manifest):
        yield from _check_pod(obj, pod_spec, policy, blame)


def _egress_entries(program: ir.Draft) -> Iterator[tuple[Pos, str]]:
    """Every egress entry of the spec (the workspace's, then each stage's), with its position."""
    if program.spec.workspace.network != "isolated":
        return  # nothing is isolated, so nothing is opened
    doc = program.doc
    for index, text in enumerate(program.spec.workspace.egress):
        yield doc.pos(("workspace", "egress", index)), text
    for stage in program.stages:
        for index, text in enumerate(stage.params.get("egress") or []):
            yield doc.pos(("stages", stage.name, "egress", index)), text


def _check_egress(program: ir.Draft, rules: spec_schema.Policy) -> Iterator[diag.Diagnostic]:
    """Each destination against ``allow-egress-anywhere`` and ``egress-cidrs``: a host name, ``*``
    and the API server wherever it is reach every address (0.0.0.0/0 and ::/0)."""
    for pos, text in _egress_entries(program):
        for dest in egress.destinations([text], rules):
            anywhere = dest.networks == egress_schema.EVERYWHERE
            if anywhere and not rules.allow_egress_anywhere:
                why = "every address" + ("" if dest.kind == "any" else f" on port {dest.port}")
                hint = (
                    "name the API server's address in the policy's api-server (10.0.0.1:6443)"
                    if text == egress_schema.API_SERVER
                    else "name the network instead: 'CIDR:PORT' (10.20.0.0/16:443)"
                )
                yield diag.error(
                    "KC415", pos, f"egress '{text}' reaches {why} (policy allow-egress-anywhere is false)", hint
                )
                break
            allowed = rules.egress_cidrs
            outside = [n for n in dest.networks if allowed is not None and not egress_schema.within(n, allowed)]
            if outside:
                yield diag.error(
                    "KC415",
                    pos,
                    f"egress '{text}' reaches {', '.join(outside)}, outside the policy's egress-cidrs",
                    f"egress-cidrs: {', '.join(allowed or []) or 'none'}",
                )
                break


def policy(program: ir.Draft) -> ir.Draft:
    rules = program.policy
    assert rules is not None
    errors: list[diag.Diagnostic] = []
    blames: dict[str, _Blame] = {}
    for obj in program.objects:
        blame = blames.setdefault(obj.stage, _Blame(program, obj.stage))
        errors.extend(_check(obj, rules, blame))
    errors.extend(_check_egress(program, rules))
    if rules.require_health:
        errors.extend(_without_health(program))
    diag.raise_if_errors(errors)
    return program


def _without_health(program: ir.Draft) -> Iterator[diag.Diagnostic]:
    """require-health: every long-running stage says how it is checked. A stage of a pattern that
    leaves ``health`` out (the databases) is checked by the pattern's own probes, which count
    when every one of its workloads' pods has a readiness probe."""
    workloads: dict[str, list[ir.Object]] = {}
    for obj in program.objects:
        if kinds.long_running(obj.kind):
            workloads.setdefault(obj.stage, []).append(obj)
    for stage in program.stages:
        if not workloads.get(stage.name) or stage.params.get("health") or "image" not in stage.params:
            continue
        if "health" in program.library[stage.pattern].manifest.omit and all(
            any("readinessProbe" in c for c in pods.containers(spec))
            for obj in workloads[stage.name]
            for spec in pods.specs(obj.manifest)
        ):
            continue
        yield diag.error(
            "KC406",
            stage.pos,
            f"stage '{stage.name}' has no 'health' (policy require-health is true)",
            "a path ('health: /healthz', on the port) or a command ('health: {command: [...]}')",
        )
