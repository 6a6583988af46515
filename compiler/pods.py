"""Where the pods are in the objects kc emits: their templates, specs and containers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def templates(manifest: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pod templates ({metadata, spec}) of a workload, or the pod itself."""
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}
    if kind in WORKLOADS and "template" in spec:
        yield spec["template"]
    elif kind == "CronJob":
        job = spec.get("jobTemplate", {}).get("spec", {})
        if "template" in job:
            yield job["template"]
    elif kind == "Pod":
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
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}

    def in_template(template: dict[str, Any]) -> dict[str, Any]:
        return {**template, "spec": change(template["spec"])}

    if kind in WORKLOADS and "template" in spec:
        return {**manifest, "spec": {**spec, "template": in_template(spec["template"])}}
    if kind == "CronJob" and "template" in spec.get("jobTemplate", {}).get("spec", {}):
        job = spec["jobTemplate"]
        new_job = {**job, "spec": {**job["spec"], "template": in_template(job["spec"]["template"])}}
        return {**manifest, "spec": {**spec, "jobTemplate": new_job}}
    if kind == "Pod" and spec:
        return {**manifest, "spec": change(spec)}
    return manifest
