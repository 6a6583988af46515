"""kc diff, kc apply and kc teardown through the real Kubernetes client.

Against tests/kubeapi's fake API server on loopback by default; against a real cluster when
KC_TEST_KUBECONFIG names its kubeconfig (docs/cluster.md shows how with kind). Every test works in
namespaces of its own (a random instance name) and removes them; the tests that need the fake's
switches (controllers off, forbidden verbs, request counts) skip on a real cluster.
"""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from kc.compiler import cli
from kc.compiler.patterns import registry
from kubeapi import FakeCluster
from kubernetes import client, config

SHOP = ROOT / "examples" / "shop" / "pipeline.spec"
REAL = os.environ.get("KC_TEST_KUBECONFIG")
# Images that run on a real cluster and satisfy the shop's probes: agnhost serves HTTP on any
# port (netexec) and prints its arguments and exits 0 (entrypoint-tester).
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.47"


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Target:
    """The cluster under test and a way to run kc against it."""

    kubeconfig: Path
    fake: FakeCluster | None
    capsys: pytest.CaptureFixture[str]
    timeout: str
    cleanup: list[list[str]] = field(default_factory=list)

    def kc(self, *argv: str, cluster: bool = True) -> Run:
        self.capsys.readouterr()
        extra = ["--kubeconfig", str(self.kubeconfig)] if cluster else []
        code = cli.main([*argv, *extra])
        out, err = self.capsys.readouterr()
        return Run(code, out, err)

    def api(self) -> Any:
        return config.new_client_from_config(config_file=str(self.kubeconfig))


@pytest.fixture
def target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Target]:
    if REAL:
        found = Target(Path(REAL), None, capsys, "5m")
        yield found
        for argv in found.cleanup:  # whatever a failed test left behind
            cli.main([*argv, "--kubeconfig", REAL, "--yes", "--delete-data"])
        return
    with FakeCluster() as fake:
        yield Target(fake.kubeconfig(tmp_path / "kubeconfig"), fake, capsys, "20s")
        assert fake.errors == []


@pytest.fixture
def fake(target: Target) -> FakeCluster:
    if target.fake is None:
        pytest.skip("needs the fake cluster's switches")
    return target.fake


def runnable(text: str) -> str:
    """The shop spec with images that run on a real cluster and no Secret it does not create."""
    if not REAL:
        return text
    for old, new in (
        ("image: docker.io/library/postgres:16.4", f"image: {AGNHOST}\n    args: [netexec, --http-port=5432]"),
        ("image: shop/migrate:1.4.2", f"image: {AGNHOST}"),
        ("args: [up]", "args: [entrypoint-tester, up]"),
        ("image: shop/api:2.3.0", f"image: {AGNHOST}\n    args: [netexec, --http-port=8080]"),
        ("health: /healthz", "health: /hostname"),
        ("image: shop/report:1.0.0", f"image: {AGNHOST}"),
        ("{secret: shop-db-creds/password}", "not-a-secret"),
        ("  registry: ghcr.io/acme\n", "  registry: ghcr.io/acme\n  pull-policy: IfNotPresent\n"),  # kind load works
    ):
        text = text.replace(old, new)
    return text


