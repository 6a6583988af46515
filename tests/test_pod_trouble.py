"""Why a pod cannot run, read from hand-written pod statuses as the kubelet and the scheduler write
them (kc.cluster.pod_trouble), and what kc fetches and shows about it while a gate waits
(kc.cluster.pod_watch, the display in kc.cluster.gates), against a stand-in client: no cluster."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from kc.cluster import gates, pod_trouble, pod_watch, rest, timing
from kc.cluster.errors import ClusterError, GateTimeout
from kc.cluster.progress import Progress
from kc.compiler import contract, ir


def pod(
    *statuses: dict[str, Any],
    name: str = "web-1",
    restart: str = "Always",
    env: list[dict[str, Any]] | None = None,
    memory: str = "",
    **status: Any,
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "web", "image": "nginx:1.27.3", "env": env or []}
    if memory:
        container["resources"] = {"limits": {"memory": memory}}
    return {
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": f"uid-{name}"},
        "spec": {"restartPolicy": restart, "containers": [container]},
        "status": {"phase": "Pending", "containerStatuses": list(statuses), **status},
    }


def waiting(reason: str, message: str = "", last: dict[str, Any] | None = None, restarts: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"name": "web", "ready": False, "restartCount": restarts}
    out["state"] = {"waiting": {"reason": reason, "message": message}}
    out["lastState"] = {"terminated": last} if last else {}
    return out


def terminated(reason: str, code: int, restarts: int = 0) -> dict[str, Any]:
    return {
        "name": "web",
        "ready": False,
        "restartCount": restarts,
        "state": {"terminated": {"reason": reason, "exitCode": code}},
        "lastState": {},
    }


PULL = 'Back-off pulling image "docker.io/library/nope:1": ErrImagePull: not found'


def test_an_image_that_cannot_be_pulled() -> None:
    found = pod_trouble.read(pod(waiting("ImagePullBackOff", PULL)))
    assert found is not None
    assert (found.pod, found.container, found.reason, found.ran) == ("web-1", "web", "ImagePullBackOff", False)
    assert pod_trouble.line(found) == (
        f"Pod shop/web-1, container web: ImagePullBackOff: {PULL}: check the image name and tag, "
        "and that the node can pull it (imagePullSecrets)"
    )
    err = pod_trouble.read(pod(waiting("ErrImagePull", "not found")))
    assert err is not None and err.key == found.key, "ErrImagePull and ImagePullBackOff are one trouble"


def test_a_crash_loop_reads_the_previous_run_and_its_log_ends_the_hint() -> None:
    last = {"reason": "Error", "exitCode": 1}
    found = pod_trouble.read(pod(waiting("CrashLoopBackOff", "back-off 20s restarting", last, restarts=3)))
    assert found is not None
    assert (found.reason, found.exit_code, found.restarts, found.ran, found.previous) == (
        "CrashLoopBackOff", 1, 3, True, True
    )  # fmt: skip
    assert pod_trouble.hint(found, ["starting", "fatal: no database", ""]) == (
        'it exited with code 1 (3 restarts); its log ends: "fatal: no database"'
    )
    assert pod_trouble.hint(found, []) == "it exited with code 1 (3 restarts); it logged nothing"
    assert "back-off" not in pod_trouble.line(found), "the back-off message says nothing the hint does not"


def test_a_crash_loop_between_two_runs_is_still_a_crash_loop() -> None:
    running = {"name": "web", "ready": False, "restartCount": 2, "state": {"running": {}}}
    running["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1}}
    found = pod_trouble.read(pod(running))
    assert found is not None and (found.reason, found.previous) == ("CrashLoopBackOff", True)
    just_ended = pod_trouble.read(pod(terminated("Error", 1, restarts=2)))
    assert just_ended is not None and just_ended.key == found.key and not just_ended.previous
    running["ready"] = True
    assert pod_trouble.read(pod(running)) is None, "a container that runs and is ready is fine"


def test_a_job_pod_that_failed() -> None:
    found = pod_trouble.read(pod(terminated("Error", 3), restart="Never", phase="Failed"))
    assert found is not None and (found.reason, found.exit_code, found.previous) == ("Error", 3, False)
    assert pod_trouble.read(pod(terminated("Completed", 0), restart="Never", phase="Succeeded")) is None


def test_a_missing_secret_key_names_the_secret_the_key_and_the_env() -> None:
    env = [{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "nope"}}}]
    message = "couldn't find key nope in Secret shop/creds"
    found = pod_trouble.read(pod(waiting("CreateContainerConfigError", message), env=env))
    assert found is not None
    assert pod_trouble.hint(found) == (
        "the Secret shop/creds has no key 'nope' (env DB_PASSWORD): add the key, or change the env that names it"
    )
    assert message in pod_trouble.line(found)


def test_a_missing_config_map_or_secret() -> None:
    env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]
    found = pod_trouble.read(pod(waiting("CreateContainerConfigError", 'configmap "settings" not found'), env=env))
    assert found is not None
    assert pod_trouble.hint(found) == "the ConfigMap shop/settings does not exist (env MODE): create it before applying"
    gone = pod_trouble.read(pod(waiting("CreateContainerConfigError", 'secret "creds" not found')))
    assert (
        gone is not None and pod_trouble.hint(gone) == "the Secret shop/creds does not exist: create it before applying"
    )


def test_out_of_memory_in_a_loop_and_in_a_job() -> None:
    last = {"reason": "OOMKilled", "exitCode": 137}
    found = pod_trouble.read(pod(waiting("CrashLoopBackOff", "back-off", last, restarts=1), memory="64Mi"))
    assert found is not None and (found.reason, found.previous, found.exit_code) == ("OOMKilled", True, 137)
    assert pod_trouble.hint(found) == (
        "it used more memory than its limit (64Mi): raise the stage's `size` or `resources.memory`"
    )
    once = pod_trouble.read(pod(terminated("OOMKilled", 137), restart="Never", phase="Failed"))
    assert once is not None and (once.reason, once.previous) == ("OOMKilled", False)


def test_unschedulable_gives_the_schedulers_message() -> None:
    message = "0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available."
    condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    found = pod_trouble.read(pod(conditions=[condition]))
    assert found is not None and (found.container, found.reason) == ("", "Unschedulable")
    assert pod_trouble.line(found) == f"Pod shop/web-1: Unschedulable: the scheduler says: {message}"


def test_a_pod_on_its_way_is_no_trouble() -> None:
    assert pod_trouble.read(pod(waiting("ContainerCreating"))) is None
    assert pod_trouble.read(pod()) is None
    scheduled = {"type": "PodScheduled", "status": "True"}
    assert (
        pod_trouble.read(pod({"name": "web", "state": {"running": {}}, "ready": False}, conditions=[scheduled])) is None
    )


def test_an_evicted_pod() -> None:
    found = pod_trouble.read(pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory."))
    assert found is not None and (found.reason, found.container) == ("Evicted", "")


# --- what is fetched, and when -------------------------------------------------------------------------


class Stand:
    """A client that answers from a list of pods and counts what it was asked."""

    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods
        self.asked: list[str] = []

    def require(self, api_version: str, kind: str) -> str:
        return kind

    def kind(self, api_version: str, kind: str) -> str:
        return kind

    def list(self, kind: str, namespace: str, selector: str = "", fields: str = "") -> list[dict[str, Any]]:
        self.asked.append(f"list {kind} {selector or fields}")
        if kind == "Pod":
            return self.pods
        event = {"reason": "BackOff", "count": 4, "message": "Back-off restarting failed container web"}
        return [{**event, "involvedObject": {"uid": "uid-web-1"}, "lastTimestamp": "2026-01-01T00:00:02Z"},
                {"reason": "Old", "message": "another pod's", "involvedObject": {"uid": "gone"}}]  # fmt: skip

    def log(self, namespace: str, pod: str, container: str, *, tail: int, previous: bool = False) -> str:
        self.asked.append(f"log {pod} {container} previous={previous}")
        return "starting\nfatal: no database\n"


DEPLOYMENT = {"kind": "Deployment", "spec": {"selector": {"matchLabels": {"app": "web"}}}}


def crashing(restarts: int) -> dict[str, Any]:
    return pod(waiting("CrashLoopBackOff", "back-off", {"reason": "Error", "exitCode": 1}, restarts))


def test_the_log_and_events_are_fetched_only_when_the_trouble_is_news() -> None:
    stand = Stand([crashing(1)])
    watch = pod_watch.PodWatch(stand)  # type: ignore[arg-type]
    report = watch.look("shop", DEPLOYMENT)
    assert report is not None
    assert stand.asked == [
        "list Pod app=web",
        "log web-1 web previous=True",
        "list Event involvedObject.name=web-1,type=Warning",
    ]
    assert report.events == ["BackOff (x4): Back-off restarting failed container web"], "only this pod's"
    for restarts in (2, 3):  # the same trouble, looked at again: no log, no events
        stand.pods = [crashing(restarts)]
        report = watch.look("shop", DEPLOYMENT)
    assert stand.asked[3:] == ["list Pod app=web", "list Pod app=web"]
    assert report is not None and report.trouble.restarts == 3
    stand.pods = [crashing(3), pod(waiting("ImagePullBackOff", PULL), name="web-0")]
    report = watch.look("shop", DEPLOYMENT)
    assert report is not None and report.trouble.pod == "web-0" and report.others == 1
    assert stand.asked[-1] == "list Event involvedObject.name=web-0,type=Warning", "news: the events, no log"
    assert not any(a.startswith("log web-0") for a in stand.asked), "a container that never ran has no log"


def test_a_pods_running_gate_lends_its_pods_and_a_refused_listing_is_no_failure() -> None:
    stand = Stand([])
    watch = pod_watch.PodWatch(stand)  # type: ignore[arg-type]
    assert watch.look("shop", DEPLOYMENT, pods=[pod(waiting("ImagePullBackOff", PULL))]) is not None
    assert not any(a.startswith("list Pod") for a in stand.asked)

    def refuse(*args: Any, **kw: Any) -> Any:
        raise ClusterError("the cluster forbids list on pods", 403)

    stand.list = refuse  # type: ignore[method-assign]
    quiet = pod_watch.PodWatch(stand)  # type: ignore[arg-type]
    assert quiet.look("shop", DEPLOYMENT) is None and quiet.look("shop", DEPLOYMENT) is None


def test_the_closing_message_carries_the_pod_the_reason_the_log_and_the_events() -> None:
    stand = Stand([crashing(2)])
    watch = pod_watch.PodWatch(stand)  # type: ignore[arg-type]
    watch.look("shop", DEPLOYMENT)
    assert watch.final() is watch.report and len(stand.asked) == 3, "just fetched: not again"
    assert watch.report is not None
    watch.report.fetched -= 60
    report = watch.final()
    assert report is not None and len(stand.asked) == 5, "the log and events again, for the closing message"
    assert report.details().splitlines() == [
        "  Pod shop/web-1, container web: CrashLoopBackOff: it exited with code 1 (2 restarts); its log ends: "
        '"fatal: no database"',
        "  message: back-off",
        "  log of container web (previous run, last 2 lines):",
        "    starting",
        "    fatal: no database",
        "  latest Warning events of pod web-1:",
        "    BackOff (x4): Back-off restarting failed container web",
    ]


@pytest.mark.parametrize("live", [False, True])
def test_a_log_gets_one_line_per_new_trouble_a_terminal_the_progress_line(
    live: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    stream = io.StringIO()
    stand = Stand([crashing(1)])
    progress = Progress(stream, live=live)
    shown = gates._Shown(progress, "[2/3] bundle 02 web", pod_watch.PodWatch(stand))  # type: ignore[arg-type]
    wait = "waiting for web: rollout complete: Deployment shop/web (0/1 available)"
    for restarts in (1, 2, 3):
        stand.pods = [crashing(restarts)]
        shown.pods.look("shop", DEPLOYMENT)
        shown.waiting("web: rollout complete", wait, 12.0)
    text = stream.getvalue()
    if not live:
        assert text.splitlines() == [
            f"[2/3] bundle 02 web: {wait}",
            "[2/3] bundle 02 web: Pod shop/web-1, container web: CrashLoopBackOff: it exited with code 1 "
            '(1 restart); its log ends: "fatal: no database"',
        ]
        return
    assert "\n" not in text
    assert text.rpartition("\r\033[K")[2] == (
        "[2/3] bundle 02 web: web: rollout complete: pod web-1: CrashLoopBackOff: it exited with code 1 "
        '(3 restarts); its log ends: "fatal: no database" (12s)'
    )
    monkeypatch.setenv("COLUMNS", "80")
    shown.waiting("web: rollout complete", wait, 75.0)
    last = stream.getvalue().rpartition("\r\033[K")[2]
    assert len(last) == 79 and last.endswith("… (1m15s)"), "a narrow terminal keeps the time"


# --- a pod that waits to run: pending-timeout --------------------------------------------------------


def test_what_waits_to_run() -> None:
    assert pod_trouble.waiting_to_run(pod(waiting("ContainerCreating")))
    assert pod_trouble.waiting_to_run(pod(waiting("ImagePullBackOff", PULL)))
    assert pod_trouble.waiting_to_run(pod(conditions=[{"type": "PodScheduled", "status": "False"}]))
    running = {"name": "init", "state": {"running": {}}}
    assert not pod_trouble.waiting_to_run(pod(waiting("PodInitializing"), initContainerStatuses=[running])), (
        "an init container runs: the pod is doing something"
    )
    assert not pod_trouble.waiting_to_run({**pod(), "status": {"phase": "Running"}})
    going = pod(waiting("ContainerCreating"))
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not pod_trouble.waiting_to_run(going), "a pod being deleted waits for nothing"


def test_a_pod_that_waits_without_a_reason_is_named_by_its_containers_state() -> None:
    mounting = pod_trouble.stuck(pod(waiting("ContainerCreating")))
    assert (mounting.container, mounting.reason) == ("web", "ContainerCreating")
    assert "volume that cannot be mounted" in pod_trouble.hint(mounting)
    bare = pod_trouble.stuck(pod())
    assert (bare.container, bare.reason) == ("", "Pending")
    pulling = pod_trouble.stuck(pod(waiting("ImagePullBackOff", PULL)))
    assert pulling.reason == "ImagePullBackOff", "a reason the status names comes first"


class Clock:
    """time.monotonic for the modules that wait, moved on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Waiting(Stand):
    """A cluster where a Job waits on its pods: each watch lasts the seconds it asks for."""

    def __init__(self, pods: list[dict[str, Any]], clock: Clock) -> None:
        super().__init__(pods)
        self.clock = clock
        self.watches: list[float] = []

    def get(self, kind: Any, namespace: str, name: str) -> dict[str, Any]:
        return {
            "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "7"},
            "spec": {"completions": 1, "selector": {"matchLabels": {"app": "migrate"}}},
            "status": {},
        }

    def changed(self, kind: Any, namespace: str, since: str, seconds: float, **kw: str) -> bool:
        self.watches.append(seconds)
        self.clock.now += seconds
        return False


