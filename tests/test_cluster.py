"""kc diff, kc apply and kc teardown through the real Kubernetes client, against a real cluster.

The cluster is the local one tests/cluster/up builds and starts (kube-apiserver, the controllers
and the scheduler from the official modules; kwok's fake nodes run the pods), or any cluster
KC_TEST_KUBECONFIG names. Every test works in namespaces of its own (a random instance name) and
removes them. docs/cluster.md says what the real server showed that a fake could not.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import io
import json
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cases import CASES
from conftest import ROOT, Cluster
from kc.cluster import client as cluster_client
from kc.compiler import cli
from kubernetes import client, config

pytestmark = pytest.mark.cluster
SHOP = ROOT / "examples" / "shop" / "pipeline.spec"
OWNED = "app.kubernetes.io/managed-by=kc"


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]


@dataclass
class Target:
    """The cluster under test, a way to run kc against it, and the requests kc sent."""

    kubeconfig: Path
    capsys: pytest.CaptureFixture[str]
    timeout: str = "2m"
    cleanup: list[list[str]] = field(default_factory=list)
    undo: list[Callable[[], object]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def kc(self, *argv: str, cluster: bool = True, kubeconfig: Path | None = None) -> Run:
        self.capsys.readouterr()
        extra = ["--kubeconfig", str(kubeconfig or self.kubeconfig)] if cluster else []
        code = cli.main([*argv, *extra])
        out, err = self.capsys.readouterr()
        return Run(code, out, err)

    def api(self) -> Any:
        return config.new_client_from_config(config_file=str(self.kubeconfig))


@pytest.fixture
def target(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Target]:
    found = Target(cluster.kubeconfig, capsys)
    sent = cluster_client.Client._call

    def recording(self: cluster_client.Client, verb: str, method: str, path: str, *args: Any, **kw: Any) -> Any:
        found.requests.append(Request(method, path, dict(kw.get("query") or {})))
        return sent(self, verb, method, path, *args, **kw)

    watch = cluster_client.Client.changed

    def watching(self: cluster_client.Client, kind: cluster_client.Kind, *args: Any, **kw: Any) -> bool:
        found.requests.append(Request("WATCH", kind.path(args[0]), {k: str(v) for k, v in kw.items()}))
        return watch(self, kind, *args, **kw)

    monkeypatch.setattr(cluster_client.Client, "_call", recording)
    monkeypatch.setattr(cluster_client.Client, "changed", watching)
    yield found
    for argv in found.cleanup:  # whatever a failed test left behind
        cli.main([*argv, "--kubeconfig", str(cluster.kubeconfig), "--yes", "--delete-data"])
    for undo in reversed(found.undo):
        undo()


def instance() -> list[str]:
    return ["--instance", f"kct-{secrets.token_hex(3)}"]


def shop(target: Target, tmp_path: Path, edit: dict[str, str] | None = None) -> tuple[Path, list[str]]:
    """A copy of the shop example (edited) and the flags that make it this test's own instance."""
    text = SHOP.read_text()
    for old, new in (edit or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "shop" / "pipeline.spec"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    flags = instance()
    target.cleanup.append(["teardown", str(path), *flags])
    return path, flags


def spec(target: Target, tmp_path: Path, body: str, name: str = "pipeline.spec") -> tuple[Path, list[str]]:
    path = tmp_path / "small" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    flags = instance()
    target.cleanup.append(["teardown", str(path), *flags])
    return path, flags


SMALL = """\
kc: 1
pipeline: small
stages:
  settings:
    pattern: config
    data: {{GREETING: hello}}
  scratch:
    pattern: volume
    size: 1Gi
  web:
    pattern: service
    image: {image}
    port: 8080
    env: {{GREETING: {{config: settings/GREETING}}}}
"""


def small(services: int = 1, image: str = "nginx:1.27.3", extra: str = "") -> str:
    more = "".join(
        f"  web{i}:\n    pattern: service\n    image: {image}\n    port: 8080\n" for i in range(2, services + 1)
    )
    return SMALL.format(image=image) + extra + more


def namespace_of(flags: list[str]) -> str:
    return flags[flags.index("--instance") + 1]


def labelled(target: Target, instance: str) -> list[str]:
    """Every object of the standard kinds, in any namespace, that carries the instance's label."""
    api = target.api()
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    selector = f"kc.dev/instance={instance}"
    listings: list[Callable[..., Any]] = [
        core.list_namespace,
        core.list_config_map_for_all_namespaces,
        core.list_secret_for_all_namespaces,
        core.list_service_for_all_namespaces,
        core.list_persistent_volume_claim_for_all_namespaces,
        core.list_pod_for_all_namespaces,
        apps.list_deployment_for_all_namespaces,
        apps.list_stateful_set_for_all_namespaces,
        batch.list_job_for_all_namespaces,
        batch.list_cron_job_for_all_namespaces,
    ]
    return sorted(
        f"{o.kind or type(o).__name__}/{o.metadata.name}" for f in listings for o in f(label_selector=selector).items
    )


VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
RESOURCES = (
    "namespaces",
    "resourcequotas",
    "limitranges",
    "networkpolicies",
    "serviceaccounts",
    "configmaps",
    "secrets",
    "persistentvolumeclaims",
    "services",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "pods",
    "poddisruptionbudgets",
    "horizontalpodautoscalers",
    "ingresses",
    "jobs",
    "cronjobs",
    "customresourcedefinitions",
)


def restricted_kubeconfig(target: Target, tmp_path: Path, forbid: tuple[str, str]) -> Path:
    """A kubeconfig for a service account that may do everything but one verb on one resource
    (RBAC grants; it cannot deny, so the grants leave that one out)."""
    verb, resource = forbid
    name = f"kct-limited-{secrets.token_hex(3)}"
    api = target.api()
    core, rbac = client.CoreV1Api(api), client.RbacAuthorizationV1Api(api)
    rules = [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": [v for v in VERBS if v != verb]},
        {"apiGroups": ["*"], "resources": [r for r in RESOURCES if r != resource], "verbs": [verb]},
    ]
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
    target.undo.append(lambda: rbac.delete_cluster_role(name))
    core.create_namespaced_service_account("default", {"metadata": {"name": name}})
    target.undo.append(lambda: core.delete_namespaced_service_account(name, "default"))
    subject = {"kind": "ServiceAccount", "name": name, "namespace": "default"}
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
    rbac.create_cluster_role_binding({"metadata": {"name": name}, "roleRef": role, "subjects": [subject]})
    target.undo.append(lambda: rbac.delete_cluster_role_binding(name))
    token = core.create_namespaced_service_account_token(name, "default", {"spec": {"expirationSeconds": 3600}})
    ca = base64.b64encode(Path(api.configuration.ssl_ca_cert).read_bytes()).decode()
    kubeconfig = tmp_path / f"{name}.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": name,
                "clusters": [
                    {"name": name, "cluster": {"server": api.configuration.host, "certificate-authority-data": ca}}
                ],
                "users": [{"name": name, "user": {"token": token.status.token}}],
                "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            }
        )
    )
    return kubeconfig