def shop(target: Target, tmp_path: Path, edit: dict[str, str] | None = None) -> tuple[Path, list[str]]:
    """A copy of the shop example (edited) and the flags that make it this test's own instance."""
    text = runnable(SHOP.read_text())
    for old, new in (edit or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "shop" / "pipeline.spec"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    flags = ["--instance", f"kct-{secrets.token_hex(3)}"]
    target.cleanup.append(["teardown", str(path), *flags])
    return path, flags


def spec(target: Target, tmp_path: Path, body: str, name: str = "pipeline.spec") -> tuple[Path, list[str]]:
    path = tmp_path / "small" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(body)
    flags = ["--instance", f"kct-{secrets.token_hex(3)}"]
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


def small(services: int = 1, image: str = "nginx:1.27.3") -> str:
    image = f"{AGNHOST}\n    args: [netexec, --http-port=8080]\n    pull-policy: IfNotPresent" if REAL else image
    extra = "".join(
        f"  web{i}:\n    pattern: service\n    image: {image}\n    port: 8080\n" for i in range(2, services + 1)
    )
    return SMALL.format(image=image) + extra


def namespace_of(flags: list[str]) -> str:
    return flags[flags.index("--instance") + 1]


# --- the whole story -----------------------------------------------------------------------------


def test_apply_diff_change_apply_teardown(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    ns = namespace_of(flags)

    first = target.kc("diff", str(path), *flags)
    assert first.code == 1
    assert "15 to create, 0 to change, 0 orphaned, 0 conflicts, 0 unchanged" in first.out

    applied = target.kc("apply", str(path), *flags, "--timeout", target.timeout)
    assert applied.code == 0, applied.err
    assert "15 created, 0 configured, 0 unchanged" in applied.err
    for gate in ("db: all replicas ready", "migrate: job complete", "api: rollout complete"):
        assert f"gate passed: {gate}" in applied.err

    after = target.kc("diff", str(path), *flags)
    assert after.code == 0, after.out
    assert "0 to create, 0 to change, 0 orphaned, 0 conflicts, 15 unchanged" in after.out

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
    assert report["summary"] == {"create": 1, "change": 1, "orphaned": 1, "conflicts": 0, "unchanged": 13}
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

    text = target.kc("diff", str(path), *flags)
    assert f"~ Deployment {ns}/{ns}-api  (pipeline.spec:{api_line})" in text.out
    assert "    spec.replicas: 2 -> 3" in text.out
    assert f"- Job {ns}/{orphan['name']}  orphaned: no longer in the plan" in text.out

    again = target.kc("apply", str(path), *flags, "--prune", "--timeout", target.timeout)
    assert again.code == 0, again.err
    assert f"pruned Job {ns}/{orphan['name']}" in again.err
    assert target.kc("diff", str(path), *flags).code == 0

    down = target.kc("teardown", str(path), *flags, "--yes", "--delete-data", "--timeout", target.timeout)
    assert down.code == 0, down.err
    assert "0 kept" in down.err
    core = client.CoreV1Api(target.api())
    assert ns not in [n.metadata.name for n in core.list_namespace().items]
    selector = f"app.kubernetes.io/instance={ns}"
    assert core.list_persistent_volume_claim_for_all_namespaces(label_selector=selector).items == []
    if target.fake:
        assert [o for o in target.fake.objects() if o["metadata"].get("namespace") == ns] == []


def test_reapply_changes_nothing(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    assert target.kc("apply", str(path), *flags, "--timeout", target.timeout).code == 0
    ns = namespace_of(flags)
    apps = client.AppsV1Api(target.api())
    before = apps.read_namespaced_deployment(f"{ns}-api", ns).metadata.resource_version
    writes = len(target.fake.requests) if target.fake else 0
    again = target.kc("apply", str(path), *flags, "--timeout", target.timeout)
    assert again.code == 0
    assert "0 created, 0 configured, 15 unchanged" in again.err
    assert apps.read_namespaced_deployment(f"{ns}-api", ns).metadata.resource_version == before
    if target.fake:
        patches = [r for r in target.fake.requests[writes:] if r.method == "PATCH"]
        assert len(patches) == 15 and all(r.query["fieldManager"] == "kc" for r in patches)
        assert all("dryRun" not in r.query for r in patches)
        assert not [r for r in target.fake.requests[writes:] if r.method in ("POST", "PUT", "DELETE")]
    assert target.kc("teardown", str(path), *flags, "--yes", "--delete-data").code == 0


# --- diff ----------------------------------------------------------------------------------------


def _diff_requests(target: Target, fake: FakeCluster, tmp_path: Path, services: int) -> list[tuple[str, str]]:
    path, flags = spec(target, tmp_path, small(services), f"s{services}.spec")
    assert target.kc("apply", str(path), *flags).code == 0
    start = len(fake.requests)
    assert target.kc("diff", str(path), *flags).code == 0
    return [(r.method, re.sub(r"kct-\w+", "NS", r.path)) for r in fake.requests[start:]]


def test_diff_costs_one_request_per_kind_and_namespace(target: Target, fake: FakeCluster, tmp_path: Path) -> None:
    few = _diff_requests(target, fake, tmp_path, 1)
    many = _diff_requests(target, fake, tmp_path, 12)
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
    assert apps.read_namespaced_deployment(f"{ns}-web", ns).spec.template.spec.containers[0].resources.limits == {
        "cpu": "250m",
        "memory": "256Mi",
    }
    apps.patch_namespaced_deployment(f"{ns}-web", ns, [{"op": "replace", "path": limit, "value": "0.25"}])
    note = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "7", "example.com/note": "x"}}}
    apps.patch_namespaced_deployment(f"{ns}-web", ns, note)
    start = len(target.fake.requests) if target.fake else 0
    run = target.kc("diff", str(path), *flags)
    assert run.code == 0, run.out
    if target.fake:
        assert not [r for r in target.fake.requests[start:] if r.method != "GET"], "no dry run was needed"


