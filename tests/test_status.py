"""kc status and kc logs against the local cluster's real node (busybox stand-in image): a
healthy pipeline, a deleted object, a failed Job, --watch in a log, and the logs of a
two-replica service and of a job stage, each line prefixed with its pod."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Cluster
from kc.compiler import cli
from kubernetes import client, config
from test_pod_trouble_cluster import BUSYBOX, WORKSPACE, real_node_ready

pytestmark = pytest.mark.cluster
KC = "import sys\nfrom kc.compiler import cli\nsys.exit(cli.main(sys.argv[1:]))"

HEALTHY = f"""kc: 1
pipeline: st
{WORKSPACE}stages:
  web:
    pattern: service
    image: {BUSYBOX}
    port: 8081
    replicas: 2
    command: [sh, -c, "echo hello from $HOSTNAME; exec httpd -f -p 8081"]
  once:
    pattern: job
    image: {BUSYBOX}
    command: [sh, -c, "echo job line one; echo job done"]
"""
FAILING = f"""kc: 1
pipeline: st
{WORKSPACE}stages:
  broken:
    pattern: job
    image: {BUSYBOX}
    retries: 0
    command: [sh, -c, "echo giving up; exit 3"]
"""


@dataclass
class Kc:
    kubeconfig: Path
    tmp: Path
    capsys: pytest.CaptureFixture[str]
    namespaces: list[str] = field(default_factory=list)

    def spec(self, body: str) -> list[str]:
        """A spec of an instance of its own: the spec and flags every command takes."""
        folder = self.tmp / secrets.token_hex(3)
        folder.mkdir()
        (folder / "pipeline.spec").write_text(body)
        ns = f"kcst-{secrets.token_hex(3)}"
        self.namespaces.append(ns)
        return [str(folder / "pipeline.spec"), "--instance", ns, "--kubeconfig", str(self.kubeconfig)]

    def run(self, command: str, argv: list[str], *more: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = cli.main([command, argv[0], *more, *argv[1:]])
        out, err = self.capsys.readouterr()
        return code, out, err

    def child(self, command: str, argv: list[str], *more: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-u", "-c", KC, command, argv[0], *more, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(config.new_client_from_config(config_file=str(self.kubeconfig)))


@pytest.fixture
def kc(cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Kc]:
    if not real_node_ready(cluster.kubeconfig):
        message = "the cluster has no Ready real node (tests/cluster/up says why when it starts without one)"
        if os.environ.get("CI") and not os.environ.get("KC_TEST_KUBECONFIG"):
            pytest.fail(message)
        pytest.skip(message)
    found = Kc(cluster.kubeconfig, tmp_path, capsys)
    yield found
    for ns in found.namespaces:  # the namespace holds all of it
        with contextlib.suppress(client.ApiException):
            found.core.delete_namespace(ns)


def _until(child: subprocess.Popen[str], wanted: object, seconds: float) -> list[str]:
    """The child's lines until one satisfies ``wanted`` (a predicate), or the time is up."""
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    assert child.stdout is not None
    os.set_blocking(child.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if not line:
            time.sleep(0.1)
            continue
        lines.append(line.rstrip("\n"))
        if wanted(lines):  # type: ignore[operator]
            return lines
    return lines


def test_status_logs_and_watch_of_a_healthy_pipeline(kc: Kc) -> None:
    argv = kc.spec(HEALTHY)
    code, _, err = kc.run("apply", argv, "--timeout", "60s")
    assert code == 0, err
    code, out, _ = kc.run("status", argv, "-o", "json")
    assert code == 0, out
    report = json.loads(out)
    assert report["health"] == "healthy" and report["format"] == 1
    steps = {s["id"]: s for b in report["bundles"] for s in b["steps"]}
    assert steps["web"]["state"] == "passed" and steps["web"]["gate"]["kind"] == "rollout"
    assert [p["phase"] for p in steps["web"]["pods"]] == ["Running", "Running"]
    assert steps["once"]["state"] == "passed" and steps["once"]["pods"][0]["phase"] == "Succeeded"
    assert {o["state"] for s in steps.values() for o in s["objects"]} == {"present"}

    code, out, _ = kc.run("logs", argv, "web")
    pods = [p["name"] for p in steps["web"]["pods"]]
    assert code == 0 and sorted(out.splitlines()) == [f"[pod/{p}/web] hello from {p}" for p in pods]
    code, out, _ = kc.run("logs", argv, "once")
    job_pod = steps["once"]["pods"][0]["name"]
    assert code == 0 and out.splitlines() == [f"[pod/{job_pod}/once] job line one", f"[pod/{job_pod}/once] job done"]
    code, _, err = kc.run("logs", argv, "wbe")
    assert code == 2 and "unknown stage 'wbe'; did you mean 'web'?" in err

    follow = kc.child("logs", argv, "web", "-f")
    try:
        seen = _until(follow, lambda lines: len(lines) >= 2, 20)
        assert sorted(seen) == [f"[pod/{p}/web] hello from {p}" for p in pods]
    finally:
        follow.terminate()
        follow.wait(10)

    watch = kc.child("status", argv, "--watch")
    try:
        first = _until(watch, lambda lines: lines[-1].startswith("    pod") and "once" in lines[-1], 20)
        assert ": healthy" in first[0], first
        ns = argv[2]
        kc.core.delete_namespaced_service(f"{ns}-web", ns)
        changed = _until(watch, lambda lines: any("missing: Service" in x for x in lines), 20)
        assert any(f"web: missing: Service {ns}/{ns}-web" in x for x in changed), changed
        assert any(x.endswith(f"{ns}: waiting") for x in changed), changed
    finally:
        watch.terminate()
        watch.wait(10)
    code, out, _ = kc.run("status", argv, "-o", "json")
    assert code == 1
    states = {o["ref"]: o["state"] for b in json.loads(out)["bundles"] for s in b["steps"] for o in s["objects"]}
    assert states[f"Service {ns}/{ns}-web"] == "missing"


def test_status_of_a_failed_job(kc: Kc) -> None:
    argv = kc.spec(FAILING)
    code, _, err = kc.run("apply", argv, "--timeout", "60s")
    assert code == 4, err
    code, out, _ = kc.run("status", argv)
    assert code == 4, out
    line = next(x for x in out.splitlines() if x.startswith("  broken:"))
    assert "job complete: failed: Job" in line and "the Job failed" in line, out
    assert "pod " in out and "Failed" in out
    code, out, _ = kc.run("logs", argv, "broken")
    assert code == 0 and out.endswith("] giving up\n")
