"""kc apply --rerun, kc apply/diff of a compiled DIR, --no-wait, the dry run before the first
bundle, and handing replicas to an autoscaler: against the local cluster (fake nodes suffice)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_cluster
from kc.compiler import cli
from kubernetes import client
from test_cluster import Target, namespace_of, spec

pytestmark = pytest.mark.cluster
target = test_cluster.target  # the fixture: the cluster, kc run against it, and cleaning up after

FAILING = (
    "kc: 1\npipeline: again\nstages:\n"
    "  migrate: {pattern: job, image: 'busybox:1.36.1', command: ['false'], retries: 0}\n"
    "  api: {pattern: service, image: 'nginx:1.27.3', port: 8080, after: [migrate]}\n"
)


def _jobs(target: Target, ns: str, stage: str) -> list[client.V1Job]:
    batch = client.BatchV1Api(target.api())
    return list(batch.list_namespaced_job(ns, label_selector=f"kc.dev/stage={stage}").items)


def test_a_failed_job_runs_again_with_rerun(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, FAILING)
    ns = namespace_of(flags)
    first = target.kc("apply", str(path), *flags, "--timeout", "1m")
    assert first.code == 4, first.err
    assert f"hint: run it again with: kc apply {path} --rerun migrate" in first.err, first.err
    [job] = _jobs(target, ns, "migrate")

    for wrong, why in (("migrat", "did you mean 'migrate'?"), ("api", "runs no Job or CronJob")):
        refused = target.kc("apply", str(path), *flags, "--rerun", wrong)
        assert refused.code == 2 and why in refused.err, refused.err

    again = target.kc("apply", str(path), *flags, "--rerun", "migrate", "--timeout", "1m")
    assert again.code == 4, again.err  # nothing changed: it fails again, but it ran again
    assert f"kc apply: running stage migrate again: deleted Job {ns}/{job.metadata.name}" in again.err
    [rerun] = _jobs(target, ns, "migrate")
    assert rerun.metadata.name == job.metadata.name and rerun.metadata.uid != job.metadata.uid


def test_rerun_of_a_cron_stage_runs_its_job_now(target: Target, tmp_path: Path) -> None:
    body = (
        "kc: 1\npipeline: nightly\nstages:\n"
        "  report: {pattern: cron, schedule: '0 3 * * *', image: 'busybox:1.36.1', command: ['true']}\n"
    )
    path, flags = spec(target, tmp_path, body)
    ns = namespace_of(flags)
    run = target.kc("apply", str(path), *flags, "--rerun", "report", "--timeout", "1m")
    assert run.code == 0, run.err
    assert re.search(rf"running stage report now: created Job {ns}/{ns}-report-run-\w+ from CronJob", run.err)
    [job] = _jobs(target, ns, "report")
    assert job.status.succeeded == 1
    [owner] = job.metadata.owner_references
    assert owner.kind == "CronJob" and owner.name == f"{ns}-report" and owner.controller
    assert job.metadata.labels["kc.dev/instance"] == ns
    assert target.kc("diff", str(path), *flags).code == 0, "the Job made now is no orphan"


def test_apply_and_diff_a_compiled_directory(target: Target, tmp_path: Path) -> None:
    body = FAILING.replace("command: ['false']", "command: ['true']")
    path, flags = spec(target, tmp_path, body)
    out = tmp_path / "out"
    assert cli.main(["compile", str(path), *flags, "-o", str(out)]) == 0
    assert target.kc("diff", str(out)).code == 1
    assert target.kc("apply", str(out), "--set", "api.replicas=2").code == 2, "compile flags are refused with DIR"
    applied = target.kc("apply", str(out), "--timeout", "1m")
    assert applied.code == 0, applied.err
    assert "dry run: the API server accepts" in applied.err
    assert target.kc("diff", str(out)).code == 0

    bundle = next(out.glob("*-api.yaml"))
    bundle.write_text(bundle.read_text().replace("nginx:1.27.3", "nginx:1.27.4"))
    for command in ("apply", "diff"):
        edited = target.kc(command, str(out))
        assert edited.code == 2, edited.err
        assert str(bundle) in edited.err and "was edited since kc compile wrote it" in edited.err
        assert "Deployment " in edited.err


def test_no_wait_applies_every_bundle_without_waiting(target: Target, tmp_path: Path) -> None:
    path, flags = spec(target, tmp_path, FAILING)
    ns = namespace_of(flags)
    run = target.kc("apply", str(path), *flags, "--no-wait")
    assert run.code == 0, run.err
    assert "--no-wait" in run.err and "gate passed" not in run.err
    assert client.AppsV1Api(target.api()).read_namespaced_deployment(f"{ns}-api", ns).spec.replicas >= 1


def test_a_refused_object_stops_the_apply_before_anything_changes(target: Target, tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    # Two ports without names: the API server refuses it; kc's own checks do not know that rule.
    (tmp_path / "small" / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: twoports}\n"
        "spec:\n  selector: {app: x}\n  ports: [{port: 80}, {port: 81}]\n"
    )
    body = (
        "kc: 1\npipeline: refused\nworkspace: {create: false}\nstages:\n"
        "  settings: {pattern: config, data: {A: b}}\n"
        "  raw: {pattern: manifests, files: [svc.yaml], after: [settings]}\n"
    )
    path, flags = spec(target, tmp_path, body)
    ns = namespace_of(flags)
    core = client.CoreV1Api(target.api())
    # The namespace exists, so every object can be checked; kc does not own it.
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    target.undo.append(lambda: core.delete_namespace(ns))
    run = target.kc("apply", str(path), *flags)
    assert run.code == 2, run.err
    assert "the API server refuses Service " in run.err and "twoports" in run.err, run.err
    assert core.list_namespaced_config_map(ns, label_selector=f"kc.dev/instance={ns}").items == []
    assert core.list_namespaced_service(ns).items == []


def test_autoscale_takes_over_replicas_without_a_dip(target: Target, tmp_path: Path) -> None:
    body = (
        "kc: 1\npipeline: scaled\nstages:\n  web: {pattern: service, image: 'nginx:1.27.3', port: 8080, replicas: 3}\n"
    )
    path, flags = spec(target, tmp_path, body)
    ns = namespace_of(flags)
    assert target.kc("apply", str(path), *flags, "--timeout", "1m").code == 0
    path.write_text(body.replace("replicas: 3", "autoscale: {max: 5}"))
    diff = target.kc("diff", str(path), *flags)
    assert "replicas left to the autoscaler (now 3)" in diff.out, diff.out
    assert "spec.replicas: removed" not in diff.out
    run = target.kc("apply", str(path), *flags, "--timeout", "1m")
    assert run.code == 0, run.err
    deployment = client.AppsV1Api(target.api()).read_namespaced_deployment(f"{ns}-web", ns)
    assert deployment.spec.replicas == 3
    managers = {m.manager for m in deployment.metadata.managed_fields if "f:replicas" in str(m.fields_v1)}
    assert "kc" not in managers and "kc-handover" in managers
