"""What kc knows about each Kubernetes kind, one row per kind: its API version and plural, its
scope, where it goes when a bundle is applied and when it is torn down (and what the teardown says
of it), the gates that wait on it, where its pods are, whether ``kc diff`` looks for orphans of it,
and the longest name it takes.
Every other module asks here; adding a kind is adding a row. A kind is found by its name alone,
whatever its group, except for the teardown phase and the plural, which only Kubernetes' own
groups get (a custom resource may share a built-in kind's name, as Knative's Service does)."""

from __future__ import annotations

from typing import Any, Literal

from kc.schemas.record import Record

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

# Why a phase's objects go where they do, as its teardown steps say; the workloads' and the
# namespace's steps say it object by object.
TEARDOWN_WHY: dict[Phase, str] = {
    "resources": "a custom resource: before the workloads, one of which may be its controller, and before its CRD",
    "services": "routed to workloads that are gone",
    "budgets": "guarded pods that are gone",
    "autoscalers": "scaled a workload that is gone",
    "network": "governed pods that are gone",
    "config": "read by pods that are gone",
    "other": "an object of this bundle, after its workloads",
    "access": "used by pods that are gone",
    "workspace": "limited objects that are gone",
    "data": "a claim: deleting it deletes its data; kept unless data is deleted",
    "definitions": "after its custom resources; skipped while custom resources that kc did not delete remain",
}
# A Secret that carries kc.dev/generate: its values exist nowhere else, so it is data too.
GENERATED_SECRET_WHY = (
    "a Secret whose values kc apply generated: deleting it loses them, and readers get new ones; "
    "kept unless data is deleted"
)

# Where an object keeps the pods it runs: its pod template, its Job template's pod template, or
# the object is the pod.
PodTemplate = Literal["spec.template", "spec.jobTemplate.spec.template", "object"]
_DNS_SUBDOMAIN = 253  # characters
_PODS = "its Pods"


class Kind(Record, kw_only=False):
    name: str
    api_version: str  # what kc writes; what kc diff lists and teardown sweeps ask for
    # What kubectl calls it; "<plural>.<group>" resolves without ambiguity even when a custom
    # resource shares the kind's name. None: the lower-cased kind, which kubectl resolves too.
    plural: str | None
    # False for kinds outside any namespace, which deleting the namespace does not reach.
    # https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#not-all-objects-are-in-a-namespace
    namespaced: bool
    # Its place within a bundle, what others need first (docs/language.md, Order, bundles and
    # gates); spaced so that a new kind fits between two. None: last, with the kinds kc does not know.
    rank: int | None
    phase: Phase  # in a bundle's teardown
    gates: tuple[str, ...] = ()  # the gates (ir.GateKind) that wait on objects of this kind
    pod_template: PodTemplate | None = None
    long_running: bool = False  # its pods keep running: probes, `health` defaults, require-health
    # kc's built-in patterns write it: kc diff lists it even when the plan has none, so that the
    # orphans of a removed stage are found. Other kinds are listed when the plan has them.
    listed: bool = False
    # Names longer than a DNS subdomain are refused everywhere; some kinds allow less: a DNS label
    # (63), or less still where a controller appends to the name (a StatefulSet's pods and
    # revisions, a CronJob's Jobs).
    name_limit: int = _DNS_SUBDOMAIN
    # What deleting it in the foreground removes before it goes (the teardown of a workload).
    dependents: str = _PODS


