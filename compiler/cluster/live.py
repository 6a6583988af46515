"""The pipeline's objects in the cluster, found by its ownership labels: one LIST per kind and
namespace, never one request per object (docs/cluster.md).

Each compiled object then has a live twin (kc's, labelled), a conflict (an object of that name
that is not this instance's), or nothing yet. A labelled live object that kc applied (it carries
``kc.dev/source``) and that the plan no longer has is an orphan; objects that controllers made
from kc's templates (Pods, ReplicaSets, a StatefulSet's claims, a CronJob's Jobs) carry the
labels too but not the annotation, or have a controlling owner, and are never orphans.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kc.cluster import client as cluster_client
from kc.compiler import contract, ir, kinds

Key = tuple[str, str, str, str]  # API group, kind, namespace ("" if cluster-scoped), name


def key_of(manifest: dict[str, Any]) -> Key:
    meta = manifest.get("metadata") or {}
    group = str(manifest.get("apiVersion", "")).rpartition("/")[0]
    return (group, str(manifest.get("kind")), str(meta.get("namespace") or ""), str(meta.get("name")))


def applied_by_kc(manifest: dict[str, Any]) -> bool:
    """Whether kc (or ``kubectl apply`` of kc's output) wrote this object, rather than a
    controller making it from one of kc's templates."""
    meta = manifest.get("metadata") or {}
    controlled = any(ref.get("controller") for ref in meta.get("ownerReferences") or [])
    return contract.SOURCE in (meta.get("annotations") or {}) and not controlled


def _conflict_reason(manifest: dict[str, Any], instance: str) -> str:
    found = (manifest.get("metadata") or {}).get("labels") or {}
    if found.get(contract.OWNER):
        return f"it belongs to kc instance '{found[contract.OWNER]}', not '{instance}'"
    if found.get(contract.MANAGED_BY):
        return f"it is managed by '{found[contract.MANAGED_BY]}', not by kc"
    return "it exists and kc did not create it (it lacks the pipeline's labels)"


@dataclass
class Live:
    twins: dict[Key, dict[str, Any]] = field(default_factory=dict)  # plan object -> its live twin
    conflicts: dict[Key, tuple[dict[str, Any], str]] = field(default_factory=dict)  # -> (live, why)
    orphans: list[dict[str, Any]] = field(default_factory=list)  # in listing order
    kinds: dict[tuple[str, str], cluster_client.Kind] = field(default_factory=dict)  # (apiVersion, kind)

    def kind_of(self, manifest: dict[str, Any]) -> cluster_client.Kind | None:
        return self.kinds.get((str(manifest["apiVersion"]), str(manifest["kind"])))


def observe(client: cluster_client.Client, objects: Iterable[ir.Object], instance: str, namespace: str) -> Live:
    """What the cluster holds of the plan ``objects`` of ``instance``, and its orphans."""
    planned = {key_of(o.manifest): o for o in objects}
    wanted: dict[tuple[str, str], None] = {}
    for obj in planned.values():
        wanted[(str(obj.manifest["apiVersion"]), obj.kind)] = None
    # Kinds kc's patterns write are listed even when the plan has none of them, so that the
    # orphans of a stage that was removed are found.
    for api_version, kind in kinds.listed():
        if not any(k == kind and v.rpartition("/")[0] == api_version.rpartition("/")[0] for v, k in wanted):
            wanted[(api_version, kind)] = None
    namespaces = sorted({namespace} | {o.namespace for o in planned.values() if o.namespace})
    out = Live()
    found: dict[Key, dict[str, Any]] = {}
    for api_version, kind in wanted:
        served = client.kind(api_version, kind)
        if served is None:
            continue  # e.g. a custom resource whose definition this plan creates
        out.kinds[(api_version, kind)] = served
        for ns in namespaces if served.namespaced else [None]:
            for item in client.list(served, ns, contract.ownership_text(instance)):
                found[key_of(item)] = item
    # A namespace that does not exist holds nothing, so nothing in it needs looking up by name.
    ns_kind = out.kinds.get(("v1", "Namespace")) or client.kind("v1", "Namespace")
    exists: dict[str, bool] = {}

    def namespace_exists(name: str) -> bool:
        if name not in exists:
            exists[name] = ("", "Namespace", "", name) in found or (
                ns_kind is not None and client.get(ns_kind, None, name) is not None
            )
        return exists[name]

    for key, obj in planned.items():
        if key in found:
            out.twins[key] = found[key]
            continue
        served = out.kind_of(obj.manifest)
        if served is None or (served.namespaced and obj.namespace and not namespace_exists(obj.namespace)):
            continue
        # Not among the labelled objects: only a look by name tells a creation from a conflict.
        other = client.get(served, obj.namespace, obj.name)
        if obj.kind == "Namespace" and obj.manifest["apiVersion"] == "v1":
            exists[obj.name] = other is not None
        if other is not None:
            out.conflicts[key] = (other, _conflict_reason(other, instance))
    out.orphans = [item for key, item in found.items() if key not in planned and applied_by_kc(item)]
    return out
