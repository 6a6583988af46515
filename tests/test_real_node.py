"""kc's examples and one-line stage forms, applied for real: their pods run on the local cluster's
real node (kubelet, containerd, runc) from the stand-in images, not on the fake nodes.

Each test compiles a spec whose workspace carries the two annotations that send a namespace's
pods to the real node (docs/cluster.md, "The real node"), applies it with ``kc apply``, and then
checks what happened for real: every Deployment's and StatefulSet's pods Ready, every Job
Complete, a Job made from each CronJob complete, the data of a data pipeline passed from one task
to the next, then ``kc teardown`` and no pod left.

``kc apply`` runs ``kc.compiler.cli.main`` in a child process, so that the test can stop it as soon
as a pod shows it can never start (an image that cannot be pulled, a container that crashes, a
probe that keeps failing) instead of waiting out the gate's timeout; the failure then names the
pods, their containers' states, their last log lines and the namespace's warnings.

Without a Ready real node the tests are skipped, except in CI with the local cluster, where they
fail (as tests/test_cluster_node.py does).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, Cluster
from kc.compiler import cli
from kubernetes import client, config

pytestmark = pytest.mark.cluster

REAL = "kc.dev/node=real"
NODE = "kc-node"
TOLERATION = {"key": "kc.dev/node", "operator": "Equal", "value": "real", "effect": "NoSchedule"}
ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": REAL,
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps([TOLERATION]),
}

# Examples that do not run on the real node, and why.
ELSEWHERE = {"cockroach": "CockroachDB has no stand-in image; the example runs on the fake nodes"}
EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/pipeline.spec") if p.parent.name not in ELSEWHERE)

TIMEOUT = "3m"  # kc apply's --timeout: one bundle's gates
STUCK_AFTER = 10.0  # seconds a pod may show a reason that never heals before the test gives up
NOT_READY_AFTER = 90.0  # seconds a running container may stay unready (a failing readiness probe)
UNSCHEDULED_AFTER = 30.0
# Waiting reasons of a container that no wait cures: the registry is on loopback, so a missing
# image stays missing; a crash loop or a missing Secret stays what it is.
NEVER = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
}
KC = "import sys\nfrom kc.compiler import cli\nsys.exit(cli.main(sys.argv[1:]))"


# --- the cluster, and kc against it -----------------------------------------------------------------


@dataclass
class Real:
    """The cluster with a Ready real node, clients for it, and what a test made there."""

    kubeconfig: Path
    api: Any
    tmp: Path
    made: list[tuple[Path, list[str]]] = field(default_factory=list)  # specs applied, to tear down
    namespaces: set[str] = field(default_factory=set)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    def kc(self, *argv: str, watch: str | None = None) -> tuple[int, str]:
        """Run kc in a child process against the cluster; with ``watch`` (a namespace), stop it and
        fail the test as soon as a pod there can never start."""
        log = self.tmp / f"kc-{secrets.token_hex(3)}.log"
        with log.open("w") as err:
            child = subprocess.Popen(
                [sys.executable, "-c", KC, *argv, "--kubeconfig", str(self.kubeconfig)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )
            stuck = Stuck()
            reason = None
            while child.poll() is None:
                if watch and (reason := stuck.look(self, watch)):
                    child.terminate()
                    child.wait(30)
                    break
                time.sleep(1)
        output = log.read_text()
        if reason:
            pytest.fail(f"kc {argv[0]} stopped: {reason}\n\n{explain(self, watch or '')}\n\nkc said:\n{output}")
        return child.returncode, output

    def apply(self, spec: Path, flags: list[str]) -> str:
        self.made.append((spec, flags))
        ns = namespace_of(flags)
        self.namespaces.add(ns)
        code, output = self.kc("apply", str(spec), *flags, "--timeout", TIMEOUT, watch=ns)
        if code != 0:
            pytest.fail(f"kc apply exited {code}:\n{output}\n{explain(self, ns)}")
        return output

    def teardown(self, spec: Path, flags: list[str]) -> str:
        code, output = self.kc("teardown", str(spec), *flags, "--yes", "--delete-data", "--timeout", TIMEOUT)
        assert code == 0, output
        self.made.remove((spec, flags))
        return output


@pytest.fixture
def real(cluster: Cluster, tmp_path: Path) -> Iterator[Real]:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    nodes = client.CoreV1Api(api).list_node(label_selector=REAL).items
    if not [n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]:
        message = "the cluster has no Ready real node (tests/cluster/up says why when it starts without one)"
        if os.environ.get("CI") and not os.environ.get("KC_TEST_KUBECONFIG"):
            pytest.fail(message)
        pytest.skip(message)
    found = Real(cluster.kubeconfig, api, tmp_path)
    yield found
    for spec, flags in list(found.made):  # whatever a failed test left behind
        found.kc("teardown", str(spec), *flags, "--yes", "--delete-data", "--timeout", "1m")
    for ns in found.namespaces:  # and what kc kept because the test put something there
        with contextlib.suppress(client.ApiException):
            found.core.delete_namespace(ns)


def instance(name: str) -> list[str]:
    return ["--instance", f"kct-{name}-{secrets.token_hex(2)}"]


def namespace_of(flags: list[str]) -> str:
    return flags[flags.index("--instance") + 1]


def on_the_real_node(text: str) -> str:
    """The spec with the real node's annotations in its workspace (kc adds workspace annotations to
    every object, the Namespace among them; the admission plugins read them from the Namespace)."""
    lines = [f"    {key}: {json.dumps(value)}" for key, value in ANNOTATIONS.items()]
    found = re.search(r"^workspace:[ \t]*(#.*)?\n", text, re.M)
    if found is None:
        block = "workspace:\n  annotations:\n" + "\n".join(lines) + "\n"
        stages = re.search(r"^stages:", text, re.M)
        assert stages, "a spec with stages"
        return text[: stages.start()] + block + text[stages.start() :]
    assert not re.search(r"^  annotations:", text, re.M), "the workspace has annotations of its own"
    return text[: found.end()] + "  annotations:\n" + "\n".join(lines) + "\n" + text[found.end() :]


def example(real: Real, name: str) -> Path:
    """A copy of examples/NAME (its spec with the real node's annotations) under the test's tmp."""
    folder = real.tmp / name
    shutil.copytree(ROOT / "examples" / name, folder)
    spec = folder / "pipeline.spec"
    spec.write_text(on_the_real_node(spec.read_text()))
    return spec


def compiled(real: Real, spec: Path, flags: list[str]) -> list[dict[str, Any]]:
    out = real.tmp / f"out-{secrets.token_hex(3)}"
    code = cli.main(["compile", str(spec), *flags, "-o", str(out)])
    assert code == 0, f"kc compile {spec} exited {code}"
    return [doc for path in sorted(out.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


# --- what the compiled pipeline needs that nothing in it makes ---------------------------------------


def pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            found.append(spec["template"]["spec"])
    return found


def secrets_needed(objects: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Secret name -> keys, for every Secret a pod of the plan reads that the plan does not make."""
    needed: dict[str, set[str]] = {}
    for spec in pod_specs(objects):
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            for env in container.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    needed.setdefault(ref["name"], set()).add(ref["key"])
            for source in container.get("envFrom", []):
                if "secretRef" in source:
                    needed.setdefault(source["secretRef"]["name"], set())
        for volume in spec.get("volumes", []):
            sources = [volume] + [s for s in (volume.get("projected") or {}).get("sources", [])]
            for source in sources:
                ref = source.get("secret")
                if ref:
                    name = ref.get("secretName") or ref.get("name")
                    needed.setdefault(name, set()).update(item["key"] for item in ref.get("items", []))
    made = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Secret"}
    return {name: keys or {"password"} for name, keys in needed.items() if name not in made}


def provide_secrets(real: Real, objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Make the Secrets the pipeline's pods read and nothing in the spec creates (the shop's
    database password, the ETL's warehouse password, …): a user's job today, until kc generates
    secrets (issue #12). The namespace is kc's first bundle, and the Secrets must be there before
    the pods start, so the namespace is created first, exactly as kc compiled it (its ownership
    labels make it kc's: ``kc apply`` takes it over rather than refusing it)."""
    needed = secrets_needed(objects)
    if not needed:
        return {}
    (namespace,) = [obj for obj in objects if obj["kind"] == "Namespace"]
    ns = namespace["metadata"]["name"]
    real.namespaces.add(ns)
    real.core.create_namespace({"metadata": namespace["metadata"]})
    values = {}
    for name, keys in sorted(needed.items()):
        values[name] = {key: secrets.token_urlsafe(12) for key in sorted(keys)}
        real.core.create_namespaced_secret(ns, {"metadata": {"name": name}, "stringData": values[name]})
    return values


def remove_secrets(real: Real, ns: str, made: dict[str, dict[str, str]]) -> None:
    """The test's Secrets go before the teardown, whose guard keeps a namespace holding objects kc
    did not make."""
    for name in made:
        real.core.delete_namespaced_secret(name, ns)


# --- reasons a pod can never start, and what to say about them --------------------------------------


@dataclass
class Stuck:
    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def seen(self, key: tuple[str, str], after: float) -> bool:
        now = time.monotonic()
        return now - self.first_seen.setdefault(key, now) >= after

    def look(self, real: Real, ns: str) -> str | None:
        try:
            pods = real.core.list_namespaced_pod(ns).items
        except client.ApiException:
            return None
        failed: dict[str, int] = {}
        for pod in pods:
            name = pod.metadata.name
            statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
            for status in statuses:
                waiting = status.state.waiting
                if waiting and waiting.reason in NEVER and self.seen((name, waiting.reason), STUCK_AFTER):
                    return f"pod {name}: container {status.name}: {waiting.reason}: {waiting.message or ''}"
                unready = status.state.running and not status.ready and status.started is not None
                if unready and self.seen((name, f"unready {status.name}"), NOT_READY_AFTER):
                    return f"pod {name}: container {status.name} running but not ready for {NOT_READY_AFTER:.0f}s"
            if pod.status.phase == "Failed":
                job = (pod.metadata.labels or {}).get("job-name", name)
                failed[job] = failed.get(job, 0) + 1
                if failed[job] >= 2:
                    return f"job {job}: {failed[job]} pods failed"
            scheduled = [c for c in pod.status.conditions or [] if c.type == "PodScheduled" and c.status == "False"]
            if scheduled and self.seen((name, "unschedulable"), UNSCHEDULED_AFTER):
                return f"pod {name}: not scheduled: {scheduled[0].message}"
        for event in warnings(real, ns):
            if event.reason == "FailedCreate" and self.seen((event.involved_object.name, "FailedCreate"), 20):
                return f"{event.involved_object.kind} {event.involved_object.name}: FailedCreate: {event.message}"
        return None


def warnings(real: Real, ns: str) -> list[Any]:
    try:
        return [e for e in real.core.list_namespaced_event(ns).items if e.type == "Warning"]
    except client.ApiException:
        return []


def explain(real: Real, ns: str) -> str:
    """What the namespace's pods are doing, their containers' states and last log lines, and its
    warning events: enough to say why something did not run."""
    if not ns:
        return ""
    lines = []
    try:
        pods = real.core.list_namespaced_pod(ns).items
    except client.ApiException as error:
        return f"(pods of {ns}: {error.reason})"
    for pod in pods:
        lines.append(f"pod {pod.metadata.name} on {pod.spec.node_name}: {pod.status.phase}")
        statuses = (pod.status.init_container_statuses or []) + (pod.status.container_statuses or [])
        for status in statuses:
            lines.append(f"  container {status.name}: {describe_state(status.state)} ready={status.ready}")
            if status.last_state and status.last_state.terminated:
                lines.append(f"    last: {describe_state(status.last_state)}")
            if status.state.running or status.state.terminated or status.last_state.terminated:
                log = pod_log(real, ns, pod.metadata.name, status.name, previous=not status.state.terminated)
                lines += [f"    | {line}" for line in log.splitlines()[-15:]]
    seen = set()
    for event in warnings(real, ns):
        key = (event.involved_object.kind, event.involved_object.name, event.reason, event.message)
        if key not in seen:
            seen.add(key)
            lines.append(f"warning {key[0]} {key[1]}: {key[2]}: {key[3]}")
    return "\n".join(lines)


def describe_state(state: Any) -> str:
    if state.waiting:
        return f"waiting {state.waiting.reason}: {state.waiting.message or ''}"
    if state.terminated:
        t = state.terminated
        return f"terminated {t.reason} exit {t.exit_code} {t.message or ''}".rstrip()
    return "running" if state.running else "?"


def pod_log(real: Real, ns: str, pod: str, container: str, previous: bool = False) -> str:
    for prev in [True, False] if previous else [False]:
        try:
            return str(real.core.read_namespaced_pod_log(pod, ns, container=container, previous=prev, tail_lines=40))
        except client.ApiException:
            continue
    return ""


# --- what ran ---------------------------------------------------------------------------------------


def check_running(real: Real, ns: str) -> None:
    """Every Deployment's and StatefulSet's replicas Ready, every Job Complete, every pod on the
    real node."""
    for workload in real.apps.list_namespaced_deployment(ns).items + real.apps.list_namespaced_stateful_set(ns).items:
        wanted = workload.spec.replicas if workload.spec.replicas is not None else 1
        ready = workload.status.ready_replicas or 0
        assert ready == wanted, f"{workload.kind} {workload.metadata.name}: {ready}/{wanted} ready\n{explain(real, ns)}"
    for job in real.batch.list_namespaced_job(ns).items:
        assert complete(job), f"Job {job.metadata.name} is not complete\n{explain(real, ns)}"
    pods = real.core.list_namespaced_pod(ns).items
    elsewhere = [p.metadata.name for p in pods if p.spec.node_name != NODE]
    assert not elsewhere, f"pods not on the real node: {elsewhere}"


def complete(job: Any) -> bool:
    return any(c.type == "Complete" and c.status == "True" for c in job.status.conditions or [])


def run_cron_jobs(real: Real, ns: str) -> dict[str, str]:
    """A Job made from each CronJob, as ``kubectl create job --from=cronjob/NAME`` makes it; each
    must complete. Their logs, by CronJob."""
    logs = {}
    for cron in real.batch.list_namespaced_cron_job(ns).items:
        template = real.api.sanitize_for_serialization(cron.spec.job_template)
        meta = template.get("metadata") or {}
        name = f"{cron.metadata.name}-manual-{secrets.token_hex(2)}"[-63:].lstrip("-")
        owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": cron.metadata.name, "uid": cron.metadata.uid}
        body = {
            "metadata": {
                "name": name,
                "labels": meta.get("labels") or {},
                "annotations": {**(meta.get("annotations") or {}), "cronjob.kubernetes.io/instantiate": "manual"},
                "ownerReferences": [{**owner, "controller": True, "blockOwnerDeletion": True}],
            },
            "spec": template["spec"],
        }
        real.batch.create_namespaced_job(ns, body)
        wait_for_job(real, ns, name)
        logs[cron.metadata.name] = job_log(real, ns, name)
    return logs


def wait_for_job(real: Real, ns: str, name: str, timeout: float = 180) -> None:
    stuck = Stuck()
    deadline = time.monotonic() + timeout
    while True:
        job = real.batch.read_namespaced_job(name, ns)
        if complete(job):
            return
        failed = [
            c for c in job.status.conditions or [] if c.type in ("Failed", "FailureTarget") and c.status == "True"
        ]
        reason = f"{failed[0].reason}: {failed[0].message}" if failed else stuck.look(real, ns)
        if reason or time.monotonic() > deadline:
            pytest.fail(f"Job {name} did not complete: {reason or 'timed out'}\n{explain(real, ns)}")
        time.sleep(1)


def job_log(real: Real, ns: str, job: str) -> str:
    pods = real.core.list_namespaced_pod(ns, label_selector=f"job-name={job}").items
    done = [p for p in pods if p.status.phase == "Succeeded"] or pods
    return pod_log(real, ns, done[0].metadata.name, done[0].spec.containers[0].name) if done else ""


def stage_jobs(real: Real, ns: str, stage: str) -> list[Any]:
    return [
        j for j in real.batch.list_namespaced_job(ns).items if (j.metadata.labels or {}).get("kc.dev/stage") == stage
    ]


def no_pods_left(real: Real, ns: str) -> None:
    deadline = time.monotonic() + 60
    while (left := [p.metadata.name for p in real.core.list_namespaced_pod(ns).items]) and time.monotonic() < deadline:
        time.sleep(1)
    assert not left, f"pods left after the teardown: {left}"


# --- the examples -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_on_the_real_node(real: Real, name: str) -> None:
    spec = example(real, name)
    flags = instance(name)
    ns = namespace_of(flags)
    objects = compiled(real, spec, flags)
    made = provide_secrets(real, objects)
    real.apply(spec, flags)
    check_running(real, ns)

    for cron, log in run_cron_jobs(real, ns).items():
        print(f"{cron}: {log}")

    if name == "linecount":
        # The data pipeline: fetch writes files, dedupe reads them and writes unique lines, count
        # reads those. count's log is the number of distinct lines: data passed through each wire.
        (job,) = stage_jobs(real, ns, "count")
        total = job_log(real, ns, job.metadata.name).strip()
        assert re.fullmatch(r"\d+", total) and int(total) > 0, f"count printed {total!r}"

    remove_secrets(real, ns, made)
    real.teardown(spec, flags)
    no_pods_left(real, ns)


# --- a job that talks to PostgreSQL with the password from its Secret --------------------------------

POSTGRES_AND_CLIENT = """\
kc: 1
pipeline: pg
stages:
  db:
    pattern: postgres
    password-secret: pg-creds
    user: app
  check:
    pattern: job
    image: docker.io/library/postgres:16.4
    command: [psql, -v, ON_ERROR_STOP=1, -c, "select 'connected as ' || current_user"]
    env:
      PGHOST: ${db.host}
      PGPORT: ${db.port}
      PGUSER: app
      PGDATABASE: app
      PGPASSWORD: {secret: pg-creds/password}
"""


def test_a_job_connects_to_postgres_with_the_password_of_its_secret(real: Real) -> None:
    spec = real.tmp / "pg.spec"
    spec.write_text(on_the_real_node(POSTGRES_AND_CLIENT))
    flags = instance("pg")
    ns = namespace_of(flags)
    made = provide_secrets(real, compiled(real, spec, flags))  # the Secret the postgres pattern names
    assert set(made) == {"pg-creds"}
    real.apply(spec, flags)
    check_running(real, ns)
    (job,) = stage_jobs(real, ns, "check")
    assert "connected as app" in job_log(real, ns, job.metadata.name)
    remove_secrets(real, ns, made)
    real.teardown(spec, flags)
    no_pods_left(real, ns)


# --- run parameters: a named run with values of its own ----------------------------------------------


def test_a_run_with_its_own_parameters(real: Real) -> None:
    spec = real.tmp / "greet.spec"
    spec.write_text(on_the_real_node((ROOT / "tests" / "params" / "pipeline.spec").read_text()))
    flags = [*instance("greet"), "--profile", "once", "--param", "greeting=bonjour", "--param", "shout=true"]
    ns = namespace_of(flags)
    real.apply(spec, flags)
    (job,) = stage_jobs(real, ns, "say")
    wait_for_job(real, ns, job.metadata.name)
    assert job_log(real, ns, job.metadata.name).splitlines() == [f"BONJOUR, {ns.upper()}"]
    # Another value is another config and another Job, run by the next apply; the first is pruned.
    again = [*flags[:-4], "--param", "greeting=salut"]
    real.made[real.made.index((spec, flags))] = (spec, again)  # what a teardown after a failure removes
    code, output = real.kc("apply", str(spec), *again, "--prune", "--timeout", TIMEOUT, watch=ns)
    assert code == 0 and "pruned " in output, output
    (job,) = stage_jobs(real, ns, "say")
    wait_for_job(real, ns, job.metadata.name)
    assert job_log(real, ns, job.metadata.name).splitlines() == [f"salut, {ns}"]
    real.teardown(spec, again)
    no_pods_left(real, ns)


# --- the one-line stage forms the documentation shows -------------------------------------------------

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Patterns whose one-line form names no image still run one: the pattern's own.
OWN_IMAGE = {"postgres", "redis"}
RUNS = {"service", "worker", "job", "cron", "stateful", "task", *OWN_IMAGE}


def one_line_forms() -> list[str]:
    """`name: pattern image` and `name: pattern` as the docs write them, for patterns that run an
    image that has a stand-in; and `db: postgres`, the same form for the postgres pattern."""
    found = {"db: postgres"}
    for doc in DOCS:
        for stage, pattern, image in re.findall(r"`([a-z][a-z0-9-]*): ([a-z]+)(?: ([^`\s]+))?`", doc.read_text()):
            if pattern in RUNS and (image or pattern in OWN_IMAGE):
                found.add(f"{stage}: {pattern} {image}".rstrip())
    return sorted(found)


@pytest.mark.parametrize("form", one_line_forms())
def test_a_one_line_stage_runs_on_the_real_node(real: Real, form: str) -> None:
    spec = real.tmp / "form.spec"
    spec.write_text(on_the_real_node(f"kc: 1\npipeline: form\nstages:\n  {form}\n"))
    flags = instance("form")
    ns = namespace_of(flags)
    made = provide_secrets(real, compiled(real, spec, flags))
    real.apply(spec, flags)
    check_running(real, ns)
    remove_secrets(real, ns, made)
    real.teardown(spec, flags)
    no_pods_left(real, ns)


# --- tasks that pass data, and a cron stage, with stand-in images alone -------------------------------

TASKS_AND_CRON = """\
kc: 1
pipeline: flow
workspace:
  data: {size: 1Gi}
stages:
  produce:
    pattern: task
    image: docker.io/library/busybox:1.36.1
    command: [/bin/sh, -c]
    args: ["printf 'b\\\\na\\\\nb\\\\n' > /data/out/words/list.txt"]
    outputs: [words]
  consume:
    pattern: task
    image: docker.io/library/busybox:1.36.1
    command: [/bin/sh, -c]
    args: ["sort -u /data/in/words/list.txt | wc -l"]
    inputs: {words: produce.words}
  tick:
    pattern: cron
    image: docker.io/library/busybox:1.36.1
    schedule: "0 3 * * *"
    command: [/bin/sh, -c, "echo tick"]
"""


def test_tasks_pass_data_and_a_cron_stage_runs(real: Real) -> None:
    """The machinery of the examples' checks with stand-in images only: a task reads what the
    one before it wrote on the pipeline's data claim, and a Job made from a CronJob completes."""
    spec = real.tmp / "flow.spec"
    spec.write_text(on_the_real_node(TASKS_AND_CRON))
    flags = instance("flow")
    ns = namespace_of(flags)
    real.apply(spec, flags)
    check_running(real, ns)
    (job,) = stage_jobs(real, ns, "consume")
    assert job_log(real, ns, job.metadata.name).strip() == "2"
    assert list(run_cron_jobs(real, ns).values()) == ["tick\n"]
    real.teardown(spec, flags)
    no_pods_left(real, ns)


# --- running a task again, and the tasks that read it ---------------------------------------------------

PRODUCE_AND_CONSUME = TASKS_AND_CRON.partition("  tick:")[0]


def test_rerun_runs_the_readers_again_and_only_does_not(real: Real) -> None:
    """``kc apply --rerun produce`` runs consume again too, since it reads produce's output;
    ``--only`` leaves consume's Job as it was. An edit of produce renames both Jobs: ``kc diff``
    says why each will run, and the next apply runs both, consume on the new output."""
    spec = real.tmp / "again.spec"
    spec.write_text(on_the_real_node(PRODUCE_AND_CONSUME))
    flags = instance("again")
    ns = namespace_of(flags)
    real.apply(spec, flags)

    def uids() -> dict[str, str]:
        return {stage: job.metadata.uid for stage in ("produce", "consume") for job in stage_jobs(real, ns, stage)}

    def apply(*more: str) -> str:
        code, output = real.kc("apply", str(spec), *flags, *more, "--timeout", TIMEOUT, watch=ns)
        assert code == 0, output
        check_running(real, ns)
        return output

    first = uids()
    (consumer,) = stage_jobs(real, ns, "consume")
    output = apply("--rerun", "produce")
    assert f"running stage consume again: downstream of produce; deleted Job {ns}/{consumer.metadata.name}" in output
    again = uids()
    assert again["produce"] != first["produce"] and again["consume"] != first["consume"], output
    (consumer,) = stage_jobs(real, ns, "consume")
    assert job_log(real, ns, consumer.metadata.name).strip() == "2"

    output = apply("--rerun", "produce", "--only")
    assert "running stage consume" not in output
    alone = uids()
    assert alone["produce"] != again["produce"] and alone["consume"] == again["consume"], output

    spec.write_text(spec.read_text().replace("printf 'b", "printf 'c"))  # three distinct words now
    code, shown = real.kc("diff", str(spec), *flags)
    assert code == 1, shown
    assert re.search(r"\+ Job \S+-produce-\w+  \(again.spec:\d+\)  will run: changed", shown), shown
    assert re.search(r"\+ Job \S+-consume-\w+  \(again.spec:\d+\)  will run: upstream produce changed", shown), shown
    apply()
    (renamed,) = [j for j in stage_jobs(real, ns, "consume") if j.metadata.name != consumer.metadata.name]
    assert job_log(real, ns, renamed.metadata.name).strip() == "3"
    real.teardown(spec, flags)
    no_pods_left(real, ns)
