"""Where the pods are in the objects kc emits: their templates, specs and containers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kc.compiler import kinds


def template_at(manifest: dict[str, Any]) -> kinds.PodTemplate | None:
    """Where ``manifest`` keeps its pods, by its kind's row."""
    kind = manifest.get("kind")
    # A patch can make the kind any value; only a name can have a row.
    return kinds.pod_template(kind) if isinstance(kind, str) else None


def templates(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pod templates ({metadata, spec}) of a workload, or the pod itself."""
    at = template_at(manifest)
    spec = manifest.get("spec") or {}
    if at == "spec.template" and "template" in spec:
        yield spec["template"]
    elif at == "spec.jobTemplate.spec.template":
        job = spec.get("jobTemplate", {}).get("spec", {})
        if "template" in job:
            yield job["template"]
    elif at == "object":
        yield manifest


def specs(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for template in templates(manifest):
        if isinstance(template.get("spec"), dict):
            yield template["spec"]


def containers(pod_spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers"):
        yield from pod_spec.get(key) or ()


PodSpecChange = Callable[[dict[str, Any]], dict[str, Any]]


def map_specs(manifest: dict[str, Any], change: PodSpecChange) -> dict[str, Any]:
    """A copy of ``manifest`` with each pod spec replaced by ``change(spec)``; only the dicts on
    the way to a pod spec are copied, the rest is shared."""
    at = template_at(manifest)
    spec = manifest.get("spec") or {}

    def in_template(template: dict[str, Any]) -> dict[str, Any]:
        return {**template, "spec": change(template["spec"])}

    if at == "spec.template" and "template" in spec:
        return {**manifest, "spec": {**spec, "template": in_template(spec["template"])}}
    if at == "spec.jobTemplate.spec.template" and "template" in spec.get("jobTemplate", {}).get("spec", {}):
        job = spec["jobTemplate"]
        new_job = {**job, "spec": {**job["spec"], "template": in_template(job["spec"]["template"])}}
        return {**manifest, "spec": {**spec, "jobTemplate": new_job}}
    if at == "object" and spec:
        return {**manifest, "spec": change(spec)}
    return manifest


def _mappings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def shape_problem(manifest: dict[str, Any]) -> str | None:
    """What makes an object unusable by the passes after ``patterns`` (which a patch or a raw
    manifest can cause), or None. Everything else is left to the API server's validation."""
    meta = manifest.get("metadata")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        return "metadata.name must be text"
    for key in ("labels", "annotations"):
        if not isinstance(meta.get(key, {}), dict):
            return f"metadata.{key} must be a mapping"
    if not isinstance(manifest.get("spec", {}), dict):
        return "spec must be a mapping"
    spec = manifest.get("spec") or {}
    at = template_at(manifest)
    if at == "spec.jobTemplate.spec.template" and "jobTemplate" in spec:
        job = spec["jobTemplate"]
        if not isinstance(job, dict) or not isinstance(job.get("spec"), dict):
            return "spec.jobTemplate.spec must be a mapping"
        spec = job["spec"]
    if at in ("spec.template", "spec.jobTemplate.spec.template") and "template" in spec:
        template = spec["template"]
        if not isinstance(template, dict) or not isinstance(template.get("spec"), dict):
            return "the pod template's spec must be a mapping"
        if not isinstance(template.get("metadata", {}), dict):
            return "the pod template's metadata must be a mapping"
    for pod in specs(manifest):
        for key in ("initContainers", "containers", "volumes"):
            if not _mappings(pod.get(key, [])):
                return f"the pod's {key} must be a list of mappings"
    return None
