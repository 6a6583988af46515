"""Deletion as the API server, the garbage collector and the namespace controller do it
together: finalizers, propagation policies, ownerReferences and namespace termination.

`collect=False` plays a cluster whose garbage collector is not running: dependents stay, and a
foreground deletion never finishes.
"""

from __future__ import annotations

import copy

from .fields import Obj, now
from .resources import ResourceType
from .store import Store


def owned(obj: Obj, owner: Obj) -> bool:
    uid = owner["metadata"]["uid"]
    return any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])


def _linger(store: Store, rt: ResourceType, obj: Obj, **meta: object) -> Obj:
    """Mark an object as being deleted; someone else will finish the deletion."""
    obj["metadata"].setdefault("deletionTimestamp", now())
    obj["metadata"].update(meta)
    store.write(rt, obj)
    return obj


def delete(
    store: Store,
    rt: ResourceType,
    namespace: str | None,
    name: str,
    policy: str | None,
    *,
    dry_run: bool = False,
    collect: bool = True,
) -> Obj:
    """Delete one object; returns what the DELETE request answers: the object if it lingers
    (or the request was a dry run), otherwise a Success Status."""
    obj = store.get(rt, namespace, name)
    meta = obj["metadata"]
    if dry_run:
        return obj
    if rt.group_kind == "Namespace":  # the namespace controller empties and removes it
        obj["status"] = {"phase": "Terminating"}
        return _linger(store, rt, obj)
    if meta.get("finalizers"):  # whoever owns the finalizers removes them, then it goes
        return _linger(store, rt, obj)
    # batch/v1 Jobs orphan their pods by default, for backwards compatibility
    policy = policy or ("Orphan" if rt.group_kind == "Job.batch" else "Background")
    dependents = [(t, o) for t, o in store.all() if owned(o, obj)]
    if policy == "Foreground" and dependents and not collect:
        return _linger(store, rt, obj, finalizers=["foregroundDeletion"])
    for dep_type, dep in dependents:
        dep_meta = dep["metadata"]
        if store.raw(dep_type, dep_meta.get("namespace"), dep_meta["name"]) is not dep:
            continue  # already gone (or replaced) through an earlier dependent
        if policy == "Orphan":
            dep = copy.deepcopy(dep)
            refs = [ref for ref in dep_meta["ownerReferences"] if ref.get("uid") != meta["uid"]]
            dep["metadata"]["ownerReferences"] = refs
            if not refs:  # an empty list is omitted, as on a real server
                del dep["metadata"]["ownerReferences"]
            store.write(dep_type, dep)
        elif collect:
            delete(
                store,
                dep_type,
                dep_meta.get("namespace"),
                dep_meta["name"],
                "Foreground" if policy == "Foreground" else "Background",
                collect=collect,
            )
    store.remove(rt, namespace, name)
    if rt.group_kind == "CustomResourceDefinition.apiextensions.k8s.io":
        store.unregister(obj["spec"]["group"], obj["spec"]["names"]["plural"])
    if policy == "Foreground":  # the real server answers with the object while dependents go
        meta.update(deletionTimestamp=now(), finalizers=["foregroundDeletion"])
        return obj
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {**rt.details(name), "uid": meta["uid"]},
    }


def empty_namespace(store: Store, rt: ResourceType, ns: Obj, *, collect: bool = True) -> bool:
    """The namespace controller: a terminating namespace loses its contents, then itself."""
    name = ns["metadata"]["name"]
    if not ns["metadata"].get("deletionTimestamp"):
        return False

    def contents() -> list[tuple[ResourceType, Obj]]:
        return [(t, o) for t, o in store.all() if t.namespaced and o["metadata"].get("namespace") == name]

    version = store.resource_version
    for item_type, obj in contents():
        if store.raw(item_type, name, obj["metadata"]["name"]) is obj:
            delete(store, item_type, name, obj["metadata"]["name"], "Background", collect=collect)
    if contents():  # objects with finalizers hold the namespace open
        return store.resource_version != version
    store.remove(rt, None, name)
    return True


def collect_garbage(store: Store) -> bool:
    """The collector's sweep, for when it was switched off a while: finish foreground deletions
    left waiting, and delete objects whose owners are all gone."""
    uids = {obj["metadata"]["uid"] for _, obj in store.all()}
    changed = False
    for rt, obj in store.all():
        meta = obj["metadata"]
        if store.raw(rt, meta.get("namespace"), meta["name"]) is not obj:
            continue
        refs = meta.get("ownerReferences") or []
        if meta.get("finalizers") == ["foregroundDeletion"]:
            store.write(rt, {**obj, "metadata": {**meta, "finalizers": []}})
            delete(store, rt, meta.get("namespace"), meta["name"], "Foreground")
            changed = True
        elif refs and all(ref.get("uid") not in uids for ref in refs):
            delete(store, rt, meta.get("namespace"), meta["name"], "Background")
            changed = True
    return changed
