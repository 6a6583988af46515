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
from kc.cluster import pool
from kc.compiler import contract, ir, kinds

Key = tuple[str, str, str, str]  # API group, kind, namespace ("" if cluster-scoped), name
At = tuple[cluster_client.Kind, str | None]  # a kind in a namespace (None: cluster-scoped), as listed


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
    absent: set[str] = field(default_factory=set)  # namespaces of the plan that do not exist yet

    def kind_of(self, manifest: dict[str, Any]) -> cluster_client.Kind | None:
        return self.kinds.get((str(manifest["apiVersion"]), str(manifest["kind"])))


# Up to this many objects of one kind and namespace missing from the labelled listing are looked
# up by name; more, and one LIST of that kind's names in the namespace answers for all of them.
LOOKUPS = 3


def _listed(client: cluster_client.Client, lists: list[At], selector: str,
            metadata_only: bool = False) -> list[list[dict[str, Any]]]:  # fmt: skip
    """Each LIST's items, in the order asked, the requests sent side by side."""
    outcomes = pool.each(lambda at: client.list(at[0], at[1], selector, metadata_only=metadata_only), lists)
    if (error := pool.first_error(outcomes)) is not None:
        raise error
    return [o.value or [] for o in outcomes]


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
    for api_version, kind in wanted:
        served = client.kind(api_version, kind)
        if served is not None:  # else e.g. a custom resource whose definition this plan creates
            out.kinds[(api_version, kind)] = served
    selector = contract.ownership_text(instance)
    listed: dict[At, list[dict[str, Any]]] = {}
    # Cluster-scoped kinds first: a namespace that does not exist holds nothing, so neither a
    # LIST nor a look by name is needed in it (a first apply costs no request per kind there).
    scoped: list[At] = [(k, None) for k in out.kinds.values() if not k.namespaced]
    listed.update(zip(scoped, _listed(client, scoped, selector), strict=True))
    labelled = {key_of(item) for items in listed.values() for item in items}
    exists = {key[3]: True for key in labelled if key[:3] == ("", "Namespace", "")}
    alone = [o for k, o in planned.items() if k not in labelled and out.kind_of(o.manifest) and not _namespace(out, o)]
    _look_up(client, out, alone, instance, exists)
    ns_kind = out.kinds.get(("v1", "Namespace")) or client.kind("v1", "Namespace")
    for ns in namespaces:
        if ns not in exists:
            exists[ns] = ns_kind is not None and client.get(ns_kind, None, ns) is not None
    out.absent = {ns for ns in namespaces if not exists[ns]}
    inside: list[At] = [(k, ns) for k in out.kinds.values() if k.namespaced for ns in namespaces if exists[ns]]
    listed.update(zip(inside, _listed(client, inside, selector), strict=True))
    found: dict[Key, dict[str, Any]] = {}  # in the order of the kinds, as they were always listed
    for served in out.kinds.values():
        places: list[str | None] = list(namespaces) if served.namespaced else [None]
        for place in places:
            found.update((key_of(item), item) for item in listed.get((served, place), ()))
    out.twins = {key: found[key] for key in planned if key in found}
    # Not among the labelled objects: only a look by name tells a creation from a conflict.
    missing = [o for k, o in planned.items() if k not in found and _namespace(out, o) and o.namespace in exists]
    _look_up(client, out, [o for o in missing if exists[_namespace(out, o)]], instance, exists)
    out.orphans = [item for key, item in found.items() if key not in planned and applied_by_kc(item)]
    return out


def _namespace(out: Live, obj: ir.Object) -> str:
    """The namespace the object lives in; "" for a cluster-scoped one."""
    served = out.kind_of(obj.manifest)
    return (obj.namespace or "") if served is not None and served.namespaced else ""


def _look_up(
    client: cluster_client.Client, out: Live, missing: list[ir.Object], instance: str, exists: dict[str, bool]
) -> None:
    """Record as conflicts the ``missing`` objects that exist under their name all the same:
    by name for a few of one kind and namespace, else by one LIST of that kind's names there."""
    groups: dict[tuple[cluster_client.Kind, str | None], list[ir.Object]] = {}
    for obj in missing:
        served = out.kind_of(obj.manifest)
        assert served is not None
        groups.setdefault((served, obj.namespace if served.namespaced else None), []).append(obj)
    by_name = [(k, o) for k, objs in groups.items() if len(objs) <= LOOKUPS for o in objs]
    listed = [k for k, objs in groups.items() if len(objs) > LOOKUPS]
    others: dict[Key, dict[str, Any]] = {}
    gets = pool.each(lambda at: client.get(at[0][0], at[0][1], at[1].name), by_name)
    if (error := pool.first_error(gets)) is not None:
        raise error
    for (_, obj), got in zip(by_name, gets, strict=True):
        if got.value is not None:
            others[key_of(obj.manifest)] = got.value
    for (served, _), items in zip(listed, _listed(client, listed, "", metadata_only=True), strict=True):
        for item in items:
            item["apiVersion"], item["kind"] = served.api_version, served.kind
            others[key_of(item)] = item
    for obj in missing:
        key = key_of(obj.manifest)
        other = others.get(key)
        if obj.kind == "Namespace" and obj.manifest["apiVersion"] == "v1":
            exists[obj.name] = other is not None
        # One of this instance's own, made after the labelled listing (a request of an earlier,
        # interrupted apply that the server finished late): applying it again is no adoption.
        if other is not None and not contract.carries(other, contract.ownership(instance)):
            out.conflicts[key] = (other, _conflict_reason(other, instance))
