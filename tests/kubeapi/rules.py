"""Per-kind tables of what a real API server defaults, validates and refuses to change.

A rule is `(path, value)`: set the field at `path` when it is absent and its parent exists.
`[]` in a path walks every item of a list; a callable value gets the parent dict and returns
the default, or None to leave the field unset (for defaults that depend on other fields).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]
Rule = tuple[str, Any]


def dig(obj: Any, path: str) -> Any:
    for key in path.split("."):
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _parents(node: Any, parts: list[str]) -> Iterator[Obj]:
    if not parts:
        if isinstance(node, dict):
            yield node
        return
    head, rest = parts[0], parts[1:]
    child = node.get(head.removesuffix("[]")) if isinstance(node, dict) else None
    if head.endswith("[]"):
        for item in child if isinstance(child, list) else []:
            yield from _parents(item, rest)
    else:
        yield from _parents(child, rest)


def apply_rules(obj: Obj, rules: list[Rule], prefix: str = "") -> None:
    for path, value in rules:
        parts = (f"{prefix}.{path}" if prefix else path).split(".")
        for parent in _parents(obj, parts[:-1]):
            if parts[-1] in parent:
                continue
            default = value(parent) if callable(value) else copy.deepcopy(value)
            if default is not None:
                parent[parts[-1]] = default


def _pull_policy(container: Obj) -> str:
    image = container.get("image", "")
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if "@" not in image and tag in ("", "latest") else "IfNotPresent"


def _when(test: Callable[[Obj], bool], value: Any) -> Callable[[Obj], Any]:
    return lambda parent: copy.deepcopy(value) if test(parent) else None


def _container_rules(list_name: str) -> list[Rule]:
    c = f"{list_name}[]"
    rules: list[Rule] = [
        (f"{c}.terminationMessagePath", "/dev/termination-log"),
        (f"{c}.terminationMessagePolicy", "File"),
        (f"{c}.imagePullPolicy", _pull_policy),
        (f"{c}.resources", {}),
        (f"{c}.ports[].protocol", "TCP"),
    ]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        rules += [
            (f"{c}.{probe}.{field}", value)
            for field, value in (
                ("timeoutSeconds", 1),
                ("periodSeconds", 10),
                ("successThreshold", 1),
                ("failureThreshold", 3),
                ("httpGet.scheme", "HTTP"),
            )
        ]
    return rules


def _has_cluster_ip(spec: Obj) -> bool:
    return spec.get("type") != "ExternalName"


DEFAULTS: dict[str, list[Rule]] = {
    # relative to each pod spec listed in POD_SPECS
    "PodSpec": [
        ("restartPolicy", "Always"),
        ("dnsPolicy", "ClusterFirst"),
        ("schedulerName", "default-scheduler"),
        ("terminationGracePeriodSeconds", 30),
        ("securityContext", {}),
        ("volumes[].configMap.defaultMode", 420),
        ("volumes[].secret.defaultMode", 420),
        *_container_rules("containers"),
        *_container_rules("initContainers"),
    ],
    "Deployment.apps": [
        ("spec.replicas", 1),
        ("spec.revisionHistoryLimit", 10),
        ("spec.progressDeadlineSeconds", 600),
        ("spec.strategy", {}),
        ("spec.strategy.type", "RollingUpdate"),
        ("spec.strategy.rollingUpdate", _when(lambda s: s["type"] == "RollingUpdate", {})),
        ("spec.strategy.rollingUpdate.maxUnavailable", "25%"),
        ("spec.strategy.rollingUpdate.maxSurge", "25%"),
    ],
    "ReplicaSet.apps": [("spec.replicas", 1)],
    "StatefulSet.apps": [
        ("spec.replicas", 1),
        ("spec.podManagementPolicy", "OrderedReady"),
        ("spec.updateStrategy", {}),
        ("spec.updateStrategy.type", "RollingUpdate"),
        ("spec.updateStrategy.rollingUpdate", _when(lambda s: s["type"] == "RollingUpdate", {})),
        ("spec.updateStrategy.rollingUpdate.partition", 0),
        ("spec.revisionHistoryLimit", 10),
        ("spec.persistentVolumeClaimRetentionPolicy", {}),
        ("spec.persistentVolumeClaimRetentionPolicy.whenDeleted", "Retain"),
        ("spec.persistentVolumeClaimRetentionPolicy.whenScaled", "Retain"),
        ("spec.volumeClaimTemplates[].apiVersion", "v1"),
        ("spec.volumeClaimTemplates[].kind", "PersistentVolumeClaim"),
        ("spec.volumeClaimTemplates[].spec.volumeMode", "Filesystem"),
        ("spec.volumeClaimTemplates[].status", {"phase": "Pending"}),
    ],
    "Job.batch": [
        ("spec.backoffLimit", 6),
        # completions defaults to 1 only when parallelism is unset too
        ("spec.completions", _when(lambda s: "parallelism" not in s, 1)),
        ("spec.parallelism", 1),
        ("spec.completionMode", "NonIndexed"),
        ("spec.suspend", False),
        ("spec.podReplacementPolicy", _when(lambda s: "podFailurePolicy" not in s, "TerminatingOrFailed")),
    ],
    "CronJob.batch": [
        ("spec.concurrencyPolicy", "Allow"),
        ("spec.suspend", False),
        ("spec.successfulJobsHistoryLimit", 3),
        ("spec.failedJobsHistoryLimit", 1),
    ],
    "Service": [
        ("spec.type", "ClusterIP"),
        ("spec.sessionAffinity", "None"),
        ("spec.ports[].protocol", "TCP"),
        ("spec.ports[].targetPort", lambda port: port.get("port")),
        ("spec.ipFamilies", _when(_has_cluster_ip, ["IPv4"])),
        ("spec.ipFamilyPolicy", _when(_has_cluster_ip, "SingleStack")),
        ("spec.internalTrafficPolicy", _when(_has_cluster_ip, "Cluster")),
        (
            "spec.externalTrafficPolicy",
            _when(lambda s: s.get("type") in ("NodePort", "LoadBalancer"), "Cluster"),
        ),
        ("spec.allocateLoadBalancerNodePorts", _when(lambda s: s.get("type") == "LoadBalancer", True)),
    ],
    "PersistentVolumeClaim": [("spec.volumeMode", "Filesystem")],
    "Namespace": [("spec", {}), ("spec.finalizers", ["kubernetes"])],
    "Secret": [("type", "Opaque")],
    "NetworkPolicy.networking.k8s.io": [
        ("spec.policyTypes", lambda s: ["Ingress", *(["Egress"] if "egress" in s else [])]),
        ("spec.ingress[].ports[].protocol", "TCP"),
        ("spec.egress[].ports[].protocol", "TCP"),
    ],
    "HorizontalPodAutoscaler.autoscaling": [
        ("spec.minReplicas", 1),
        (
            "spec.metrics",
            [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
        ),
    ],
    "RoleBinding.rbac.authorization.k8s.io": [
        (
            "subjects[].apiGroup",
            lambda s: "" if s.get("kind") == "ServiceAccount" else "rbac.authorization.k8s.io",
        ),
    ],
    "CustomResourceDefinition.apiextensions.k8s.io": [("spec.conversion", {"strategy": "None"})],
}

# What a new object's status says before any controller has looked at it.
# Counters the API declares required are there from the start, as zeros.
INITIAL_STATUS: dict[str, Obj] = {
    "Namespace": {"phase": "Active"},
    "Pod": {"phase": "Pending"},
    "PersistentVolumeClaim": {"phase": "Pending"},
    "StatefulSet.apps": {"replicas": 0, "availableReplicas": 0},
    "ReplicaSet.apps": {"replicas": 0},
    "HorizontalPodAutoscaler.autoscaling": {"currentReplicas": 0, "desiredReplicas": 0},
}

# Where each kind keeps its pod spec(s).
POD_SPECS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment.apps": ("spec.template.spec",),
    "ReplicaSet.apps": ("spec.template.spec",),
    "StatefulSet.apps": ("spec.template.spec",),
    "Job.batch": ("spec.template.spec",),
    "CronJob.batch": ("spec.jobTemplate.spec.template.spec",),
}

# Fields an update may not change (the real messages differ a little; the status code doesn't).
IMMUTABLE: dict[str, tuple[str, ...]] = {
    "Deployment.apps": ("spec.selector",),
    "ReplicaSet.apps": ("spec.selector",),
    "StatefulSet.apps": (
        "spec.selector",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
        "spec.podManagementPolicy",
    ),
    "Job.batch": ("spec.selector", "spec.template", "spec.completionMode"),
    "Service": ("spec.clusterIP",),
    "PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.volumeMode"),
    "RoleBinding.rbac.authorization.k8s.io": ("roleRef",),
}

# --- validation: the mistakes a compiler is most likely to make -----------------------------

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DNS_LABEL = re.compile(_LABEL)
_LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL_KINDS = ("Namespace", "Service")


def _label_errors(labels: Any, field: str) -> list[tuple[str, str]]:
    errors = []
    for key, value in (labels or {}).items():
        prefix, _, name = key.rpartition("/")
        bad_key = prefix and not (_SUBDOMAIN.fullmatch(prefix) and len(prefix) <= 253)
        if bad_key or not (_LABEL_NAME.fullmatch(name) and len(name) <= 63):
            rule = "name part must consist of alphanumeric characters, '-', '_' or '.'"
            errors.append((field, f'Invalid value: "{key}": {rule}'))
        if not isinstance(value, str) or len(value) > 63 or (value and not _LABEL_NAME.fullmatch(value)):
            rule = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'"
            errors.append((field, f'Invalid value: "{value}": {rule}'))
    return errors


def _name_errors(kind: str, obj: Obj) -> list[tuple[str, str]]:
    name = obj.get("metadata", {}).get("name", "")
    if not name:
        return [("metadata.name", "Required value: name or generateName is required")]
    if kind.endswith(".rbac.authorization.k8s.io"):
        ok = "/" not in name and "%" not in name  # RBAC names need only be path segments
    elif kind in _DNS_LABEL_KINDS:
        ok = bool(_DNS_LABEL.fullmatch(name)) and len(name) <= 63
    else:
        ok = bool(_SUBDOMAIN.fullmatch(name)) and len(name) <= 253
    if ok:
        return []
    rule = "a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.'"
    return [("metadata.name", f'Invalid value: "{name}": {rule}')]


# Controllers accept only some restart policies: Jobs must finish, the others must keep running.
_RESTART = {
    "Pod": ("Always", "OnFailure", "Never"),
    "Job.batch": ("OnFailure", "Never"),
    "CronJob.batch": ("OnFailure", "Never"),
}


def _pod_spec_errors(spec: Any, at: str, restart: tuple[str, ...]) -> list[tuple[str, str]]:
    spec = spec if isinstance(spec, dict) else {}
    errors = [] if spec.get("containers") else [(f"{at}.containers", "Required value")]
    for i, container in enumerate(spec.get("containers") or []):
        for field in ("name", "image"):
            if not container.get(field):
                errors.append((f"{at}.containers[{i}].{field}", "Required value"))
    if spec.get("restartPolicy") not in restart:
        errors.append(
            (
                f"{at}.restartPolicy",
                f'Unsupported value: "{spec.get("restartPolicy")}":'
                " supported values: " + ", ".join(f'"{r}"' for r in restart),
            )
        )
    return errors


def _selector_errors(obj: Obj) -> list[tuple[str, str]]:
    selector = dig(obj, "spec.selector")
    if not selector:
        return [("spec.selector", "Required value")]
    labels = dig(obj, "spec.template.metadata.labels") or {}
    wanted = selector.get("matchLabels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return [
            (
                "spec.template.metadata.labels",
                f"Invalid value: {labels}: `selector` does not match template `labels`",
            )
        ]
    return []


def _kind_errors(kind: str, obj: Obj) -> list[tuple[str, str]]:
    spec = obj.get("spec") or {}
    errors: list[tuple[str, str]] = []
    if kind in ("Deployment.apps", "ReplicaSet.apps", "StatefulSet.apps"):
        errors += _selector_errors(obj)
    if kind == "Service" and spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None":
        errors += [] if spec.get("ports") else [("spec.ports", "Required value")]
    if kind == "Service" and len(spec.get("ports") or []) > 1:
        errors += [
            (f"spec.ports[{i}].name", "Required value") for i, port in enumerate(spec["ports"]) if not port.get("name")
        ]
    if kind == "PersistentVolumeClaim":
        if not spec.get("accessModes"):
            errors.append(("spec.accessModes", "Required value"))
        if not dig(spec, "resources.requests.storage"):
            errors.append(("spec.resources[storage]", "Required value"))
    if kind == "CustomResourceDefinition.apiextensions.k8s.io":
        expected = f"{dig(spec, 'names.plural')}.{spec.get('group')}"
        if obj["metadata"].get("name") != expected:
            errors.append(
                (
                    "metadata.name",
                    f'Invalid value: "{obj["metadata"].get("name")}": must be spec.names.plural+"."+spec.group',
                )
            )
    return errors


def validate(kind: str, obj: Obj) -> list[tuple[str, str]]:
    """(field, message) for each problem; empty when the object is acceptable."""
    errors = _name_errors(kind, obj) + _label_errors(obj["metadata"].get("labels"), "metadata.labels")
    for at in POD_SPECS.get(kind, ()):
        errors += _pod_spec_errors(dig(obj, at), at, _RESTART.get(kind, ("Always",)))
    return errors + _kind_errors(kind, obj)


def job_selector(job: Obj) -> None:
    """Jobs get a generated selector and matching template labels unless manualSelector."""
    spec, meta = job.setdefault("spec", {}), job["metadata"]
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    if not meta.get("labels") and template_meta.get("labels"):
        meta["labels"] = dict(template_meta["labels"])
    if spec.get("manualSelector") or "selector" in spec:
        return
    uid, name = meta["uid"], meta["name"]
    template_meta["labels"] = {
        **template_meta.get("labels", {}),
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
