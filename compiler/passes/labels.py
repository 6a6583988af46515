"""labels: the recommended ``app.kubernetes.io`` labels and kc's own on every object, its pod
templates and its claim templates. Ownership and selectors rest on kc's own ``kc.dev/`` labels
only: other tools rewrite the recommended ones (Argo CD sets ``app.kubernetes.io/instance`` to its
application's name), and a selector, once applied, cannot change.
https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/"""

from __future__ import annotations

from typing import Any

from kc.compiler import ir, pods
from kc.compiler.contract import INSTANCE, MANAGED_BY, OWNER, PIPELINE, STAGE
from kc.schemas import record


def selector(stage: str, instance: str) -> dict[str, str]:
    """What a stage's workloads, Services and budgets select its pods by."""
    return {OWNER: instance, STAGE: stage}


def stage_labels(program: ir.Draft, stage: ir.Stage | None) -> dict[str, str]:
    labels = {
        "app.kubernetes.io/name": stage.name if stage else program.instance,
        INSTANCE: program.instance,
        "app.kubernetes.io/component": stage.pattern if stage else "workspace",
        "app.kubernetes.io/part-of": program.spec.pipeline,
        MANAGED_BY: "kc",
        PIPELINE: program.spec.pipeline,
        STAGE: stage.name if stage else "workspace",
        OWNER: program.instance,
    }
    # User labels first: kc's own keys are what ownership rests on, so they win.
    return {**program.spec.workspace.labels, **(stage.params.get("labels", {}) if stage else {}), **labels}


def _labelled(meta: dict[str, Any] | None, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    out = dict(meta or {})
    out["labels"] = {**(out.get("labels") or {}), **labels}
    if annotations:
        out["annotations"] = {**annotations, **(out.get("annotations") or {})}
    return out


def _label_object(manifest: dict[str, Any], labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    out = dict(manifest)
    out["metadata"] = _labelled(manifest["metadata"], labels, annotations)
    spec = out.get("spec")
    if not isinstance(spec, dict):
        return out
    spec = out["spec"] = dict(spec)
    at = pods.template_at(manifest)
    if at == "spec.jobTemplate.spec.template" and "jobTemplate" in spec:
        job_template = spec["jobTemplate"] = dict(spec["jobTemplate"])
        job_template["metadata"] = _labelled(job_template.get("metadata"), labels, {})
        job_spec = job_template["spec"] = dict(job_template["spec"])
        job_spec["template"] = dict(job_spec["template"])
        job_spec["template"]["metadata"] = _labelled(job_spec["template"].get("metadata"), labels, {})
    elif at == "spec.template" and "template" in spec:
        # The pods must keep matching the workload's selector, so the keys it selects on keep their
        # values: a manifest of the user's may select on app.kubernetes.io/name with its own value.
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        pod_labels = {k: v for k, v in labels.items() if k not in selector}
        spec["template"] = dict(spec["template"])
        spec["template"]["metadata"] = _labelled(spec["template"].get("metadata"), pod_labels, {})
    if "volumeClaimTemplates" in spec:
        spec["volumeClaimTemplates"] = [
            {**claim, "metadata": _labelled(claim.get("metadata"), labels, {})}
            for claim in spec["volumeClaimTemplates"]
        ]
    return out


def labels(program: ir.Draft) -> ir.Draft:
    stages = {s.name: s for s in program.stages}
    steps = []
    for step in program.steps:
        stage = stages.get(step.stage)
        common = stage_labels(program, stage)
        annotations = {
            **program.spec.workspace.annotations,
            **(stage.params.get("annotations", {}) if stage else {}),
        }
        objects = tuple(
            record.replace(o, manifest=_label_object(o.manifest, common, annotations)) for o in step.objects
        )
        steps.append(record.replace(step, objects=objects))
    return record.replace(program, steps=tuple(steps))