def _target(pending: int | None) -> gates.Target:
    kind = rest.Kind("batch/v1", "Job", "jobs", True)
    return gates.Target("migrate", ir.Gate("job-complete", (("Job", "m"),), pending), kind, "shop", "m")


@pytest.mark.parametrize(
    ("pending", "said"), [(20, "the stage's pending-timeout (20s)"), (None, "the default pending-timeout (5m00s)")]
)
def test_a_gate_fails_once_a_pod_has_waited_to_run_past_its_pending_timeout(
    pending: int | None, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    stand = Waiting([pod(waiting("ContainerCreating"))], clock)
    progress = Progress(io.StringIO(), live=False)
    with pytest.raises(GateTimeout) as failed:
        gates.wait(stand, [_target(pending)], 3600, progress, "[1/1] bundle 01 migrate")  # type: ignore[arg-type]
    limit = pending or contract.PENDING_TIMEOUT
    lines = str(failed.value).splitlines()
    assert lines[0] == (
        "gate 'migrate: job complete' cannot pass: "
        f"pod web-1 of Job shop/m waited {timing.text(limit)} to run, past {said}"
    )
    assert lines[1].startswith("  Pod shop/web-1, container web: ContainerCreating: the container has not been created")
    assert "  latest Warning events of pod web-1:" in lines
    assert sum(stand.watches) == limit, "the last watch ends when the pod passes its pending-timeout, not later"


def test_a_pod_that_starts_in_time_does_not_fail_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock)
    stand = Waiting([pod(waiting("ContainerCreating"), name="m-1")], clock)
    looks = 0
    original = stand.get

    def get(kind: Any, namespace: str, name: str) -> dict[str, Any]:
        nonlocal looks
        looks += 1
        if looks == 2:  # started, and crashed: pending no more, and a new pod that waits
            stand.pods = [{**pod(name="m-2"), "status": {"phase": "Pending"}}]
        obj = original(kind, namespace, name)
        if clock.now >= 1025:
            obj["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        return obj

    stand.get = get  # type: ignore[method-assign]
    took = gates.wait(stand, [_target(20)], 3600, Progress(io.StringIO(), live=False), "b")  # type: ignore[arg-type]
    assert took >= 25, "each pod's wait is its own: m-2 started waiting when kc first saw it"