# --- the whole story -----------------------------------------------------------------------------


def test_apply_diff_change_apply_teardown(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    ns = namespace_of(flags)

    first = target.kc("diff", str(path), *flags)
    assert first.code == 1
    assert "20 to create, 0 to change, 0 orphaned, 0 conflicts, 0 unchanged" in first.out

    applied = target.kc("apply", str(path), *flags, "--timeout", target.timeout)
    assert applied.code == 0, applied.err
    assert "20 created, 0 configured, 0 unchanged" in applied.err
    for gate in ("db: all replicas ready", "migrate: job complete", "api: rollout complete"):
        assert f"gate passed: {gate}" in applied.err

    watched = {r.path.rpartition("/")[2] for r in target.requests if r.method == "WATCH"}
    assert {"statefulsets", "jobs", "deployments"} <= watched, "the gates watch the objects they wait on"

    after = target.kc("diff", str(path), *flags)
    assert after.code == 0, after.out
    assert "0 to create, 0 to change, 0 orphaned, 0 conflicts, 20 unchanged" in after.out

    # The spec changes: one more replica, one more variable, a longer migration timeout (a new Job).
    path.write_text(
        path.read_text()
        .replace("    replicas: 2\n", "    replicas: 3\n")
        .replace("      DB_PASSWORD:", '      FEATURE_X: "on"\n      DB_PASSWORD:')
        .replace("timeout: 10m", "timeout: 15m")
    )
    api_line = path.read_text().splitlines().index("  api:") + 1  # the stage that makes the Deployment
    changed = target.kc("diff", str(path), *flags, "-o", "json")
    assert changed.code == 1
    report = json.loads(changed.out)
    assert report["summary"] == {"create": 1, "change": 1, "orphaned": 1, "conflicts": 0, "unchanged": 18}
    deployment = next(c for c in report["change"] if c["kind"] == "Deployment")
    fields = {f["path"]: f for f in deployment["fields"]}
    assert fields["spec.replicas"] == {
        "path": "spec.replicas",
        "op": "changed",
        "before": 2,
        "after": 3,
        "source": f"pipeline.spec:{api_line}",
    }
    env = fields["spec.template.spec.containers[api].env[FEATURE_X]"]
    assert (env["op"], env["after"]) == ("added", {"name": "FEATURE_X", "value": "on"})
    assert not [p for p in fields if "annotations" in p], "kc's bookkeeping annotations are no differences"
    [created], [orphan] = report["create"], report["orphaned"]
    assert created["kind"] == orphan["kind"] == "Job" and created["name"] != orphan["name"]
    assert created["name"].startswith(f"{ns}-migrate-") and orphan["name"].startswith(f"{ns}-migrate-")
    assert created["run"] == {"stage": "migrate", "reason": "changed", "upstream": [], "text": "will run: changed"}

    text = target.kc("diff", str(path), *flags)
    assert f"~ Deployment {ns}/{ns}-api  (pipeline.spec:{api_line})" in text.out
    assert "    spec.replicas: 2 -> 3" in text.out
    assert f"- Job {ns}/{orphan['name']}  orphaned: no longer in the plan" in text.out

    again = target.kc("apply", str(path), *flags, "--prune", "--timeout", target.timeout)
    assert again.code == 0, again.err
    assert f"pruned Job {ns}/{orphan['name']}" in again.err
    assert target.kc("diff", str(path), *flags).code == 0

    # The schedule fires: a Job made from the CronJob's template, as the CronJob controller makes it.
    batch = client.BatchV1Api(target.api())
    cron = batch.read_namespaced_cron_job(f"{ns}-report", ns)
    template = target.api().sanitize_for_serialization(cron.spec.job_template)
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": cron.metadata.name, "uid": cron.metadata.uid}
    batch.create_namespaced_job(
        ns,
        {
            "metadata": {
                **template["metadata"],
                "name": f"{ns}-report-1",
                "ownerReferences": [{**owner, "controller": True}],
            },
            "spec": template["spec"],
        },
    )
    assert target.kc("diff", str(path), *flags).code == 0, "a CronJob's Job is no orphan"

    down = target.kc("teardown", str(path), *flags, "--yes", "--delete-data", "--timeout", target.timeout)
    assert down.code == 0, down.err
    assert "0 kept" in down.err
    core = client.CoreV1Api(target.api())
    assert ns not in [n.metadata.name for n in core.list_namespace().items]
    selector = f"app.kubernetes.io/instance={ns}"
    assert core.list_persistent_volume_claim_for_all_namespaces(label_selector=selector).items == []
    assert labelled(target, ns) == []


def test_reapply_changes_nothing(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    assert target.kc("apply", str(path), *flags, "--timeout", target.timeout).code == 0
    ns = namespace_of(flags)
    apps = client.AppsV1Api(target.api())
    before = apps.read_namespaced_deployment(f"{ns}-api", ns).metadata.resource_version
    writes = len(target.requests)
    again = target.kc("apply", str(path), *flags, "--timeout", target.timeout)
    assert again.code == 0
    assert "0 created, 0 configured, 20 unchanged" in again.err
    assert apps.read_namespaced_deployment(f"{ns}-api", ns).metadata.resource_version == before
    # Nothing new or changed: no dry run before the first bundle, one apply per object.
    patches = [r for r in target.requests[writes:] if r.method == "PATCH" and "dryRun" not in r.query]
    dry_runs = [r for r in target.requests[writes:] if r.method == "PATCH" and r.query.get("dryRun") == "All"]
    assert len(patches) == 20 and all(r.query["fieldManager"] == "kc" for r in patches)
    assert dry_runs == []
    assert not [r for r in target.requests[writes:] if r.method in ("POST", "PUT", "DELETE")]
    assert target.kc("teardown", str(path), *flags, "--yes", "--delete-data").code == 0


# --- diff ----------------------------------------------------------------------------------------


def _diff_requests(target: Target, tmp_path: Path, services: int) -> list[tuple[str, str]]:
    path, flags = spec(target, tmp_path, small(services), f"s{services}.spec")
    assert target.kc("apply", str(path), *flags).code == 0
    start = len(target.requests)
    assert target.kc("diff", str(path), *flags).code == 0
    return [(r.method, re.sub(r"kct-\w+", "NS", r.path)) for r in target.requests[start:]]


def test_diff_costs_one_request_per_kind_and_namespace(target: Target, tmp_path: Path) -> None:
    few = _diff_requests(target, tmp_path, 1)
    many = _diff_requests(target, tmp_path, 12)
    assert sorted(few) == sorted(many), "the number of objects must not change the requests"
    assert all(method == "GET" for method, _ in few)
    lists = [path for _, path in few if "/namespaces/NS/" in path or path == "/api/v1/namespaces"]
    assert len(lists) == len(set(lists)), "one LIST per kind and namespace"
    assert len(few) < 30


def test_diff_ignores_what_the_server_and_controllers_write(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags).code == 0
    apps = client.AppsV1Api(target.api())
    # Another client writes a quantity another way, and annotations of its own.
    limit = "/spec/template/spec/containers/0/resources/limits/cpu"
    limits = apps.read_namespaced_deployment(f"{ns}-web", ns).spec.template.spec.containers[0].resources.limits
    assert (limits["cpu"], limits["memory"]) == ("250m", "256Mi")
    apps.patch_namespaced_deployment(f"{ns}-web", ns, [{"op": "replace", "path": limit, "value": "0.25"}])
    note = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "7", "example.com/note": "x"}}}
    apps.patch_namespaced_deployment(f"{ns}-web", ns, note)
    start = len(target.requests)
    run = target.kc("diff", str(path), *flags)
    assert run.code == 0, run.out
    assert not [r for r in target.requests[start:] if r.method != "GET"], "no dry run was needed"


