"""``kc apply`` against pods that cannot run (docs/cluster.md, "When a pod cannot run"): the gate's
progress names the pod and its reason, once per reason in a log, and the exit-4 message carries
the pod, the reason, a hint, the log tail and the pod's Warning events.

Everything but the unschedulable pod needs the local cluster's real node, since fake nodes pull
and run nothing: the specs send their pods there with the workspace annotations of
docs/cluster.md, "The real node". Short ``--timeout``s keep the file near a minute and a half.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import Cluster
from kc.cluster import secrets as secrets_module
from kc.compiler import cli
from kubernetes import client, config

pytestmark = pytest.mark.cluster

REAL = "kc.dev/node=real"
TOLERATION = {"key": "kc.dev/node", "operator": "Equal", "value": "real", "effect": "NoSchedule"}
WORKSPACE = (
    "workspace:\n  annotations:\n"
    f"    scheduler.alpha.kubernetes.io/node-selector: {REAL}\n"
    f"    scheduler.alpha.kubernetes.io/defaultTolerations: '{json.dumps([TOLERATION])}'\n"
)
BUSYBOX = "docker.io/library/busybox:1.36.1"  # stand-in images, served to the real node from loopback
PYTHON = "docker.io/library/python:3.12-slim"


@dataclass
class Run:
    code: int
    err: str

    @property
    def progress(self) -> list[str]:
        """The lines before the closing message."""
        lines = self.err.splitlines()
        end = next((i for i, line in enumerate(lines) if line.startswith("kc apply:")), len(lines))
        return lines[:end]

    @property
    def closing(self) -> str:
        return self.err[self.err.index("kc apply:") :]


@dataclass
class Kc:
    kubeconfig: Path
    tmp: Path
    capsys: pytest.CaptureFixture[str]
    made: list[list[str]] = field(default_factory=list)

    def apply(
        self, body: str, timeout: str, files: dict[str, str] | None = None, compiled: bool = False
    ) -> tuple[Run, str]:
        """Apply ``body`` as a new instance of its own; the run and the instance's namespace.
        ``compiled``: compile it into a DIR first and apply the DIR (kc apply DIR)."""
        folder = self.tmp / secrets.token_hex(3)
        folder.mkdir()
        for name, text in (files or {}).items():
            (folder / name).write_text(text)
        (folder / "pipeline.spec").write_text(body)
        ns = f"kct-{secrets.token_hex(3)}"
        argv = [str(folder / "pipeline.spec"), "--instance", ns, "--kubeconfig", str(self.kubeconfig)]
        self.made.append(argv)
        if compiled:
            assert cli.main(["compile", *argv[:3], "-o", str(folder / "out")]) == 0
            argv = [str(folder / "out"), "--kubeconfig", str(self.kubeconfig)]
        self.capsys.readouterr()
        code = cli.main(["apply", *argv, "--timeout", timeout])
        return Run(code, self.capsys.readouterr().err), ns


def real_node_ready(kubeconfig: Path) -> bool:
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(kubeconfig)))
    nodes = core.list_node(label_selector=REAL).items
    return any(c.type == "Ready" and c.status == "True" for n in nodes for c in n.status.conditions or [])


@pytest.fixture
def kc(cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Kc]:
    found = Kc(cluster.kubeconfig, tmp_path, capsys)
    yield found
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(found.kubeconfig)))
    for argv in found.made:  # the namespace holds all of it; no need to wait until it is gone
        with contextlib.suppress(client.ApiException):
            core.delete_namespace(argv[argv.index("--instance") + 1])


@pytest.fixture
def real(kc: Kc) -> Kc:
    if not real_node_ready(kc.kubeconfig):
        message = "the cluster has no Ready real node (tests/cluster/up says why when it starts without one)"
        if os.environ.get("CI") and not os.environ.get("KC_TEST_KUBECONFIG"):
            pytest.fail(message)
        pytest.skip(message)
    return kc


def service(image: str, extra: str = "", workspace: str = WORKSPACE) -> str:
    """A service (a Deployment whose pods are ready only when their port answers: a worker
    without a probe is ready, and rolled out, for the moment its container runs)."""
    stage = f"  web:\n    pattern: service\n    image: {image}\n    port: 8081\n{extra}"
    return f"kc: 1\npipeline: trouble\n{workspace}stages:\n{stage}"


def told(run: Run, reason: str) -> list[str]:
    """The progress lines that report a pod's trouble with ``reason``."""
    return [line for line in run.progress if re.search(rf": Pod \S+, container \S+: {reason}", line)]


