"""Tiny stand-ins for kube-controller-manager, the kubelet, the garbage collector and the CRD
registrar.

They run synchronously under the store lock, before every request and after every write, until
nothing changes: a test sees the settled cluster right after its own request, without sleeping.
Setting a switch to False (`cluster.controllers.deployments = False`) freezes that part of the
cluster, which is how tests make readiness gates time out.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import time
from collections.abc import Callable

from .fields import Obj, now
from .gc import delete, empty_namespace, owned
from .store import ApiError, ResourceType, Store

MANAGER = "kube-controller-manager"
REVISION = "deployment.kubernetes.io/revision"
NODE = "fake-node"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names
_DONE = ("Complete", "Failed")


def suffix(seed: str, length: int = 5) -> str:
    """A deterministic stand-in for Kubernetes' random name suffixes."""
    return "".join(_SAFE[b % len(_SAFE)] for b in hashlib.sha256(seed.encode()).digest()[:length])


def owner_ref(owner: Obj) -> Obj:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


def _compact(**fields: object) -> Obj:
    """Zero counters are omitted from a real status (omitempty)."""
    return {k: v for k, v in fields.items() if v not in (0, None, [], "")}


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase", ""))


def _finished(job: Obj) -> str | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond["type"] in _DONE and cond["status"] == "True":
            return str(cond["type"])
    return None


def _conditions(old: list[Obj] | None, new: list[tuple[str, str, str, str]],
                stamps: tuple[str, ...] = ("lastTransitionTime",)) -> list[Obj]:
    """Conditions keep their timestamps while nothing about them changes; otherwise every
    reconcile would be a write and the controllers would never settle."""
    before = {c["type"]: c for c in old or []}
    out = []
    for kind, status, reason, message in new:
        cond = {"type": kind, "status": status, "reason": reason, "message": message}
        prev = before.get(kind)
        if prev is not None and all(prev.get(k) == v for k, v in cond.items()):
            out.append(prev)
        else:
            out.append({**cond, **{stamp: now() for stamp in stamps}})
    return out


