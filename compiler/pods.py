"""Where the pods are in the objects kc emits: their templates, specs and containers."""

from __future__ import annotations

from collections.abc import Iterator
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