_ROLLOUT = ("rollout", "pods-running", "ready")
# fmt: off
ROWS = (
    # name, apiVersion, plural, namespaced, rank, teardown phase; then what only some kinds have
    Kind("Namespace", "v1", "namespaces", False, 10, "namespace", listed=True, name_limit=63),
    Kind("ResourceQuota", "v1", "resourcequotas", True, 20, "workspace", listed=True),
    Kind("LimitRange", "v1", "limitranges", True, 30, "workspace", listed=True),
    Kind("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", True, 40, "network", listed=True),
    Kind("ServiceAccount", "v1", "serviceaccounts", True, 50, "access", listed=True),
    Kind("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", False, 60, "access"),
    Kind("Role", "rbac.authorization.k8s.io/v1", "roles", True, 70, "access"),
    Kind("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", False, 80, "access"),
    Kind("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", True, 90, "access"),
    Kind("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions", False, 100,
         "definitions", gates=("established",)),
    Kind("ConfigMap", "v1", "configmaps", True, 110, "config", listed=True),
    Kind("Secret", "v1", "secrets", True, 120, "config"),
    Kind("PersistentVolumeClaim", "v1", "persistentvolumeclaims", True, 130, "data", listed=True),
    Kind("Service", "v1", "services", True, 140, "services", listed=True, name_limit=63),
    Kind("Deployment", "apps/v1", "deployments", True, 150, "workloads",
         gates=_ROLLOUT, pod_template="spec.template", long_running=True, listed=True,
         dependents="its ReplicaSets and their Pods"),
    Kind("StatefulSet", "apps/v1", "statefulsets", True, 160, "workloads",
         gates=_ROLLOUT, pod_template="spec.template", long_running=True, listed=True, name_limit=52),
    Kind("DaemonSet", "apps/v1", "daemonsets", True, 170, "workloads",
         gates=("rollout",), pod_template="spec.template"),
    Kind("ReplicaSet", "apps/v1", "replicasets", True, 180, "workloads", pod_template="spec.template"),
    Kind("Pod", "v1", "pods", True, 190, "workloads", pod_template="object"),
    Kind("PodDisruptionBudget", "policy/v1", "poddisruptionbudgets", True, 200, "budgets", listed=True),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", True, 210, "autoscalers",
         listed=True),
    Kind("Ingress", "networking.k8s.io/v1", "ingresses", True, 220, "services", listed=True),
    Kind("Job", "batch/v1", "jobs", True, 230, "workloads", gates=("job-complete",), pod_template="spec.template",
         listed=True),
    Kind("CronJob", "batch/v1", "cronjobs", True, 240, "workloads", pod_template="spec.jobTemplate.spec.template",
         listed=True, name_limit=52, dependents="its Jobs and their Pods"),
    # Kinds kc gives no place in a bundle (they go last) nor a teardown rule: what it knows is
    # their scope, so that teardown names them without a namespace.
    Kind("PriorityClass", "scheduling.k8s.io/v1", "priorityclasses", False, None, "other"),
    Kind("StorageClass", "storage.k8s.io/v1", "storageclasses", False, None, "other"),
    Kind("APIService", "apiregistration.k8s.io/v1", None, False, None, "other"),
    Kind("CSIDriver", "storage.k8s.io/v1", None, False, None, "other"),
    Kind("IngressClass", "networking.k8s.io/v1", None, False, None, "other"),
    Kind("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1", None, False, None, "other"),
    Kind("PersistentVolume", "v1", None, False, None, "other"),
    Kind("RuntimeClass", "node.k8s.io/v1", None, False, None, "other"),
    Kind("ValidatingAdmissionPolicy", "admissionregistration.k8s.io/v1", None, False, None, "other"),
    Kind("ValidatingAdmissionPolicyBinding", "admissionregistration.k8s.io/v1", None, False, None, "other"),
    Kind("ValidatingWebhookConfiguration", "admissionregistration.k8s.io/v1", None, False, None, "other"),
)
# fmt: on
_BY_NAME = {k.name: k for k in ROWS}
_UNRANKED = 1 + max(k.rank for k in ROWS if k.rank is not None)


def row(kind: str) -> Kind | None:
    """The row of ``kind``, found by its name alone; None for a kind kc does not know."""
    return _BY_NAME.get(kind)


def api_version(kind: str) -> str:
    """The apiVersion kc writes for ``kind``, a kind it knows."""
    return _BY_NAME[kind].api_version


def rank(kind: str) -> int:
    """Its place within a bundle, lowest first; kinds without one come after all others."""
    known = _BY_NAME.get(kind)
    return _UNRANKED if known is None or known.rank is None else known.rank


def cluster_scoped(kind: str) -> bool:
    """Unknown kinds count as namespaced: a custom resource's scope is in its definition."""
    known = _BY_NAME.get(kind)
    return known is not None and not known.namespaced


def gated(kind: str, gate: str) -> bool:
    """Whether ``gate`` waits on the objects of ``kind``."""
    known = _BY_NAME.get(kind)
    return known is not None and gate in known.gates


def pod_template(kind: str) -> PodTemplate | None:
    known = _BY_NAME.get(kind)
    return None if known is None else known.pod_template


def long_running(kind: str) -> bool:
    known = _BY_NAME.get(kind)
    return known is not None and known.long_running


def name_limit(kind: str) -> int:
    """The longest name the API server takes for an object of ``kind``."""
    known = _BY_NAME.get(kind)
    return _DNS_SUBDOMAIN if known is None else known.name_limit


def dependents(kind: str) -> str:
    """What a foreground deletion of an object of ``kind`` removes before the object goes."""
    known = _BY_NAME.get(kind)
    return _PODS if known is None else known.dependents


def listed() -> tuple[tuple[str, str], ...]:
    """(apiVersion, kind) of the kinds kc diff lists whatever the plan holds, in apply order."""
    return tuple((k.api_version, k.name) for k in sorted(ROWS, key=lambda k: rank(k.name)) if k.listed)


def group(api_version: str) -> str:
    """``apps/v1`` -> ``apps``; the core group (``v1``) is ""."""
    return api_version.rpartition("/")[0]


def builtin(api_version: str) -> bool:
    """Whether the API group is Kubernetes' own (core, ``apps``, ``*.k8s.io``), not a CRD's."""
    g = group(api_version)
    return "." not in g or g.endswith(".k8s.io")


def phase(kind: str, api_version: str) -> Phase:
    """Custom resources come first; built-in kinds kc has no rule for go with "other"."""
    if not builtin(api_version):
        return "resources"
    known = _BY_NAME.get(kind)
    return "other" if known is None else known.phase


def resource(kind: str, api_version: str, crds: dict[tuple[str, str], str] | None = None) -> str:
    """The name kubectl resolves to exactly this kind: ``deployments.apps``, ``services``.

    A custom resource takes its plural from its CustomResourceDefinition when the plan has it,
    else its lower-cased kind, which is the singular name a CRD gets unless it says otherwise."""
    g = group(api_version)
    if builtin(api_version):
        known = _BY_NAME.get(kind)
        plural = None if known is None else known.plural
    else:
        plural = (crds or {}).get((g, kind))
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