def test_an_image_the_registry_does_not_have(real: Kc) -> None:
    run, ns = real.apply(service("docker.io/library/busybox:0.0-none"), "14s")
    assert run.code == 4, run.err
    head = run.closing.splitlines()[0]
    assert head.startswith(f"kc apply: gate 'web: rollout complete' timed out after 14s: Deployment {ns}/{ns}-web")
    assert re.search(
        rf"^  Pod {ns}/{ns}-web-\S+, container web: (ImagePullBackOff|ErrImagePull): .*busybox:0.0-none.*: "
        r"check the image name and tag, and that the node can pull it \(imagePullSecrets\)$",
        run.closing,
        re.M,
    ), run.closing
    assert "latest Warning events of pod" in run.closing and "Failed" in run.closing, run.closing
    assert "log of container" not in run.closing, "a container that never ran has no log to fetch"
    assert len(told(run, "(ImagePullBackOff|ErrImagePull)")) == 1, run.progress  # one trouble, one line


def test_a_crash_loop_shows_what_the_container_printed(real: Kc) -> None:
    command = '    command: [sh, -c, "echo starting; echo cannot reach the database at db:5432; exit 1"]\n'
    run, ns = real.apply(service(BUSYBOX, command), "16s")
    assert run.code == 4, run.err
    assert re.search(
        rf"^  Pod {ns}/{ns}-web-\S+, container web: CrashLoopBackOff: it exited with code 1( \(\d restarts?\))?; "
        r'its log ends: "cannot reach the database at db:5432"$',
        run.closing,
        re.M,
    ), run.closing
    assert re.search(
        r"^  log of container web \((previous|last) run, last 2 lines\):\n    starting\n", run.closing, re.M
    )
    assert "BackOff" in run.closing.rpartition("latest Warning events")[2], run.closing
    assert len(told(run, "CrashLoopBackOff")) == 1, run.progress  # restarts are no news


