"""Tiny stand-ins for kube-controller-manager, the kubelet, the volume binder, the garbage
collector and the CRD registrar.

They run synchronously under the store lock, before every request and after every write, until
nothing changes: a test sees the settled cluster right after its own request, without sleeping.
Setting a switch to False (`cluster.controllers.deployments = False`) freezes that part of the
cluster, which is how tests make readiness gates time out.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Callable

from . import manifests as m
from .fields import Obj
from .gc import collect_garbage, delete, empty_namespace, owned
from .resources import ApiError, ResourceType
from .store import Store

MANAGER = "kube-controller-manager"


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
                        changed |= loop(rt, self.store.get(rt, meta.get("namespace"), meta["name"]))
                if self.garbage_collector:
                    changed |= collect_garbage(self.store)
                if not changed:
                    return
        raise RuntimeError("the fake controllers did not settle")

    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, policy: str | None, dry_run: bool = False
    ) -> Obj:
        """A DELETE request; cascades only while the garbage collector is switched on."""
        return delete(self.store, rt, namespace, name, policy, dry_run=dry_run, collect=self.garbage_collector)

    def run_cronjob(self, namespace: str, name: str) -> Obj:
        """What the CronJob controller does when the schedule fires: a Job from jobTemplate."""
        with self.store.lock:
            cron_type, job_type = self._type("batch/v1", "CronJob"), self._type("batch/v1", "Job")
            cron = self.store.get(cron_type, namespace, name)
            minute = int(time.time() // 60)  # real Job names carry the scheduled minute
            while self.store.raw(job_type, namespace, f"{name}-{minute}") is not None:
                minute += 1
            scheduled = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60))
            job = self.store.create(job_type, m.scheduled_job(cron, f"{name}-{minute}", scheduled), MANAGER)
            cron["status"] = {**(cron.get("status") or {}), "lastScheduleTime": scheduled}
            self.store.write(cron_type, cron)
            self.reconcile()
            return self.store.get(job_type, namespace, job["metadata"]["name"])

    # helpers
    def _type(self, api_version: str, kind: str) -> ResourceType:
        rt = self.store.type_of(api_version, kind)
        assert rt is not None, kind
        return rt

    def _create(self, api_version: str, kind: str, obj: Obj) -> bool:
        try:
            self.store.create(self._type(api_version, kind), obj, MANAGER)
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

    def _remove(self, api_version: str, kind: str, namespace: str, name: str) -> bool:
        rt = self._type(api_version, kind)
        if self.store.raw(rt, namespace, name) is None:
            return False
        self.delete(rt, namespace, name, "Background")
        return True

    # workloads
    def _deployment(self, rt: ResourceType, dep: Obj) -> bool:
        meta, spec = dep["metadata"], dep["spec"]
        replicas = spec.get("replicas", 1)
        template_hash = m.suffix(json.dumps(spec["template"], sort_keys=True), 10)
        name = f"{meta['name']}-{template_hash}"
        sets = self._owned("apps/v1", "ReplicaSet", dep)
        current = next((rs for rs in sets if rs["metadata"]["name"] == name), None)
        changed = False
        if current is None:  # a new template: a new ReplicaSet, and the old ones scale to zero
            revisions = (int(rs["metadata"].get("annotations", {}).get(m.REVISION, 0)) for rs in sets)
            revision = 1 + max(revisions, default=0)
            changed |= self._create("apps/v1", "ReplicaSet", m.replica_set(dep, name, template_hash, revision))
        else:
            revision = int(current["metadata"]["annotations"][m.REVISION])
        rs_type = self._type("apps/v1", "ReplicaSet")
        for rs in sets:
            want = replicas if rs["metadata"]["name"] == name else 0
            if rs["spec"].get("replicas") != want:
                changed |= self.store.write(rs_type, {**rs, "spec": {**rs["spec"], "replicas": want}})
        if meta.setdefault("annotations", {}).get(m.REVISION) != str(revision):
            meta["annotations"][m.REVISION] = str(revision)
            changed |= self.store.write(rt, dep)
        sets = self._owned("apps/v1", "ReplicaSet", dep)

        def count(field: str, only_new: bool = False) -> int:
            chosen = [rs for rs in sets if not only_new or rs["metadata"]["name"] == name]
            return sum((rs.get("status") or {}).get(field, 0) for rs in chosen)

        available, updated, total = count("availableReplicas"), count("replicas", True), count("replicas")
        done = available >= replicas and updated == replicas == total
        status = m.compact(
            observedGeneration=meta["generation"],
            replicas=total,
            updatedReplicas=updated,
            readyReplicas=count("readyReplicas"),
            availableReplicas=available,
            unavailableReplicas=max(replicas - available, 0),
            conditions=m.deployment_conditions(dep, name, available >= replicas, done),
        )
        return self._set_status(rt, dep, status) | changed

    def _replicaset(self, rt: ResourceType, rs: Obj) -> bool:
        meta, spec = rs["metadata"], rs["spec"]
        wanted = [f"{meta['name']}-{m.suffix(meta['uid'] + str(i))}" for i in range(spec.get("replicas", 1))]
        pods = self._owned("v1", "Pod", rs)
        changed = False
        for pod in pods:
            if pod["metadata"]["name"] not in wanted:
                changed |= self._remove("v1", "Pod", meta["namespace"], pod["metadata"]["name"])
        have = {pod["metadata"]["name"] for pod in pods}
        for name in wanted:
            if name not in have:
                changed |= self._create("v1", "Pod", m.pod(rs, name, spec["template"], {}, {}))
        pods = self._owned("v1", "Pod", rs)
        running = sum(m.phase(p) == "Running" for p in pods)
        status = m.compact(
            ("replicas",),
            replicas=len(pods),
            fullyLabeledReplicas=len(pods),
            readyReplicas=running,
            availableReplicas=running,
            observedGeneration=meta["generation"],
        )
        return self._set_status(rt, rs, status) | changed

    def _statefulset(self, rt: ResourceType, sts: Obj) -> bool:
        meta, spec = sts["metadata"], sts["spec"]
        name, ns, replicas = meta["name"], meta["namespace"], spec.get("replicas", 1)
        revision = f"{name}-{m.suffix(json.dumps(spec['template'], sort_keys=True), 10)}"
        templates = spec.get("volumeClaimTemplates") or []
        pvc_type = self._type("v1", "PersistentVolumeClaim")
        pods = {p["metadata"]["name"]: p for p in self._owned("v1", "Pod", sts)}
        changed = False
        for i in range(replicas):
            volumes = []
            for claim_template in templates:
                claim = f"{claim_template['metadata']['name']}-{name}-{i}"
                volumes.append(
                    {"name": claim_template["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim}}
                )
                if self.store.raw(pvc_type, ns, claim) is None:
                    changed |= self._create("v1", "PersistentVolumeClaim", m.claim(sts, claim_template, claim))
            pod_name = f"{name}-{i}"
            pod = pods.get(pod_name)
            if pod is None:
                template = copy.deepcopy(spec["template"])
                template.setdefault("spec", {}).setdefault("volumes", []).extend(volumes)
                labels = {
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "apps.kubernetes.io/pod-index": str(i),
                    "controller-revision-hash": revision,
                }
                extra = {
                    "hostname": pod_name,
                    **({"subdomain": spec["serviceName"]} if spec.get("serviceName") else {}),
                }
                changed |= self._create("v1", "Pod", m.pod(sts, pod_name, template, labels, extra))
            if spec.get("podManagementPolicy") == "OrderedReady" and (pod is None or m.phase(pod) != "Running"):
                break  # the next ordinal waits until this one runs
        for pod_name in pods:
            ordinal = int(pod_name.rsplit("-", 1)[1])
            if ordinal < replicas:
                continue
            changed |= self._remove("v1", "Pod", ns, pod_name)
            if (spec.get("persistentVolumeClaimRetentionPolicy") or {}).get("whenScaled") == "Delete":
                for claim_template in templates:
                    claim = f"{claim_template['metadata']['name']}-{name}-{ordinal}"
                    changed |= self._remove("v1", "PersistentVolumeClaim", ns, claim)
        current = self._owned("v1", "Pod", sts)
        ready = sum(m.phase(p) == "Running" for p in current)
        status = m.compact(
            ("replicas", "availableReplicas"),
            observedGeneration=meta["generation"],
            replicas=len(current),
            readyReplicas=ready,
            currentReplicas=len(current),
            updatedReplicas=len(current),
            availableReplicas=ready,
            currentRevision=revision,
            updateRevision=revision,
        )
        return self._set_status(rt, sts, status) | changed

    def _job(self, rt: ResourceType, job: Obj) -> bool:
        spec, meta = job["spec"], job["metadata"]
        if m.finished(job) or spec.get("suspend"):
            return False
        target = spec.get("completions") or 1
        pods = self._owned("v1", "Pod", job)
        succeeded = sum(m.phase(p) == "Succeeded" for p in pods)
        active = sum(m.phase(p) not in ("Succeeded", "Failed") for p in pods)
        changed = False
        for i in range(min(spec.get("parallelism", 1), target - succeeded) - active):
            name = f"{meta['name']}-{m.suffix(meta['uid'] + str(len(pods) + i))}"
            changed |= self._create("v1", "Pod", m.pod(job, name, spec["template"], {}, {}))
        pods = self._owned("v1", "Pod", job)
        succeeded = sum(m.phase(p) == "Succeeded" for p in pods)
        active = sum(m.phase(p) not in ("Succeeded", "Failed") for p in pods)
        status = m.job_status(job.get("status") or {}, succeeded, active, target)
        return self._set_status(rt, job, status) | changed

    def _cronjob(self, rt: ResourceType, cron: Obj) -> bool:
        spec, status = cron["spec"], dict(cron.get("status") or {})
        jobs = self._owned("batch/v1", "Job", cron)
        jobs.sort(key=lambda j: (j["metadata"]["creationTimestamp"], j["metadata"]["name"]))
        changed = False
        limits = {
            "Complete": spec.get("successfulJobsHistoryLimit", 3),
            "Failed": spec.get("failedJobsHistoryLimit", 1),
        }
        for outcome, limit in limits.items():
            history = [j for j in jobs if m.finished(j) == outcome]
            for old in history[: max(len(history) - limit, 0)]:  # prune the oldest beyond the limit
                changed |= self._remove("batch/v1", "Job", old["metadata"]["namespace"], old["metadata"]["name"])
        active = [
            {"apiVersion": "batch/v1", "kind": "Job"} | {k: j["metadata"][k] for k in ("name", "namespace", "uid")}
            for j in jobs
            if not m.finished(j)
        ]
        status.pop("active", None)
        if active:
            status["active"] = active
        completed = [j["status"]["completionTime"] for j in jobs if m.finished(j) == "Complete"]
        if completed:
            status["lastSuccessfulTime"] = max(completed)
        return self._set_status(rt, cron, status) | changed

    # node, storage, API extensions and namespaces
    def _pod(self, rt: ResourceType, pod: Obj) -> bool:
        if m.phase(pod) not in ("", "Pending"):
            return False
        n = next(self._pod_ips)
        return self._set_status(rt, pod, m.started_pod_status(pod, f"10.244.{n // 250}.{n % 250 + 2}"))

    def _claim(self, rt: ResourceType, pvc: Obj) -> bool:
        if m.phase(pvc) == "Bound":
            return False
        pvc["spec"].setdefault("volumeName", f"pvc-{pvc['metadata']['uid']}")
        return self._set_status(rt, pvc, m.bound_claim_status(pvc))

    def _crd(self, rt: ResourceType, crd: Obj) -> bool:
        for served in m.crd_types(crd):  # Established: its resources are discoverable and served
            self.store.register(served)
        return self._set_status(rt, crd, m.crd_status(crd))

    def _namespace(self, rt: ResourceType, ns: Obj) -> bool:
        return empty_namespace(self.store, rt, ns, collect=self.garbage_collector)
