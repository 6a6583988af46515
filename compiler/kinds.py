"""What kubectl calls each kind, which kinds are cluster-scoped, and where each kind goes in a
teardown: the facts about Kubernetes kinds that the teardown plan is built from."""

from __future__ import annotations

from typing import Any, Literal

# The phases of one bundle's teardown, in the order they run (docs/teardown.md explains why).
Phase = Literal[
    "resources",  # custom resources: before their controllers and before their definitions
    "workloads",  # what runs pods, so nothing restarts what later phases delete
    "services",
    "budgets",
    "autoscalers",
    "network",
    "config",
    "other",  # built-in kinds kc has no rule for
    "access",
    "workspace",
    "data",  # claims: only with --delete-data or policy data: delete
    "definitions",  # CustomResourceDefinitions, after the custom resources
    "namespace",
]
PHASES: tuple[Phase, ...] = (
    "resources",
    "workloads",
    "services",
    "budgets",
    "autoscalers",
    "network",
    "config",
    "other",
    "access",
    "workspace",
    "data",
    "definitions",
    "namespace",
)

_PHASE: dict[str, Phase] = {
    "CronJob": "workloads",
    "Job": "workloads",
    "Pod": "workloads",
    "ReplicaSet": "workloads",
    "DaemonSet": "workloads",
    "StatefulSet": "workloads",
    "Deployment": "workloads",
    "Ingress": "services",
    "Service": "services",
    "PodDisruptionBudget": "budgets",
    "HorizontalPodAutoscaler": "autoscalers",
    "NetworkPolicy": "network",
    "ConfigMap": "config",
    "Secret": "config",
    "RoleBinding": "access",
    "ClusterRoleBinding": "access",
    "Role": "access",
    "ClusterRole": "access",
    "ServiceAccount": "access",
    "ResourceQuota": "workspace",
    "LimitRange": "workspace",
    "PersistentVolumeClaim": "data",
    "CustomResourceDefinition": "definitions",
    "Namespace": "namespace",
}

# Plural resource names of the built-in kinds kc knows; kubectl resolves "<plural>.<group>"
# without ambiguity even when a custom resource shares a kind's name (Knative's Service).
_PLURAL: dict[str, str] = {
    "ConfigMap": "configmaps",
    "CronJob": "cronjobs",
    "CustomResourceDefinition": "customresourcedefinitions",
    "DaemonSet": "daemonsets",
    "Deployment": "deployments",
    "HorizontalPodAutoscaler": "horizontalpodautoscalers",
    "Ingress": "ingresses",
    "Job": "jobs",
    "LimitRange": "limitranges",
    "Namespace": "namespaces",
    "NetworkPolicy": "networkpolicies",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Pod": "pods",
    "PodDisruptionBudget": "poddisruptionbudgets",
    "PriorityClass": "priorityclasses",
    "ReplicaSet": "replicasets",
    "ResourceQuota": "resourcequotas",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
    "Secret": "secrets",
    "Service": "services",
    "ServiceAccount": "serviceaccounts",
    "StatefulSet": "statefulsets",
    "StorageClass": "storageclasses",
}

# Kinds that live outside any namespace: deleting the namespace does not reach them.
# https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#not-all-objects-are-in-a-namespace
CLUSTER_SCOPED = frozenset(
    {
        "APIService",
        "CSIDriver",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "PersistentVolume",
        "PriorityClass",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
    }
)


def group(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; the core group (``v1``) is ""."""
    return api_version.rpartition("/")[0]


def builtin(api_version: str) -> bool:
    """Whether the API group is Kubernetes' own (core, ``apps``, ``*.k8s.io``), not a CRD's."""
    g = group(api_version)
    return "." not in g or g.endswith(".k8s.io")


def phase(kind: str, api_version: str) -> Phase:
    if kind in _PHASE and builtin(api_version):
        return _PHASE[kind]
    return "other" if builtin(api_version) else "resources"


def resource(kind: str, api_version: str, crds: dict[tuple[str, str], str] | None = None) -> str:
    """The name kubectl resolves to exactly this kind: ``deployments.apps``, ``services``.

    A custom resource takes its plural from its CustomResourceDefinition when the plan has it,
    else its lower-cased kind, which is the singular name a CRD gets unless it says otherwise."""
    g = group(api_version)
    plural = _PLURAL.get(kind) if builtin(api_version) else (crds or {}).get((g, kind))
    name = plural or kind.lower()
    return f"{name}.{g}" if g else name


def crd_names(manifests: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, kind) -> plural, for every CustomResourceDefinition among ``manifests``."""
    out: dict[tuple[str, str], str] = {}
    for m in manifests:
        if m.get("kind") == "CustomResourceDefinition":
            spec = m.get("spec") or {}
            names = spec.get("names") or {}
            if spec.get("group") and names.get("kind") and names.get("plural"):
                out[(str(spec["group"]), str(names["kind"]))] = str(names["plural"])
    return out


def crd_scopes(manifests: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(group, kind) -> ``Namespaced`` or ``Cluster``, for every CRD among ``manifests``."""
    out: dict[tuple[str, str], str] = {}
    for m in manifests:
        if m.get("kind") == "CustomResourceDefinition":
            spec = m.get("spec") or {}
            kind = (spec.get("names") or {}).get("kind")
            if spec.get("group") and kind:
                out[(str(spec["group"]), str(kind))] = str(spec.get("scope", "Namespaced"))
    return out