class Controllers:
    """The controllers' switches, and the controllers themselves."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.deployments = True  # Deployments get ReplicaSets and a status
        self.replicasets = True  # ReplicaSets get Pods
        self.statefulsets = True  # StatefulSets get claims and ordinal Pods
        self.jobs = True  # Jobs get a Pod and complete when it succeeds
        self.cronjobs = True  # CronJobs track their Jobs and prune the history
        self.pods = True  # the kubelet: Pods run (or, if they may not restart, succeed)
        self.claims = True  # claims get bound
        self.crds = True  # CRDs become Established and their resources servable
        self.namespaces = True  # terminating namespaces are emptied, then removed
        self.garbage_collector = True  # deletion cascades through ownerReferences
        self._pod_ips = itertools.count()

    def _type(self, api_version: str, kind: str) -> ResourceType:
        rt = self.store.type_of(api_version, kind)
        assert rt is not None, kind
        return rt

    def reconcile(self) -> None:
        loops: list[tuple[str, str, str, Callable[[ResourceType, Obj], bool]]] = [
            ("crds", "apiextensions.k8s.io/v1", "CustomResourceDefinition", self._crd),
            ("namespaces", "v1", "Namespace", self._namespace),
            ("deployments", "apps/v1", "Deployment", self._deployment),
            ("replicasets", "apps/v1", "ReplicaSet", self._replicaset),
            ("statefulsets", "apps/v1", "StatefulSet", self._statefulset),
            ("cronjobs", "batch/v1", "CronJob", self._cronjob),
            ("jobs", "batch/v1", "Job", self._job),
            ("pods", "v1", "Pod", self._pod),
            ("claims", "v1", "PersistentVolumeClaim", self._claim),
        ]
        with self.store.lock:
            for _ in range(100):
                changed = False
                for switch, api_version, kind, loop in loops:
                    if not getattr(self, switch):
                        continue
                    rt = self._type(api_version, kind)
                    for obj in self.store.items(rt):
                        meta = obj["metadata"]
                        if self.store.raw(rt, meta.get("namespace"), meta["name"]) is not obj:
                            continue  # changed or deleted during this round: next round
                        if meta.get("deletionTimestamp") and kind != "Namespace":
                            continue
                        changed |= loop(rt, self.store.get(rt, meta.get("namespace"),
                                                           meta["name"]))
                if not changed:
                    return
        raise RuntimeError("the fake controllers did not settle")

    # helpers
    def _create(self, rt: ResourceType, obj: Obj) -> bool:
        try:
            self.store.create(rt, obj, MANAGER)
        except ApiError:  # e.g. the namespace is terminating; a real controller would retry
            return False
        return True

    def _set_status(self, rt: ResourceType, obj: Obj, status: Obj) -> bool:
        if obj.get("status") == status:
            return False
        obj["status"] = status
        return self.store.write(rt, obj)

    def _owned(self, api_version: str, kind: str, owner: Obj) -> list[Obj]:
        rt = self._type(api_version, kind)
        return [o for o in self.store.items(rt, owner["metadata"]["namespace"]) if owned(o, owner)]

    def _create_pod(self, owner: Obj, name: str, template: Obj, labels: dict[str, str],
                    spec: Obj) -> bool:
        tmeta = template.get("metadata") or {}
        meta: Obj = {"name": name, "namespace": owner["metadata"]["namespace"],
                     "labels": {**(tmeta.get("labels") or {}), **labels},
                     "ownerReferences": [owner_ref(owner)]}
        if tmeta.get("annotations"):
            meta["annotations"] = dict(tmeta["annotations"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
               "spec": {**copy.deepcopy(template.get("spec") or {}), "nodeName": NODE, **spec}}
        return self._create(self._type("v1", "Pod"), pod)

    def _remove(self, api_version: str, kind: str, obj: Obj) -> bool:
        rt, meta = self._type(api_version, kind), obj["metadata"]
        if self.store.raw(rt, meta.get("namespace"), meta["name"]) is None:
            return False
        self.delete(rt, meta.get("namespace"), meta["name"], "Background")
        return True

    def delete(self, rt: ResourceType, namespace: str | None, name: str, policy: str | None,
               dry_run: bool = False) -> Obj:
        """A DELETE request; cascades only while the garbage collector is switched on."""
        return delete(self.store, rt, namespace, name, policy, dry_run=dry_run,
                      collect=self.garbage_collector)

    def _namespace(self, rt: ResourceType, ns: Obj) -> bool:
        return empty_namespace(self.store, rt, ns, collect=self.garbage_collector)

    # workload controllers
    def _deployment(self, rt: ResourceType, dep: Obj) -> bool:
        meta, spec = dep["metadata"], dep["spec"]
        template, replicas = spec["template"], spec.get("replicas", 1)
        template_hash = suffix(json.dumps(template, sort_keys=True), 10)
        name = f"{meta['name']}-{template_hash}"
        sets = self._owned("apps/v1", "ReplicaSet", dep)
        current = next((rs for rs in sets if rs["metadata"]["name"] == name), None)
        changed = False
        if current is None:  # a new template: a new ReplicaSet, the old ones scale to zero
            revision = 1 + max((int(rs["metadata"].get("annotations", {}).get(REVISION, 0))
                                for rs in sets), default=0)
            labels = {**(template.get("metadata") or {}).get("labels", {}),
                      "pod-template-hash": template_hash}
            selector = copy.deepcopy(spec["selector"])
            selector.setdefault("matchLabels", {})["pod-template-hash"] = template_hash
            changed |= self._create(self._type("apps/v1", "ReplicaSet"), {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels,
                             "annotations": {REVISION: str(revision)},
                             "ownerReferences": [owner_ref(dep)]},
                "spec": {"replicas": replicas, "selector": selector, "template": {
                    **copy.deepcopy(template),
                    "metadata": {**(template.get("metadata") or {}), "labels": labels}}}})
        else:
            revision = int(current["metadata"]["annotations"][REVISION])
        rs_type = self._type("apps/v1", "ReplicaSet")
        for rs in sets:
            want = replicas if rs["metadata"]["name"] == name else 0
            if rs["spec"].get("replicas") != want:
                changed |= self.store.write(rs_type, {**rs, "spec": {**rs["spec"],
                                                                      "replicas": want}})
        if meta.setdefault("annotations", {}).get(REVISION) != str(revision):
            meta["annotations"][REVISION] = str(revision)
            changed |= self.store.write(rt, dep)
        sets = self._owned("apps/v1", "ReplicaSet", dep)

        def count(field: str, only_new: bool = False) -> int:
            return sum((rs.get("status") or {}).get(field, 0) for rs in sets
                       if not only_new or rs["metadata"]["name"] == name)

        available, updated = count("availableReplicas"), count("replicas", only_new=True)
        done = available >= replicas and updated == replicas == count("replicas")
        conditions = _conditions((dep.get("status") or {}).get("conditions"), [
            ("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum "
             "availability.") if available >= replicas else
            ("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have "
             "minimum availability."),
            ("Progressing", "True", "NewReplicaSetAvailable",
             f'ReplicaSet "{name}" has successfully progressed.') if done else
            ("Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.'),
        ], ("lastUpdateTime", "lastTransitionTime"))
        status = _compact(observedGeneration=meta["generation"], replicas=count("replicas"),
                          updatedReplicas=updated, readyReplicas=count("readyReplicas"),
                          availableReplicas=available,
                          unavailableReplicas=max(replicas - available, 0),
                          conditions=conditions)
        return self._set_status(rt, dep, status) | changed

    def _replicaset(self, rt: ResourceType, rs: Obj) -> bool:
        meta, spec = rs["metadata"], rs["spec"]
        wanted = [f"{meta['name']}-{suffix(meta['uid'] + str(i))}"
                  for i in range(spec.get("replicas", 1))]
        pods = self._owned("v1", "Pod", rs)
        changed = False
        for pod in pods:
            if pod["metadata"]["name"] not in wanted:
                changed |= self._remove("v1", "Pod", pod)
        have = {pod["metadata"]["name"] for pod in pods}
        for name in wanted:
            if name not in have:
                changed |= self._create_pod(rs, name, spec["template"], {}, {})
        pods = self._owned("v1", "Pod", rs)
        running = sum(_phase(p) == "Running" for p in pods)
        status = _compact(replicas=len(pods), fullyLabeledReplicas=len(pods),
                          readyReplicas=running, availableReplicas=running,
                          observedGeneration=meta["generation"])
        return self._set_status(rt, rs, status) | changed

    def _statefulset(self, rt: ResourceType, sts: Obj) -> bool:
        meta, spec = sts["metadata"], sts["spec"]
        name, replicas = meta["name"], spec.get("replicas", 1)
        revision = f"{name}-{suffix(json.dumps(spec['template'], sort_keys=True), 10)}"
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        pvc_type = self._type("v1", "PersistentVolumeClaim")
        pods = {p["metadata"]["name"]: p for p in self._owned("v1", "Pod", sts)}
        changed = False
        for i in range(replicas):
            volumes = []
            for claim_template in spec.get("volumeClaimTemplates") or []:
                tmeta = claim_template["metadata"]
                claim = f"{tmeta['name']}-{name}-{i}"
                volumes.append({"name": tmeta["name"],
                                "persistentVolumeClaim": {"claimName": claim}})
                if self.store.raw(pvc_type, meta["namespace"], claim) is not None:
                    continue
                # claims carry the template's labels and the selector's; only a Delete
                # retention policy makes them owned (and so garbage-collected) by the set
                labels = {**(tmeta.get("labels") or {}),
                          **(spec.get("selector") or {}).get("matchLabels", {})}
                pvc_meta = {"name": claim, "namespace": meta["namespace"], "labels": labels}
                if retention.get("whenDeleted") == "Delete":
                    pvc_meta["ownerReferences"] = [owner_ref(sts)]
                changed |= self._create(pvc_type, {
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": pvc_meta,
                    "spec": copy.deepcopy(claim_template.get("spec") or {})})
            pod_name = f"{name}-{i}"
            pod = pods.get(pod_name)
            if pod is None:
                template = copy.deepcopy(spec["template"])
                template.setdefault("spec", {}).setdefault("volumes", []).extend(volumes)
                labels = {"statefulset.kubernetes.io/pod-name": pod_name,
                          "apps.kubernetes.io/pod-index": str(i),
                          "controller-revision-hash": revision}
                extra = {"hostname": pod_name}
                if spec.get("serviceName"):
                    extra["subdomain"] = spec["serviceName"]
                changed |= self._create_pod(sts, pod_name, template, labels, extra)
            if spec.get("podManagementPolicy") == "OrderedReady" and \
                    (pod is None or _phase(pod) != "Running"):
                break  # the next ordinal waits until this one runs
        for pod_name, pod in pods.items():
            ordinal = int(pod_name.rsplit("-", 1)[1])
            if ordinal >= replicas:
                changed |= self._remove("v1", "Pod", pod)
                if retention.get("whenScaled") == "Delete":
                    for claim_template in spec.get("volumeClaimTemplates") or []:
                        claim = f"{claim_template['metadata']['name']}-{name}-{ordinal}"
                        changed |= self._remove("v1", "PersistentVolumeClaim", {
                            "metadata": {"name": claim, "namespace": meta["namespace"]}})
        current = self._owned("v1", "Pod", sts)
        ready = sum(_phase(p) == "Running" for p in current)
        status = _compact(observedGeneration=meta["generation"], replicas=len(current),
                          readyReplicas=ready, currentReplicas=len(current),
                          updatedReplicas=len(current), availableReplicas=ready,
                          currentRevision=revision, updateRevision=revision)
        return self._set_status(rt, sts, status) | changed

    def _job(self, rt: ResourceType, job: Obj) -> bool:
        spec, status = job["spec"], job.get("status") or {}
        if _finished(job) or spec.get("suspend"):
            return False
        target = spec.get("completions") or 1
        pods = self._owned("v1", "Pod", job)
        succeeded = sum(_phase(p) == "Succeeded" for p in pods)
        active = sum(_phase(p) not in ("Succeeded", "Failed") for p in pods)
        changed = False
        for i in range(min(spec.get("parallelism", 1), target - succeeded) - active):
            seed = job["metadata"]["uid"] + str(len(pods) + i)
            name = f"{job['metadata']['name']}-{suffix(seed)}"
            changed |= self._create_pod(job, name, spec["template"], {}, {})
        pods = self._owned("v1", "Pod", job)
        succeeded = sum(_phase(p) == "Succeeded" for p in pods)
        fields: Obj = {"startTime": status.get("startTime") or now(),
                       "active": sum(_phase(p) not in ("Succeeded", "Failed") for p in pods),
                       "succeeded": succeeded, "uncountedTerminatedPods": {}}
        if succeeded >= target:
            reached = "Reached expected number of succeeded pods"
            fields.update(completionTime=now(), conditions=_conditions(None, [
                ("SuccessCriteriaMet", "True", "CompletionsReached", reached),
                ("Complete", "True", "CompletionsReached", reached)]))
        return self._set_status(rt, job, _compact(**fields)) | changed

    def _cronjob(self, rt: ResourceType, cron: Obj) -> bool:
        spec, status = cron["spec"], dict(cron.get("status") or {})
        jobs = sorted(self._owned("batch/v1", "Job", cron),
                      key=lambda j: (j["metadata"]["creationTimestamp"], j["metadata"]["name"]))
        changed = False
        for outcome, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                               ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            history = [j for j in jobs if _finished(j) == outcome]
            for old in history[:max(len(history) - limit, 0)]:  # prune the oldest beyond limit
                changed |= self._remove("batch/v1", "Job", old)
        active = [{"apiVersion": "batch/v1", "kind": "Job", "name": j["metadata"]["name"],
                   "namespace": j["metadata"]["namespace"], "uid": j["metadata"]["uid"]}
                  for j in jobs if not _finished(j)]
        status.pop("active", None)
        if active:
            status["active"] = active
        completed = [j["status"]["completionTime"] for j in jobs if _finished(j) == "Complete"]
        if completed:
            status["lastSuccessfulTime"] = max(completed)
        return self._set_status(rt, cron, status) | changed

    def run_cronjob(self, namespace: str, name: str) -> Obj:
        """What the CronJob controller does when the schedule fires: a Job from jobTemplate."""
        with self.store.lock:
            cron_type, job_type = self._type("batch/v1", "CronJob"), self._type("batch/v1", "Job")
            cron = self.store.get(cron_type, namespace, name)
            template = cron["spec"]["jobTemplate"]
            minute = int(time.time() // 60)  # real Job names carry the scheduled minute
            while self.store.raw(job_type, namespace, f"{name}-{minute}") is not None:
                minute += 1
            scheduled = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
            tmeta = template.get("metadata") or {}
            job = self.store.create(job_type, {
                "metadata": {"name": f"{name}-{minute}", "namespace": namespace,
                             "labels": dict(tmeta.get("labels") or {}),
                             "annotations": {**(tmeta.get("annotations") or {}),
                                             "batch.kubernetes.io/cronjob-scheduled-timestamp":
                                                 scheduled},
                             "ownerReferences": [owner_ref(cron)]},
                "spec": copy.deepcopy(template.get("spec") or {})}, MANAGER)
            cron["status"] = {**(cron.get("status") or {}), "lastScheduleTime": scheduled}
            self.store.write(cron_type, cron)
            self.reconcile()
            return self.store.get(job_type, namespace, job["metadata"]["name"])

    # node and storage stand-ins
    def _pod(self, rt: ResourceType, pod: Obj) -> bool:
        if _phase(pod) not in ("", "Pending"):
            return False
        done = pod["spec"].get("restartPolicy", "Always") != "Always"  # batch pods run to the end
        stamp, n = now(), next(self._pod_ips)
        state = {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": stamp,
                                "finishedAt": stamp}} if done else {"running": {"startedAt": stamp}}
        ready = "False" if done else "True"
        ip = f"10.244.{n // 250}.{n % 250 + 2}"
        pod["status"] = {
            "phase": "Succeeded" if done else "Running",
            "conditions": [{"type": t, "status": ready if t.endswith("Ready") else "True",
                            "lastTransitionTime": stamp}
                           for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
            "hostIP": "10.0.0.1", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": stamp,
            "qosClass": "BestEffort",
            "containerStatuses": [{"name": c.get("name"), "image": c.get("image"), "imageID": "",
                                   "containerID": f"containerd://{suffix(stamp + ip, 12)}",
                                   "ready": not done, "started": not done, "restartCount": 0,
                                   "state": state} for c in pod["spec"].get("containers", [])]}
        return self.store.write(rt, pod)

    def _claim(self, rt: ResourceType, pvc: Obj) -> bool:
        if _phase(pvc) == "Bound":
            return False
        spec = pvc["spec"]
        spec.setdefault("volumeName", f"pvc-{pvc['metadata']['uid']}")
        pvc["status"] = {"phase": "Bound", "accessModes": spec.get("accessModes", []),
                         "capacity": dict((spec.get("resources") or {}).get("requests") or {})}
        return self.store.write(rt, pvc)

    def _crd(self, rt: ResourceType, crd: Obj) -> bool:
        spec, names = crd["spec"], crd["spec"]["names"]
        for version in spec.get("versions") or []:
            if version.get("served", True):
                self.store.register(ResourceType(
                    spec["group"], version["name"], names["kind"], names["plural"],
                    spec.get("scope") == "Namespaced", tuple(names.get("shortNames") or ()),
                    "status" in (version.get("subresources") or {}), custom=True))
        accepted = {"kind": names["kind"], "listKind": names.get("listKind",
                                                                  f"{names['kind']}List"),
                    "plural": names["plural"], "singular": names.get("singular",
                                                                      names["kind"].lower())}
        status = {"acceptedNames": accepted, "conditions": _conditions(
            (crd.get("status") or {}).get("conditions"), [
                ("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                ("Established", "True", "InitialNamesAccepted",
                 "the initial names have been accepted")]),
            "storedVersions": [v["name"] for v in spec.get("versions") or [] if v.get("storage")]}
        return self._set_status(rt, crd, status)