def test_diff_reports_removed_fields_that_kc_applied(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    assert target.kc("apply", str(path), *flags, "--timeout", target.timeout).code == 0
    path.write_text(path.read_text().replace(", tls-secret: shop-tls}", "}"))
    run = target.kc("diff", str(path), *flags)
    assert run.code == 1
    assert '    spec.tls: removed (was [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}])' in run.out
    assert [r for r in target.requests if r.query.get("dryRun") == "All"]


def test_diff_falls_back_when_dry_run_is_forbidden(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    assert target.kc("apply", str(path), *flags).code == 0
    path.write_text(path.read_text().replace("nginx:1.27.3", "nginx:1.27.4"))
    limited = restricted_kubeconfig(target, tmp_path, forbid=("patch", "deployments"))
    run = target.kc("diff", str(path), *flags, kubeconfig=limited)
    assert run.code == 1
    assert "no server-side dry run (the cluster forbids patch on deployments.apps" in run.err
    assert 'spec.template.spec.containers[web].image: "nginx:1.27.3" -> "nginx:1.27.4"' in run.out


def test_conflicts_are_reported_and_never_adopted(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    core = client.CoreV1Api(target.api())
    core.create_namespace({"metadata": {"name": ns, "labels": {"team": "other"}}})
    try:
        diff = target.kc("diff", str(path), *flags)
        assert diff.code == 1
        assert f"! Namespace {ns}  conflict: it exists and kc did not create it" in diff.out
        apply = target.kc("apply", str(path), *flags)
        assert apply.code == 3
        assert "refusing to adopt 1 object(s) that kc does not own; nothing was applied" in apply.err
        assert core.read_namespace(ns).metadata.labels.get("app.kubernetes.io/managed-by") is None
        assert core.list_namespaced_config_map(ns, label_selector="app.kubernetes.io/managed-by=kc").items == []
    finally:
        core.delete_namespace(ns)


def test_diff_against_an_earlier_compile_is_offline(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    out = tmp_path / "out"
    assert target.kc("compile", str(path), *flags, "-o", str(out), cluster=False).code == 0
    same = target.kc("diff", str(path), *flags, "--against", str(out), cluster=False)
    assert same.code == 0 and "20 unchanged" in same.out
    path.write_text(path.read_text().replace("    replicas: 2\n", "    replicas: 3\n"))
    changed = target.kc("diff", str(path), *flags, "--against", str(out), cluster=False)
    assert changed.code == 1
    assert "    spec.replicas: 2 -> 3" in changed.out
    assert target.requests == []
    missing = target.kc("diff", str(path), "--against", str(tmp_path / "nowhere"), cluster=False)
    assert missing.code == 2 and "KC603" in missing.err


# --- secrets (the manifests pattern carries a Secret through) ---------------------------------------


def test_secret_data_is_never_printed(target: Target, tmp_path: Path) -> None:
    path, flags = spec(
        target, tmp_path, "kc: 1\npipeline: sec\nstages:\n  raw: {pattern: manifests, files: [s.yaml]}\n"
    )
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {value}}}\n"
    (path.parent / "s.yaml").write_text(secret.format(value="hunter2-first"))
    applied = target.kc("apply", str(path), *flags)
    assert applied.code == 0 and "hunter2" not in applied.out + applied.err
    (path.parent / "s.yaml").write_text(secret.format(value="hunter2-second"))
    for fmt in ("text", "json"):
        run = target.kc("diff", str(path), *flags, "-o", fmt)
        assert run.code == 1
        assert "hunter2" not in run.out + run.err
        assert "aHVudGVy" not in run.out + run.err  # nor its base64
    assert "    data.password: changed (value hidden)" in target.kc("diff", str(path), *flags).out
    again = target.kc("apply", str(path), *flags, "--prune")
    down = target.kc("teardown", str(path), *flags, "--yes")
    assert again.code == down.code == 0
    assert "hunter2" not in again.out + again.err + down.out + down.err


# --- apply: gates, prune, failures -------------------------------------------------------------------


NOWHERE = "{spec: {template: {spec: {nodeSelector: {kc.dev/test: nowhere}}}}}"  # no node has that label


def test_gate_timeout_names_the_gate_and_the_object(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path, {"    health: /\n": f"    health: /\n    patch: {{Deployment: {NOWHERE}}}\n"})
    ns = namespace_of(flags)
    run = target.kc("apply", str(path), *flags, "--timeout", "3s")
    assert run.code == 4, run.err
    last = next(line for line in run.err.splitlines() if line.startswith("kc apply:"))  # then the pod's trouble
    assert last == (
        f"kc apply: gate 'api: rollout complete' timed out after 3s: Deployment {ns}/{ns}-api did not get there "
        "(0/2 available)"
    )
    assert f"  Pod {ns}/{ns}-api-" in run.err and ": Unschedulable: the scheduler says: " in run.err, run.err
    assert "bundle 05" not in run.err, "nothing after the gate is applied"


def test_job_gate_timeout(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path, {"    timeout: 10m\n": f"    timeout: 10m\n    patch: {{Job: {NOWHERE}}}\n"})
    run = target.kc("apply", str(path), *flags, "--timeout", "2s")
    assert run.code == 4
    assert "gate 'migrate: job complete' timed out after 2s: Job " in run.err
    assert "(0/1 succeeded)" in run.err


def test_a_failed_job_stops_the_apply_with_its_reason(target: Target, tmp_path: Path) -> None:
    # On the local cluster's fake nodes a container whose command is `false` fails, as it would anywhere.
    body = (
        "kc: 1\npipeline: broken\nstages:\n"
        "  migrate: {pattern: job, image: 'busybox:1.36.1', command: ['false'], retries: 0}\n"
        "  api: {pattern: service, image: 'nginx:1.27.3', port: 8080, after: [migrate]}\n"
    )
    path, flags = spec(target, tmp_path, body)
    ns = namespace_of(flags)
    run = target.kc("apply", str(path), *flags, "--timeout", target.timeout)
    assert run.code == 4, run.err
    last = next(line for line in run.err.splitlines() if line.startswith("kc apply:"))  # then the pod's trouble
    assert re.fullmatch(
        rf"kc apply: gate 'migrate: job complete' cannot pass: Job {ns}/{ns}-migrate-\w+: "
        r"the Job failed \(BackoffLimitExceeded: Job has reached the specified backoff limit\)",
        last,
    ), last
    assert client.AppsV1Api(target.api()).list_namespaced_deployment(ns).items == [], "nothing after the gate"


def test_prune_keeps_claims_unless_the_data_policy_allows(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags).code == 0
    core = client.CoreV1Api(target.api())

    def names(kind: str) -> list[str]:
        listing = getattr(core, f"list_namespaced_{kind}")(ns, label_selector="app.kubernetes.io/managed-by=kc")
        return sorted(o.metadata.name for o in listing.items)

    old_config = names("config_map")
    assert names("persistent_volume_claim") == [f"{ns}-scratch"]
    # The volume stage goes, and the config changes (a new ConfigMap; the old one is an orphan).
    text = path.read_text().replace("  scratch:\n    pattern: volume\n    size: 1Gi\n", "").replace("hello", "hi")
    path.write_text(text)
    diff = target.kc("diff", str(path), *flags)
    assert f"- PersistentVolumeClaim {ns}/{ns}-scratch  orphaned: a claim: kept by --prune" in diff.out
    pruned = target.kc("apply", str(path), *flags, "--prune")
    assert pruned.code == 0, pruned.err
    assert f"kept PersistentVolumeClaim {ns}/{ns}-scratch" in pruned.err
    assert names("persistent_volume_claim") == [f"{ns}-scratch"]
    assert old_config[0] not in names("config_map") and len(names("config_map")) == 1

    path.write_text("policy: {data: delete}\n" + text)
    assert target.kc("apply", str(path), *flags, "--prune").code == 0
    assert names("persistent_volume_claim") == []
    assert target.kc("diff", str(path), *flags).code == 0
    assert target.kc("teardown", str(path), *flags, "--yes").code == 0


def test_gates_poll_where_watching_is_forbidden(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    limited = restricted_kubeconfig(target, tmp_path, ("watch", "deployments"))
    run = target.kc("apply", str(path), *flags, kubeconfig=limited)
    assert run.code == 0, run.err
    assert "gate passed: web: rollout complete" in run.err
    assert [r for r in target.requests if r.method == "WATCH"], "it tried to watch first"


def test_forbidden_verbs_are_one_line_errors(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    run = target.kc(
        "apply", str(path), *flags, kubeconfig=restricted_kubeconfig(target, tmp_path, ("patch", "deployments"))
    )
    assert run.code == 3
    assert (
        run.err.strip()
        .splitlines()[-1]
        .startswith(f'kc apply: the cluster forbids patch on deployments.apps "{ns}-web" in namespace "{ns}": ')
    )
    run = target.kc(
        "diff", str(path), *flags, kubeconfig=restricted_kubeconfig(target, tmp_path, ("list", "configmaps"))
    )
    assert run.code == 3
    assert run.err.count("\n") == 1
    assert run.err.startswith(f'kc diff: the cluster forbids list on configmaps in namespace "{ns}": ')


def test_connection_errors(target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, flags = spec(target, tmp_path, small())
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = tmp_path / "dead"
    dead.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: x\n"
        f"clusters: [{{name: x, cluster: {{server: 'https://127.0.0.1:{port}'}}}}]\n"
        "users: [{name: x, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: x, user: x}}]\n"
    )
    target.capsys.readouterr()
    assert cli.main(["diff", str(path), *flags, "--kubeconfig", str(dead)]) == 3
    err = target.capsys.readouterr().err
    assert err.startswith(f"kc diff: cannot reach the cluster at https://127.0.0.1:{port}: ") and err.count("\n") == 1

    assert cli.main(["apply", str(path), *flags, "--kubeconfig", str(dead), "--context", "nope"]) == 3
    err = target.capsys.readouterr().err
    assert err.startswith(f"kc apply: kubeconfig {dead}: ") and "nope" in err

    # Something that answers HTTP but is no API server is an error, not a cluster with nothing in it.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        web = tmp_path / "web"
        web.write_text(dead.read_text().replace(f"https://127.0.0.1:{port}", f"http://127.0.0.1:{server.server_port}"))
        assert cli.main(["diff", str(path), *flags, "--kubeconfig", str(web)]) == 3
        assert "is not a Kubernetes API server" in target.capsys.readouterr().err
    finally:
        server.shutdown()

    # KUBECONFIG is read as kubectl reads it; without any, kc says so.
    monkeypatch.setenv("KUBECONFIG", str(target.kubeconfig))
    assert cli.main(["diff", str(path), *flags]) == 1
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    target.capsys.readouterr()
    assert cli.main(["diff", str(path), *flags]) == 3
    assert "no cluster configured" in target.capsys.readouterr().err


# --- teardown ----------------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_teardown_asks_first(target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags).code == 0
    core = client.CoreV1Api(target.api())

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    run = target.kc("teardown", str(path), *flags)
    assert run.code == 2
    assert "refusing to delete unconfirmed: standard input is not a terminal; pass --yes" in run.err

    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    run = target.kc("teardown", str(path), *flags)
    assert run.code == 2 and f"delete pipeline small (instance {ns}, namespace {ns})" in run.err
    assert "not confirmed; nothing was deleted" in run.err
    assert core.read_namespace(ns).metadata.name == ns

    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    run = target.kc("teardown", str(path), *flags, "--delete-data")
    assert run.code == 0, run.err
    assert ns not in [n.metadata.name for n in core.list_namespace().items]


def test_teardown_keeps_what_kc_did_not_create(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    out = tmp_path / "out"
    assert target.kc("compile", str(path), *flags, "-o", str(out), cluster=False).code == 0
    assert target.kc("apply", str(path), *flags).code == 0
    core = client.CoreV1Api(target.api())
    core.create_namespaced_config_map(ns, {"metadata": {"name": "theirs"}, "data": {"k": "v"}})
    # Only the service account named default is Kubernetes' own, not every object of that name.
    core.create_namespaced_secret(ns, {"metadata": {"name": "default"}, "stringData": {"k": "v"}})
    # Someone took kc's label off the Service: it is no longer kc's to delete.
    core.patch_namespaced_service(f"{ns}-web", ns, {"metadata": {"labels": {"kc.dev/instance": None}}})
    run = target.kc("teardown", str(out), "--yes", "--delete-data")
    assert run.code == 0, run.err
    assert f"kept Service {ns}/{ns}-web: it lacks the pipeline's labels" in run.err
    assert f"kept Namespace {ns}: it holds objects kc did not create" in run.err
    assert "configmaps/theirs" in run.err and "secrets/default" in run.err
    assert "serviceaccounts/default" not in run.err
    assert core.read_namespaced_config_map("theirs", ns).data == {"k": "v"}
    assert core.read_namespaced_service(f"{ns}-web", ns)
    assert core.list_namespaced_persistent_volume_claim(ns).items == []
    apps = client.AppsV1Api(target.api())
    assert apps.list_namespaced_deployment(ns).items == []
    core.delete_namespace(ns)


def test_a_teardown_that_timed_out_finishes_when_run_again(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags).code == 0
    apps = client.AppsV1Api(target.api())
    # Another controller's finalizer holds the Deployment: its foreground deletion cannot finish.
    apps.patch_namespaced_deployment(f"{ns}-web", ns, {"metadata": {"finalizers": ["example.com/hold"]}})
    run = target.kc("teardown", str(path), *flags, "--yes", "--timeout", "2s")
    assert run.code == 4, run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith("kc teardown: 2/") and f"Deployment {ns}/{ns}-web was still there after 2s" in last
    apps.patch_namespaced_deployment(f"{ns}-web", ns, {"metadata": {"finalizers": None}})
    again = target.kc("teardown", str(path), *flags, "--yes", "--delete-data")
    assert again.code == 0, again.err
    assert labelled(target, ns) == []


def test_cluster_commands_need_no_cluster_for_help_and_dry_run(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    run = target.kc("teardown", "--dry-run", str(path), *flags, cluster=False)
    assert run.code == 0 and "teardown of small" in run.out
    assert target.requests == []


def test_ownership_survives_a_rewritten_instance_label(target: Target, tmp_path: Path) -> None:
    # Argo CD (before 3.0) tracks its applications by rewriting app.kubernetes.io/instance.
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags).code == 0
    core, apps = client.CoreV1Api(target.api()), client.AppsV1Api(target.api())
    rewrite = {"metadata": {"labels": {"app.kubernetes.io/instance": "argo-app"}}}
    apps.patch_namespaced_deployment(f"{ns}-web", ns, rewrite)
    core.patch_namespaced_service(f"{ns}-web", ns, rewrite)
    run = target.kc("diff", str(path), *flags)
    assert run.code == 1
    assert re.search(r"^0 to create, 2 to change, 0 orphaned, 0 conflicts, \d+ unchanged", run.out, re.M), run.out
    assert '"argo-app" -> "' in run.out
    down = target.kc("teardown", str(path), *flags, "--yes", "--delete-data")
    assert down.code == 0, down.err
    assert labelled(target, ns) == []


def test_the_namespace_enforces_the_restricted_profile(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags).code == 0  # kc's own pods pass it
    root = {"name": "c", "image": "busybox:1.36.1", "securityContext": {"runAsUser": 0}}
    with pytest.raises(client.ApiException) as refused:
        client.CoreV1Api(target.api()).create_namespaced_pod(
            ns, {"metadata": {"name": "root"}, "spec": {"containers": [root]}}
        )
    message = json.loads(refused.value.body)["message"]
    assert refused.value.status == 403 and 'violates PodSecurity "restricted:latest"' in message, message
    assert "runAsNonRoot != true" in message


def test_drift_by_another_client_is_reported_and_taken_back(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags).code == 0
    apps = client.AppsV1Api(target.api())
    apps.patch_namespaced_deployment(f"{ns}-web", ns, {"spec": {"replicas": 3}})  # as kubectl scale would
    drift = target.kc("diff", str(path), *flags)
    assert drift.code == 1
    assert "    spec.replicas: 3 -> 1" in drift.out
    assert target.kc("apply", str(path), *flags).code == 0  # kc's fields are kc's: it takes them back
    assert apps.read_namespaced_deployment(f"{ns}-web", ns).spec.replicas == 1
    assert target.kc("diff", str(path), *flags).code == 0


CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: gizmo}
spec: {size: 3}
"""


def test_custom_resources_after_their_definition(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, "kc: 1\npipeline: cr\nstages:\n  raw: {pattern: manifests, files: [w.yaml]}\n")
    (path.parent / "w.yaml").write_text(CRD)
    first = target.kc("diff", str(path), *flags)
    assert first.code == 1 and "+ CustomResourceDefinition widgets.example.com" in first.out
    assert "+ Widget " in first.out  # not served yet: to create, without a lookup
    run = target.kc("apply", str(path), *flags)
    assert run.code == 0, run.err
    assert "gate passed: raw: CRDs established" in run.err
    assert target.kc("diff", str(path), *flags).code == 0
    down = target.kc("teardown", str(path), *flags, "--yes")
    assert down.code == 0, down.err
    assert "delete CustomResourceDefinition widgets.example.com" in down.err and "0 kept" in down.err
    extensions = client.ApiextensionsV1Api(target.api())
    assert "widgets.example.com" not in [c.metadata.name for c in extensions.list_custom_resource_definition().items]


# --- every example ---------------------------------------------------------------------------------

# For each case, a stage that nothing else needs: dropped, its objects become orphans to prune.
DROPPABLE = {
    "shop": "report",
    "shop-prod": "report",
    "shop-canary": "report",
    "cockroach": "schema",
    "cockroach-secure": "schema",
    "etl": "nightly",
    "linecount": "count",
    "crontab": "hourly",
    "params": "say",
    "params-run": "say",
    "wordfreq": "finished",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_example_applies_diffs_clean_prunes_and_tears_down(target: Target, case: str) -> None:
    spec_path, case_flags = CASES[case]
    flags = [*case_flags, *instance()]  # the last --instance wins: this test's own
    name = namespace_of(flags[len(case_flags) :])
    target.cleanup.append(["teardown", str(ROOT / spec_path), *flags])

    def kc(command: str, *more: str) -> Run:
        return target.kc(command, str(ROOT / spec_path), *flags, *more)

    assert kc("diff").code == 1
    provided = provide_certificates(target, spec_path, flags) if case == "cockroach-secure" else None
    applied = kc("apply", "--timeout", target.timeout)
    assert applied.code == 0, applied.err
    settled = kc("diff")
    assert settled.code == 0, settled.out
    assert re.search(r"^0 to create, 0 to change, 0 orphaned, 0 conflicts, \d+ unchanged", settled.out, re.M)

    drop = ("--set", f"{DROPPABLE[case]}.enabled=false")
    changed = kc("diff", *drop)
    assert changed.code == 1 and " orphaned: no longer in the plan" in changed.out, changed.out
    pruned = kc("apply", *drop, "--prune", "--timeout", target.timeout)
    assert pruned.code == 0, pruned.err
    assert "pruned " in pruned.err
    assert kc("diff", *drop).code == 0

    if provided:  # the test's own Secret goes first: teardown keeps a namespace holding others' objects
        client.CoreV1Api(target.api()).delete_namespaced_secret(provided, name)
    down = kc("teardown", "--yes", "--delete-data", "--timeout", target.timeout)
    assert down.code == 0, down.err
    assert labelled(target, name) == []


def provide_certificates(target: Target, spec_path: str, flags: list[str]) -> str:
    """The certificates Secret the secure CockroachDB profile reads and no stage creates (kc apply
    refuses a plan whose pods read a key that exists nowhere). It must be in the namespace before
    kc applies, so the namespace is created first, as kc compiles it: its labels make it kc's."""
    stream = target.kc("compile", str(ROOT / spec_path), *flags, cluster=False).out
    (namespace,) = [d for d in yaml.safe_load_all(stream) if d and d["kind"] == "Namespace"]
    core = client.CoreV1Api(target.api())
    core.create_namespace({"metadata": namespace["metadata"]})
    keys = ("ca.crt", "node.crt", "node.key", "client.root.crt", "client.root.key")
    secret = {"metadata": {"name": "crdb-certs"}, "stringData": dict.fromkeys(keys, "not a certificate")}
    core.create_namespaced_secret(namespace["metadata"]["name"], secret)
    return "crdb-certs"


# --- faults -----------------------------------------------------------------------------------------


class Relay:
    """A TCP relay on loopback to the API server; ``cut`` makes the server go away for kc."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("https://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open: list[socket.socket] = []
        self.gone = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                near, _ = self.listener.accept()
            except OSError:
                return
            if self.gone.is_set():
                near.close()
                return
            far = socket.create_connection(self.upstream)
            self.open += [near, far]
            for a, b in ((near, far), (far, near)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            sink.close()

    def cut(self) -> None:
        self.gone.set()
        for sock in [self.listener, *self.open]:  # shutdown wakes the threads blocked on them
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def kubeconfig(self, target: Target, tmp_path: Path) -> Path:
        text = target.kubeconfig.read_text()
        server = target.api().configuration.host
        path = tmp_path / "relayed.kubeconfig"
        path.write_text(text.replace(server, f"https://127.0.0.1:{self.port}"))
        return path


def cut_at(relay: Relay, method: str, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut the relay just before kc sends its ``count``-th request of ``method`` (dry runs, which
    change nothing, do not count)."""
    seen = [0]
    sent = cluster_client.Client._call

    def counting(self: cluster_client.Client, verb: str, how: str, path: str, *args: Any, **kw: Any) -> Any:
        if how == method and "dryRun" not in (kw.get("query") or {}):
            seen[0] += 1
            if seen[0] == count:
                relay.cut()
        return sent(self, verb, how, path, *args, **kw)

    monkeypatch.setattr(cluster_client.Client, "_call", counting)


def test_a_server_that_goes_away_mid_apply_is_exit_3_and_a_second_apply_converges(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, flags = shop(target, tmp_path)
    relay = Relay(target.api().configuration.host)
    cut_at(relay, "PATCH", 8, monkeypatch)
    run = target.kc("apply", str(path), *flags, kubeconfig=relay.kubeconfig(target, tmp_path))
    assert run.code == 3, run.err
    last = run.err.strip().splitlines()[-1]
    assert last.startswith(f"kc apply: cannot reach the cluster at https://127.0.0.1:{relay.port}: "), last
    monkeypatch.undo()
    again = target.kc("apply", str(path), *flags, "--timeout", target.timeout)
    assert again.code == 0, again.err
    assert re.search(r": [1-9]\d* created, 0 configured, [1-9]\d* unchanged$", again.err.strip().splitlines()[-1])
    assert target.kc("diff", str(path), *flags).code == 0


def test_a_teardown_cut_off_half_way_finishes_when_run_again(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, flags = shop(target, tmp_path)
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags, "--timeout", target.timeout).code == 0
    relay = Relay(target.api().configuration.host)
    cut_at(relay, "DELETE", 4, monkeypatch)
    run = target.kc(
        "teardown", str(path), *flags, "--yes", "--delete-data", kubeconfig=relay.kubeconfig(target, tmp_path)
    )
    assert run.code == 3, run.err
    assert "cannot reach the cluster" in run.err.strip().splitlines()[-1]
    assert labelled(target, ns) != [], "it stopped half-way"
    monkeypatch.undo()
    again = target.kc("teardown", str(path), *flags, "--yes", "--delete-data", "--timeout", target.timeout)
    assert again.code == 0, again.err
    assert labelled(target, ns) == []
