"""The objects and statuses the controllers write, as pure functions of what they read.

Kept apart from controllers.py so the controllers read as decisions (what to create, delete or
report) while the shapes of what the real components write live here.
"""

from __future__ import annotations

import copy
import hashlib

from .fields import Obj, now
from .resources import ResourceType

REVISION = "deployment.kubernetes.io/revision"
NODE = "fake-node"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names


def suffix(seed: str, length: int = 5) -> str:
    """A deterministic stand-in for Kubernetes' random name suffixes."""
    return "".join(_SAFE[b % len(_SAFE)] for b in hashlib.sha256(seed.encode()).digest()[:length])


def owner_ref(owner: Obj) -> Obj:
    meta = owner["metadata"]
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"]}
    return {**ref, "controller": True, "blockOwnerDeletion": True}


def compact(required: tuple[str, ...] = (), **fields: object) -> Obj:
    """Zero counters are omitted from a real status (omitempty), except required ones."""
    return {k: v for k, v in fields.items() if k in required or v not in (0, None, [], "")}


def phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase", ""))


def finished(job: Obj) -> str | None:
    """ "Complete" or "Failed" once a Job is done."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond["type"] in ("Complete", "Failed") and cond["status"] == "True":
            return str(cond["type"])
    return None


def conditions(
    old: list[Obj] | None, new: list[tuple[str, str, str, str]], stamps: tuple[str, ...] = ("lastTransitionTime",)
) -> list[Obj]:
    """(type, status, reason, message) as conditions. Each keeps its timestamps while nothing
    about it changes; otherwise every reconcile would be a write and nothing would settle."""
    before = {c["type"]: c for c in old or []}
    out = []
    for kind, status, reason, message in new:
        cond = {"type": kind, "status": status, "reason": reason, "message": message}
        prev = before.get(kind)
        same = prev is not None and all(prev.get(k) == v for k, v in cond.items())
        out.append(prev if same and prev is not None else {**cond, **{stamp: now() for stamp in stamps}})
    return out


def pod(owner: Obj, name: str, template: Obj, labels: dict[str, str], spec: Obj) -> Obj:
    """A Pod from a template, owned by its controller and already scheduled."""
    tmeta = template.get("metadata") or {}
    meta: Obj = {
        "name": name,
        "namespace": owner["metadata"]["namespace"],
        "labels": {**(tmeta.get("labels") or {}), **labels},
        "ownerReferences": [owner_ref(owner)],
    }
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    pod_spec = {**copy.deepcopy(template.get("spec") or {}), "nodeName": NODE, **spec}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec}


def replica_set(dep: Obj, name: str, template_hash: str, revision: int) -> Obj:
    spec, template = dep["spec"], dep["spec"]["template"]
    labels = {**(template.get("metadata") or {}).get("labels", {}), "pod-template-hash": template_hash}
    selector = copy.deepcopy(spec["selector"])
    selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
    meta = {"name": name, "namespace": dep["metadata"]["namespace"], "labels": labels}
    meta.update(annotations={REVISION: str(revision)}, ownerReferences=[owner_ref(dep)])
    pod_template = {**copy.deepcopy(template), "metadata": {**(template.get("metadata") or {}), "labels": labels}}
    rs_spec = {"replicas": spec.get("replicas", 1), "selector": selector, "template": pod_template}
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": rs_spec}


def deployment_conditions(dep: Obj, rs_name: str, available: bool, done: bool) -> list[Obj]:
    old = (dep.get("status") or {}).get("conditions")
    if available:
        availability = ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    else:
        availability = (
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    if done:
        progress = (
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            f'ReplicaSet "{rs_name}" has successfully progressed.',
        )
    else:
        progress = ("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
    return conditions(old, [availability, progress], ("lastUpdateTime", "lastTransitionTime"))


def claim(sts: Obj, claim_template: Obj, name: str) -> Obj:
    """A StatefulSet's claim: the template's labels plus the selector's. Only a Delete retention
    policy makes it owned (and so garbage-collected) by the set; by default it outlives it."""
    spec = sts["spec"]
    labels = {**(claim_template["metadata"].get("labels") or {}), **(spec.get("selector") or {}).get("matchLabels", {})}
    meta: Obj = {"name": name, "namespace": sts["metadata"]["namespace"], "labels": labels}
    if (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted") == "Delete":
        meta["ownerReferences"] = [owner_ref(sts)]
    claim_spec = copy.deepcopy(claim_template.get("spec") or {})
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": claim_spec}


def job_status(old: Obj, succeeded: int, active: int, target: int) -> Obj:
    fields: Obj = {"startTime": old.get("startTime") or now(), "active": active, "succeeded": succeeded}
    fields["uncountedTerminatedPods"] = {}
    if succeeded >= target:
        reached = "Reached expected number of succeeded pods"
        fields["completionTime"] = now()
        fields["conditions"] = conditions(
            None,
            [
                ("SuccessCriteriaMet", "True", "CompletionsReached", reached),
                ("Complete", "True", "CompletionsReached", reached),
            ],
        )
    return compact(**fields)


def scheduled_job(cron: Obj, name: str, scheduled: str) -> Obj:
    template = cron["spec"]["jobTemplate"]
    tmeta = template.get("metadata") or {}
    annotations = {**(tmeta.get("annotations") or {}), "batch.kubernetes.io/cronjob-scheduled-timestamp": scheduled}
    meta = {"name": name, "namespace": cron["metadata"]["namespace"], "labels": dict(tmeta.get("labels") or {})}
    meta.update(annotations=annotations, ownerReferences=[owner_ref(cron)])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def started_pod_status(pod: Obj, ip: str) -> Obj:
    """What the kubelet reports once the containers run; pods that may not restart (batch
    pods) run to completion at once."""
    done = pod["spec"].get("restartPolicy", "Always") != "Always"
    stamp = now()
    if done:
        state: Obj = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": stamp, "finishedAt": stamp}}
    else:
        state = {"running": {"startedAt": stamp}}
    ready = "False" if done else "True"
    kinds = ("PodScheduled", "Initialized", "ContainersReady", "Ready")
    containers = [
        {"name": c.get("name"), "image": c.get("image"), "imageID": "", "ready": not done, "started": not done}
        | {"containerID": f"containerd://{suffix(stamp + ip + str(c.get('name')), 12)}", "restartCount": 0}
        | {"state": state}
        for c in pod["spec"].get("containers", [])
    ]
    return {
        "phase": "Succeeded" if done else "Running",
        "conditions": [
            {"type": t, "status": ready if t.endswith("Ready") else "True", "lastTransitionTime": stamp} for t in kinds
        ],
        "hostIP": "10.0.0.1",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "startTime": stamp,
        "qosClass": "BestEffort",
        "containerStatuses": containers,
    }


def bound_claim_status(pvc: Obj) -> Obj:
    spec = pvc["spec"]
    capacity = dict((spec.get("resources") or {}).get("requests") or {})
    return {"phase": "Bound", "accessModes": spec.get("accessModes", []), "capacity": capacity}


def crd_types(crd: Obj) -> list[ResourceType]:
    """The resource types a CRD serves, one per served version."""
    spec, names = crd["spec"], crd["spec"]["names"]
    return [
        ResourceType(
            spec["group"],
            version["name"],
            names["kind"],
            names["plural"],
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            status="status" in (version.get("subresources") or {}),
            custom=True,
        )
        for version in spec.get("versions") or []
        if version.get("served", True)
    ]


def crd_status(crd: Obj) -> Obj:
    names = crd["spec"]["names"]
    accepted = {
        "kind": names["kind"],
        "listKind": names.get("listKind", f"{names['kind']}List"),
        "plural": names["plural"],
        "singular": names.get("singular", names["kind"].lower()),
    }
    established = conditions(
        (crd.get("status") or {}).get("conditions"),
        [
            ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
            ("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
    )
    stored = [v["name"] for v in crd["spec"].get("versions") or [] if v.get("storage")]
    return {"acceptedNames": accepted, "conditions": established, "storedVersions": stored}
