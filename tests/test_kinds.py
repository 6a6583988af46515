"""The kind registry (compiler/kinds.py): every built-in kind that kc's patterns and the examples
emit has a row, and each view the other modules take of the rows is what it always was."""

from __future__ import annotations

import typing
from functools import cache

import pytest
import yaml
from cases import CASES
from conftest import ROOT
from kc.compiler import arguments, commands, ir, kinds
from kc.compiler.diagnostics import Pos

# Each view as it stood before the rows replaced the tables it came from.
APPLY_ORDER = (
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "NetworkPolicy",
    "ServiceAccount",
    "ClusterRole",
    "Role",
    "ClusterRoleBinding",
    "RoleBinding",
    "CustomResourceDefinition",
    "ConfigMap",
    "Secret",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "Ingress",
    "Job",
    "CronJob",
)
PHASES = {
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
PLURALS = {
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
CLUSTER_SCOPED = {
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
GATED = {
    "none": set(),
    "rollout": {"Deployment", "StatefulSet", "DaemonSet"},
    "pods-running": {"StatefulSet", "Deployment"},
    "ready": {"StatefulSet", "Deployment"},
    "job-complete": {"Job"},
    "established": {"CustomResourceDefinition"},
}
POD_TEMPLATES = {
    "Deployment": "spec.template",
    "StatefulSet": "spec.template",
    "DaemonSet": "spec.template",
    "ReplicaSet": "spec.template",
    "Job": "spec.template",
    "CronJob": "spec.jobTemplate.spec.template",
    "Pod": "object",
}
LISTED = (
    ("v1", "Namespace"),
    ("v1", "ResourceQuota"),
    ("v1", "LimitRange"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("v1", "ServiceAccount"),
    ("v1", "ConfigMap"),
    ("v1", "PersistentVolumeClaim"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("networking.k8s.io/v1", "Ingress"),
    ("batch/v1", "Job"),
    ("batch/v1", "CronJob"),
)
NAME_LIMITS = {"Namespace": 63, "Service": 63, "StatefulSet": 52, "CronJob": 52}
DEPENDENTS = {"CronJob": "its Jobs and their Pods", "Deployment": "its ReplicaSets and their Pods"}
NAMES = [k.name for k in kinds.ROWS]
UNKNOWN = "Widget"  # a built-in group's kind that kc has no row for


@cache
def compiled(case: str) -> ir.Program:
    spec, flags = CASES[case]
    return commands.build(arguments.parser().parse_args(["compile", str(ROOT / spec), *flags]))


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_builtin_kind_a_case_emits_has_a_row(case: str) -> None:
    for obj in compiled(case).objects:
        api_version = str(obj.manifest["apiVersion"])
        if not kinds.builtin(api_version):
            continue  # a custom resource: what kc needs to know of it is in its definition
        row = kinds.row(obj.kind)
        assert row is not None, f"{case}: {api_version} {obj.kind} has no row in compiler/kinds.py"
        assert kinds.group(row.api_version) == kinds.group(api_version), f"{case}: {obj.kind}"


def test_every_main_kind_of_a_library_pattern_has_a_row() -> None:
    for path in sorted((ROOT / "compiler" / "patterns" / "library").glob("*/pattern.yaml")):
        manifest = yaml.safe_load(path.read_text())
        for key in ("main", "service"):
            if manifest.get(key):
                assert kinds.row(manifest[key]) is not None, f"{path.parent.name}: {key} {manifest[key]}"


def test_one_row_per_kind_and_one_rank_per_row() -> None:
    assert len(set(NAMES)) == len(NAMES)
    ranks = [k.rank for k in kinds.ROWS if k.rank is not None]
    assert len(set(ranks)) == len(ranks)


def test_apply_order() -> None:
    ranked = [k.name for k in kinds.ROWS if k.rank is not None]
    assert tuple(sorted(ranked, key=kinds.rank)) == APPLY_ORDER
    assert all(kinds.rank(UNKNOWN) > kinds.rank(name) for name in APPLY_ORDER)
    assert {kinds.rank(name) for name in NAMES if name not in APPLY_ORDER} == {kinds.rank(UNKNOWN)}


def test_a_bundle_holds_its_objects_in_apply_order_unknown_kinds_last_in_step_order() -> None:
    def obj(kind: str, name: str) -> ir.Object:
        return ir.Object({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}}, "s", "s", Pos("x"))

    first = (obj("CronTab", "a"), obj("Job", "b"), obj("StorageClass", "c"))
    second = (obj("Namespace", "d"), obj(UNKNOWN, "e"), obj("Deployment", "f"))
    bundle = ir.Bundle(1, "b", (ir.Step("s", "s", ir.Gate("none"), first), ir.Step("t", "t", ir.Gate("none"), second)))
    assert [o.name for o in bundle.objects] == ["d", "f", "b", "a", "c", "e"]


def test_teardown_phases() -> None:
    for row in kinds.ROWS:
        assert kinds.phase(row.name, row.api_version) == PHASES.get(row.name, "other"), row.name
    assert kinds.phase(UNKNOWN, "apps/v1") == "other"
    # A custom resource's phase, whatever its name: Knative's Service is not a Service.
    assert kinds.phase("Service", "serving.knative.dev/v1") == "resources"
    assert kinds.phase(UNKNOWN, "example.com/v1") == "resources"


def test_resources() -> None:
    for row in kinds.ROWS:
        want = PLURALS.get(row.name, row.name.lower())
        group = kinds.group(row.api_version)
        assert kinds.resource(row.name, row.api_version) == (f"{want}.{group}" if group else want)
    assert kinds.resource(UNKNOWN, "v1") == "widget"
    assert kinds.resource("Service", "serving.knative.dev/v1") == "service.serving.knative.dev"
    crds = {("serving.knative.dev", "Service"): "services"}
    assert kinds.resource("Service", "serving.knative.dev/v1", crds) == "services.serving.knative.dev"


def test_scopes() -> None:
    assert {name for name in [*NAMES, UNKNOWN] if kinds.cluster_scoped(name)} == CLUSTER_SCOPED


def test_gates() -> None:
    for gate in typing.get_args(ir.GateKind):
        assert {name for name in [*NAMES, UNKNOWN] if kinds.gated(name, gate)} == GATED[gate], gate
    assert {gate for row in kinds.ROWS for gate in row.gates} <= set(typing.get_args(ir.GateKind))


def test_pods() -> None:
    assert {name: kinds.pod_template(name) for name in NAMES if kinds.pod_template(name)} == POD_TEMPLATES
    assert {name for name in [*NAMES, UNKNOWN] if kinds.long_running(name)} == {"Deployment", "StatefulSet"}


def test_name_limits() -> None:
    assert {name: kinds.name_limit(name) for name in NAMES if kinds.name_limit(name) != 253} == NAME_LIMITS
    assert kinds.name_limit(UNKNOWN) == 253


def test_teardown_wording() -> None:
    assert {n: kinds.dependents(n) for n in [*NAMES, UNKNOWN] if kinds.dependents(n) != "its Pods"} == DEPENDENTS
    # Every phase says why, except those whose steps say it object by object.
    assert set(kinds.PHASES) - set(kinds.TEARDOWN_WHY) == {"workloads", "namespace"}


def test_kc_diff_lists_what_the_patterns_write() -> None:
    assert kinds.listed() == LISTED


def test_teardown_sweeps_ask_for_what_kc_writes() -> None:
    assert [kinds.api_version(k) for k in ("Job", "Pod", "ConfigMap", "PersistentVolumeClaim")] == [
        "batch/v1",
        "v1",
        "v1",
        "v1",
    ]