def test_a_secret_key_that_does_not_exist(real: Kc, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before it applies anything, kc refuses a key that neither the plan nor the cluster holds
    (kc.cluster.secrets.check); a pod still meets the kubelet's error when the Secret loses the key
    after that look, which this test stands for by skipping the look."""
    monkeypatch.setattr(secrets_module, "check", lambda *args, **kw: None)
    secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: app-creds}\nstringData: {password: hunter2}\n"
    body = service(BUSYBOX, '    command: [sh, -c, "sleep 3600"]\n    env: {PASSWORD: {secret: app-creds/nope}}\n')
    body += "  creds: {pattern: manifests, files: [creds.yaml]}\n"
    run, ns = real.apply(body, "14s", {"creds.yaml": secret})
    assert run.code == 4, run.err
    assert (
        f"container web: CreateContainerConfigError: couldn't find key nope in Secret {ns}/app-creds: "
        f"the Secret {ns}/app-creds has no key 'nope' (env PASSWORD): add the key, or change the env that names it"
    ) in run.closing, run.closing
    assert len(told(run, "CreateContainerConfigError")) == 1, run.progress


def test_a_pod_no_node_can_take(kc: Kc) -> None:
    """On fake nodes: the scheduler decides before any node runs anything."""
    run, ns = kc.apply(service(BUSYBOX, '    resources: {cpu: "500", memory: 64Mi}\n', workspace=""), "8s")
    assert run.code == 4, run.err
    found = re.search(rf"^  Pod {ns}/{ns}-web-\S+: Unschedulable: the scheduler says: (.*)$", run.closing, re.M)
    assert found and "Insufficient cpu" in found.group(1), run.closing
    assert "FailedScheduling" in run.closing, run.closing
    assert [line for line in run.progress if ": Unschedulable: " in line], run.progress


def test_a_container_that_runs_out_of_memory(real: Kc) -> None:
    body = (
        f"kc: 1\npipeline: trouble\n{WORKSPACE}stages:\n  grow:\n    pattern: job\n    image: {PYTHON}\n"
        '    command: [python3, -c, "b = bytearray(512 * 1024 * 1024); print(len(b))"]\n'
        "    resources: {cpu: 100m, memory: 64Mi}\n    retries: 0\n"
    )
    run, ns = real.apply(body, "60s")
    assert run.code == 4, run.err
    assert run.closing.startswith("kc apply: gate 'grow: job complete' cannot pass: Job "), run.closing
    assert re.search(
        rf"^  Pod {ns}/{ns}-grow-\S+, container grow: OOMKilled: it used more memory than its limit \(64Mi\): "
        r"raise the stage's `size` or `resources.memory`$",
        run.closing,
        re.M,
    ), run.closing


# --- retries: exit codes that may be retried; pending-timeout --------------------------------------


def job(command: str, retries: str, extra: str = "", workspace: str = WORKSPACE) -> str:
    return (
        f"kc: 1\npipeline: trouble\n{workspace}stages:\n  work:\n    pattern: job\n    image: {BUSYBOX}\n"
        f"    command: [sh, -c, {json.dumps(command)}]\n    retries: {retries}\n{extra}"
    )


def pods_of(kc: Kc, ns: str) -> list[client.V1Pod]:
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(kc.kubeconfig)))
    return list(core.list_namespaced_pod(ns, label_selector="kc.dev/stage=work").items)


def test_an_exit_code_that_may_not_be_retried_fails_the_job_at_once(real: Kc) -> None:
    started = time.monotonic()
    run, ns = real.apply(job("echo no such table; exit 3", "{count: 5, on-exit-codes: [1, 2]}"), "2m")
    took = time.monotonic() - started
    assert run.code == 4, run.err
    head = run.closing.splitlines()[0]
    assert head.startswith(f"kc apply: gate 'work: job complete' cannot pass: Job {ns}/{ns}-work-"), head
    assert "the Job failed (PodFailurePolicy: " in head and "exit code 3" in head, head
    assert len(pods_of(real, ns)) == 1, "no retry: one pod, though five retries were allowed"
    assert took < 60, f"{took:.0f}s: the Job failed on its first pod"
    diff = cli.main(["diff", *real.made[-1]])
    assert diff == 0, "the pod failure policy reads back as compiled"


def test_an_exit_code_that_may_be_retried_is_retried(real: Kc) -> None:
    run, ns = real.apply(job("exit 1", "{count: 1, on-exit-codes: [1, 2]}"), "2m")
    assert run.code == 4, run.err
    assert "the Job failed (BackoffLimitExceeded" in run.closing.splitlines()[0], run.closing
    assert len(pods_of(real, ns)) == 2, "the first pod and its one retry"


@pytest.mark.parametrize("compiled", [False, True], ids=["spec", "dir"])
def test_a_pod_no_node_can_take_fails_the_gate_after_its_pending_timeout(kc: Kc, compiled: bool) -> None:
    """On fake nodes; a --timeout far longer than the pending-timeout, so that only the latter can end it."""
    extra = '    resources: {cpu: "500", memory: 64Mi}\n    pending-timeout: 20s\n'
    started = time.monotonic()
    run, ns = kc.apply(job("true", "0", extra, workspace=""), "3m", compiled=compiled)
    took = time.monotonic() - started
    assert run.code == 4, run.err
    head, *rest = run.closing.splitlines()
    assert re.fullmatch(
        rf"kc apply: gate 'work: job complete' cannot pass: pod {ns}-work-\S+ of Job {ns}/{ns}-work-\S+ "
        r"waited 2\ds to run, past the stage's pending-timeout \(20s\)",
        head,
    ), head
    assert re.match(rf"  Pod {ns}/{ns}-work-\S+: Unschedulable: the scheduler says: .*Insufficient cpu", rest[0]), rest
    assert "hint: run it again" not in run.err, "the Job did not fail: applying again waits on it again"
    assert 20 <= took < 60, f"{took:.0f}s"


def test_an_image_that_cannot_be_pulled_fails_the_gate_after_its_pending_timeout(real: Kc) -> None:
    body = job("true", "0", "    pending-timeout: 20s\n").replace(BUSYBOX, "docker.io/library/busybox:0.0-none")
    started = time.monotonic()
    run, ns = real.apply(body, "3m")
    took = time.monotonic() - started
    assert run.code == 4, run.err
    assert "waited 2" in run.closing.splitlines()[0] and "past the stage's pending-timeout (20s)" in run.closing
    assert re.search(
        rf"^  Pod {ns}/{ns}-work-\S+, container work: (ImagePullBackOff|ErrImagePull): .*busybox:0.0-none",
        run.closing,
        re.M,
    ), run.closing
    assert 20 <= took < 60, f"{took:.0f}s"