def test_diff_reports_removed_fields_that_kc_applied(target: Target, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    assert target.kc("apply", str(path), *flags, "--timeout", target.timeout).code == 0
    path.write_text(path.read_text().replace(", tls-secret: shop-tls}", "}"))
    run = target.kc("diff", str(path), *flags)
    assert run.code == 1
    assert '    spec.tls: removed (was [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}])' in run.out
    if target.fake:
        assert [r for r in target.fake.requests if r.query.get("dryRun") == "All"]


def test_diff_falls_back_when_dry_run_is_forbidden(target: Target, fake: FakeCluster, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    assert target.kc("apply", str(path), *flags).code == 0
    path.write_text(path.read_text().replace("nginx:1.27.3", "nginx:1.27.4"))
    fake.forbid("patch", "deployments")
    run = target.kc("diff", str(path), *flags)
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
    assert same.code == 0 and "15 unchanged" in same.out
    path.write_text(path.read_text().replace("    replicas: 2\n", "    replicas: 3\n"))
    changed = target.kc("diff", str(path), *flags, "--against", str(out), cluster=False)
    assert changed.code == 1
    assert "    spec.replicas: 2 -> 3" in changed.out
    if target.fake:
        assert target.fake.requests == []
    missing = target.kc("diff", str(path), "--against", str(tmp_path / "nowhere"), cluster=False)
    assert missing.code == 2 and "KC603" in missing.err


# --- secrets (the manifests pattern carries a Secret through) ---------------------------------------


@pytest.mark.skipif("manifests" not in registry.builtins(), reason="needs the manifests pattern")
def test_secret_data_is_never_printed(target: Target, tmp_path: Path) -> None:
    path, flags = spec(
        target, tmp_path, "kc: 1\npipeline: sec\nstages:\n  raw: {pattern: manifests, files: [s.yaml]}\n"
    )
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\nstringData: {{password: {value}}}\n"
    (path.parent / "s.yaml").write_text(secret.format(value="hunter2-first"))
    assert target.kc("apply", str(path), *flags).code == 0
    (path.parent / "s.yaml").write_text(secret.format(value="hunter2-second"))
    for fmt in ("text", "json"):
        run = target.kc("diff", str(path), *flags, "-o", fmt)
        assert run.code == 1
        assert "hunter2" not in run.out + run.err
        assert "aHVudGVy" not in run.out + run.err  # nor its base64
    assert "    data.password: changed (value hidden)" in target.kc("diff", str(path), *flags).out


# --- apply: gates, prune, failures -------------------------------------------------------------------


def test_gate_timeout_names_the_gate_and_the_object(target: Target, fake: FakeCluster, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    ns = namespace_of(flags)
    fake.controllers.deployments = False
    run = target.kc("apply", str(path), *flags, "--timeout", "0.5s")
    assert run.code == 4
    last = run.err.strip().splitlines()[-1]
    assert last == (
        f"kc apply: gate 'api: rollout complete' timed out after 0.5s: Deployment {ns}/{ns}-api did not get there "
        "(the controller has not seen this generation yet)"
    )
    assert "report" not in run.err, "nothing after the gate is applied"


def test_job_gate_timeout(target: Target, fake: FakeCluster, tmp_path: Path) -> None:
    path, flags = shop(target, tmp_path)
    fake.controllers.jobs = False
    run = target.kc("apply", str(path), *flags, "--timeout", "0.3s")
    assert run.code == 4
    assert "gate 'migrate: job complete' timed out after 0.3s: Job " in run.err
    assert "(0/1 succeeded)" in run.err


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


def test_forbidden_verbs_are_one_line_errors(target: Target, fake: FakeCluster, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    ns = namespace_of(flags)
    fake.forbid("patch", "deployments")
    run = target.kc("apply", str(path), *flags)
    assert run.code == 3
    assert (
        run.err.strip()
        .splitlines()[-1]
        .startswith(f'kc apply: the cluster forbids patch on deployments.apps "{ns}-web" in namespace "{ns}": ')
    )
    fake.forbid("list", "configmaps")
    run = target.kc("diff", str(path), *flags)
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
    # Someone took kc's labels off the Service: it is no longer kc's to delete.
    core.patch_namespaced_service(f"{ns}-web", ns, {"metadata": {"labels": {"app.kubernetes.io/managed-by": None}}})
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


def test_teardown_wait_timeout(target: Target, fake: FakeCluster, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    assert target.kc("apply", str(path), *flags).code == 0
    fake.controllers.garbage_collector = False  # foreground deletions never finish
    run = target.kc("teardown", str(path), *flags, "--yes", "--timeout", "0.3s")
    assert run.code == 4
    assert run.err.strip().splitlines()[-1].startswith("kc teardown: 2/")
    assert "was still there after 0.3s" in run.err


def test_cluster_commands_need_no_cluster_for_help_and_dry_run(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, small())
    run = target.kc("teardown", "--dry-run", str(path), *flags, cluster=False)
    assert run.code == 0 and "teardown of small" in run.out
    if target.fake:
        assert target.fake.requests == []


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


@pytest.mark.skipif("manifests" not in registry.builtins(), reason="needs the manifests pattern")
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
    if target.fake:
        assert target.fake.objects("CustomResourceDefinition") == []
