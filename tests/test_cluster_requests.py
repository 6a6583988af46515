"""The request budget of docs/cluster.md ("Requests and concurrency"), held on a real API server
so that a regression fails: ``kc diff`` costs one LIST per kind and namespace and a dry run per
changed object; ``kc apply`` one apply per object on top of those LISTs, whatever the number of
objects. Counted by the client's own tally (``Client.sent``), which the benchmark reads too."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import test_cluster
from kc.cluster import client as cluster_client
from kc.cluster.errors import ClusterError
from kc.compiler import contract
from kubernetes import client
from test_cluster import Target, instance, namespace_of

pytestmark = pytest.mark.cluster
target = test_cluster.target  # the fixture: the cluster, kc run against it, and cleaning up after

SERVICES, WORKERS = 6, 5


def _spec() -> str:
    """Some twenty objects over a dozen stages and several kinds: configs, services, workers."""
    lines = ["kc: 1", "pipeline: budget", "stages:", "  settings: {pattern: config, data: {MODE: fast}}"]
    lines += [f"  api{i}: {{pattern: service, image: 'nginx:1.27.3', port: 8080}}" for i in range(SERVICES)]
    lines += [
        f"  work{i}: {{pattern: worker, image: 'busybox:1.36.1', command: [sleep, '3600']}}" for i in range(WORKERS)
    ]
    return "\n".join(lines) + "\n"


def _run(target: Target, monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, dict[str, int], list[str]]:
    """Run a cluster command; its exit code, its client's tally, and the paths it listed."""
    clients: list[cluster_client.Client] = []
    connect = cluster_client.connect

    def keep(*args: Any, **kw: Any) -> cluster_client.Client:
        clients.append(connect(*args, **kw))
        return clients[-1]

    monkeypatch.setattr(cluster_client, "connect", keep)
    start = len(target.requests)
    run = target.kc(*argv)
    assert run.code in (0, 1), run.err
    [used] = clients
    lists = [r.path for r in target.requests[start:] if r.method == "GET" and "limit" in r.query]
    return run.code, used.sent.counts(), lists


def test_diff_and_apply_keep_to_their_request_budget(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "budget.spec"
    spec.write_text(_spec())
    flags = instance()
    ns = namespace_of(flags)
    out = tmp_path / "out"
    assert target.kc("compile", str(spec), *flags, "-o", str(out), cluster=False).code == 0
    target.cleanup.append(["teardown", str(out)])
    objects = len(contract.read_plan(str(out)).manifests)
    assert objects >= 20

    # Against nothing: the cluster-scoped LISTs, the namespace looked up once, and nothing in a
    # namespace that does not exist, however many objects go there.
    code, before, lists = _run(target, monkeypatch, "diff", str(out))
    assert code == 1
    assert lists == ["/api/v1/namespaces"], lists
    assert set(before) <= {"discovery", "list", "get"} and before.get("get") == 1, before

    # A fresh apply: one apply per object, and only the namespace's dry run (its objects cannot
    # be checked before it exists); the same requests as the diff before that.
    code, applied, again = _run(target, monkeypatch, "apply", str(out), "--no-wait")
    assert code == 0
    assert applied.get("apply") == objects and applied.get("dry-run") == 1, applied
    assert again == lists and {k: applied[k] for k in before} == before, (applied, before)

    # Settled: one LIST per kind and namespace, and nothing else but discovery.
    code, settled, lists = _run(target, monkeypatch, "diff", str(out))
    assert code == 0
    assert len(lists) == len(set(lists)) == settled["list"], "one LIST per kind and namespace"
    assert set(settled) == {"discovery", "list"}, settled
    assert sum(applied.values()) <= objects + len(lists), "the budget of a first apply: objects + lists"

    # One object changed by hand: one dry run, in kc diff and in kc apply alike.
    apps = client.AppsV1Api(target.api())
    apps.patch_namespaced_deployment(f"{ns}-api0", ns, {"spec": {"replicas": 3}})
    code, changed, _ = _run(target, monkeypatch, "diff", str(out))
    assert code == 1
    assert changed.get("dry-run") == 1 and not changed.get("get"), changed
    code, reapplied, _ = _run(target, monkeypatch, "apply", str(out), "--no-wait")
    assert code == 0
    assert reapplied == {**settled, "apply": objects, "dry-run": 1}, reapplied
    assert apps.read_namespaced_deployment(f"{ns}-api0", ns).spec.replicas != 3


def test_objects_of_a_bundle_go_out_side_by_side_and_report_in_plan_order(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The progress lists the objects in plan order whatever order the answers came in, and the
    first refusal in plan order is the one reported, after what was applied: a run one by one
    would have named the same object."""
    spec = tmp_path / "order.spec"
    spec.write_text(_spec())
    flags = instance()
    out = tmp_path / "out"
    assert target.kc("compile", str(spec), *flags, "-o", str(out), cluster=False).code == 0
    target.cleanup.append(["teardown", str(out)])
    plan = [contract.Ref.of(m).text for m in contract.read_plan(str(out)).manifests]
    ns = namespace_of(flags)
    refuse = [f"{ns}-api1", f"{ns}-api4"]  # the first in plan order answers last
    sent = cluster_client.Client.apply

    def refusing(self: cluster_client.Client, kind: cluster_client.Kind, manifest: dict[str, Any], **kw: Any) -> Any:
        name = manifest["metadata"]["name"]
        if kind.kind == "Deployment" and name in refuse and not kw.get("dry_run"):
            time.sleep(0.3 if name == refuse[0] else 0)
            raise ClusterError(f'patch deployments.apps "{name}" failed (422 Invalid): no', 422)
        return sent(self, kind, manifest, **kw)

    monkeypatch.setattr(cluster_client.Client, "apply", refusing)
    failed = target.kc("apply", str(out), "--no-wait")
    assert failed.code == 3, failed.err
    last = failed.err.strip().splitlines()[-1]
    assert last == f'kc apply: patch deployments.apps "{refuse[0]}" failed (422 Invalid): no', last
    created = [line.removeprefix("  created ") for line in failed.err.splitlines() if line.startswith("  created ")]
    assert [plan.index(ref) for ref in created] == sorted(plan.index(ref) for ref in created), "in plan order"
    deployments = [ref.rpartition("/")[2] for ref in created if ref.startswith("Deployment ")]
    assert {f"{ns}-api0", f"{ns}-api5"} <= set(deployments), "what was applied is shown"
    assert not set(deployments) & set(refuse)

    monkeypatch.undo()
    again = target.kc("apply", str(out), "--no-wait")
    assert again.code == 0, again.err
    created = [line.removeprefix("  created ") for line in again.err.splitlines() if line.startswith("  created ")]
    assert [ref.rpartition("/")[2] for ref in created if ref.startswith("Deployment ")] == refuse, again.err
