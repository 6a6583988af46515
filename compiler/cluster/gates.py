"""What each gate waits for (docs/cluster.md, Gates), checked the way ``kubectl rollout status``
and ``kubectl wait`` check it, and the waiting: until every object of a bundle's gates is there,
one of them can no longer get there (a pod behind it has waited to run past its pending-timeout,
too), or the time is up. Between two looks kc watches what decides the first gate still waiting
(the object, or a workload's Pods), so it looks again as soon as the controllers wrote something;
where the cluster refuses watches, it polls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kc.cluster import client as cluster_client
from kc.cluster import pod_watch, timing
from kc.cluster import progress as progress_display
from kc.cluster.errors import ClusterError, GateTimeout
from kc.compiler import contract, ir

WATCH_SLICE = 10.0  # seconds one watch may last before every gate is looked at again


@dataclass(frozen=True, slots=True)
class Check:
    done: bool
    detail: str = ""  # how far it got: "1/2 available"
    failed: str = ""  # why it can never pass: a failed Job, an exceeded progress deadline
    pods: list[dict[str, Any]] | None = field(default=None, compare=False)  # listed to decide it


@dataclass(frozen=True, slots=True)
class Target:
    """One object a gate waits on."""

    step: str
    gate: ir.Gate
    kind: cluster_client.Kind
    namespace: str | None
    name: str

    @property
    def gate_text(self) -> str:
        return f"{self.step}: {self.gate.text}"

    @property
    def text(self) -> str:
        return contract.Ref(self.kind.api_version, self.kind.kind, self.namespace, self.name).text


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(c.get("type")): c for c in (obj.get("status") or {}).get("conditions") or []}


def _observed(obj: dict[str, Any]) -> bool:
    generation = (obj.get("metadata") or {}).get("generation")
    observed = (obj.get("status") or {}).get("observedGeneration")
    return generation is None or (observed is not None and observed >= generation)


def _deployment(obj: dict[str, Any]) -> Check:
    # https://github.com/kubernetes/kubectl/blob/master/pkg/polymorphichelpers/rollout_status.go
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _observed(obj):
        return Check(False, "the controller has not seen this generation yet")
    progressing = _conditions(obj).get("Progressing") or {}
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return Check(False, failed="it exceeded its progress deadline")
    want, updated = int(spec.get("replicas", 1)), int(status.get("updatedReplicas", 0))
    total, available = int(status.get("replicas", 0)), int(status.get("availableReplicas", 0))
    if updated < want:
        return Check(False, f"{updated}/{want} updated")
    if total > updated:
        return Check(False, f"{total - updated} old replicas terminating")
    if available < updated:
        return Check(False, f"{available}/{updated} available")
    return Check(True, f"{available}/{want} available")


def _statefulset(obj: dict[str, Any]) -> Check:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if not _observed(obj):
        return Check(False, "the controller has not seen this generation yet")
    want, ready = int(spec.get("replicas", 1)), int(status.get("readyReplicas", 0))
    if ready < want:
        return Check(False, f"{ready}/{want} ready")
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        updated = int(status.get("updatedReplicas", want))
        if updated < want - partition:
            return Check(False, f"{updated}/{want - partition} updated")
        if partition == 0 and status.get("updateRevision") not in (None, status.get("currentRevision")):
            return Check(False, "rolling out the new revision")
    return Check(True, f"{ready}/{want} ready")


def _daemonset(obj: dict[str, Any]) -> Check:
    status = obj.get("status") or {}
    if not _observed(obj):
        return Check(False, "the controller has not seen this generation yet")
    want = int(status.get("desiredNumberScheduled", 0))
    updated, available = int(status.get("updatedNumberScheduled", 0)), int(status.get("numberAvailable", 0))
    if updated < want:
        return Check(False, f"{updated}/{want} updated")
    if available < want:
        return Check(False, f"{available}/{want} available")
    return Check(True, f"{available}/{want} available")


def _indexes(text: str) -> list[int]:
    """``1,3-5`` as an Indexed Job's status writes its failed and completed indexes."""
    out: list[int] = []
    for part in filter(None, text.split(",")):
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def failed_items(obj: dict[str, Any]) -> list[str]:
    """The items of a fanned-out Job (compiler/patterns/fanout.py) whose pods failed for good."""
    items = str(((obj.get("metadata") or {}).get("annotations") or {}).get(contract.ITEMS) or "").split(",")
    failed = _indexes(str((obj.get("status") or {}).get("failedIndexes") or ""))
    return [items[i] if i < len(items) and items[i] else str(i) for i in failed]


def _job(obj: dict[str, Any]) -> Check:
    conditions = _conditions(obj)
    for failed in ("Failed", "FailureTarget"):
        cond = conditions.get(failed) or {}
        if cond.get("status") == "True":
            why = ": ".join(x for x in (cond.get("reason"), cond.get("message")) if x)
            items = failed_items(obj)
            if items:
                named = ", ".join(f"'{i}'" for i in items)
                why += f"; failed item{'s' if len(items) > 1 else ''}: {named}"
            return Check(False, failed=f"the Job failed ({why})" if why else "the Job failed")
    want = int((obj.get("spec") or {}).get("completions") or 1)
    succeeded = int((obj.get("status") or {}).get("succeeded", 0))
    if (conditions.get("Complete") or {}).get("status") == "True":
        return Check(True, f"{succeeded}/{want} succeeded")
    return Check(False, f"{succeeded}/{want} succeeded")


def _established(obj: dict[str, Any]) -> Check:
    conditions = _conditions(obj)
    names = conditions.get("NamesAccepted") or {}
    if names.get("status") == "False":
        return Check(False, failed=f"its names were not accepted ({names.get('message', '')})")
    if (conditions.get("Established") or {}).get("status") == "True":
        return Check(True, "established")
    return Check(False, "not established yet")


def _ready(obj: dict[str, Any]) -> Check:
    kind = obj.get("kind")
    if kind == "StatefulSet":
        return _statefulset(obj)
    if kind == "Deployment":
        return _deployment(obj)
    if kind == "DaemonSet":
        return _daemonset(obj)
    if kind == "Job":
        return _job(obj)
    ready = _conditions(obj).get("Ready")
    if ready is not None:  # Pods, and the many custom resources that follow the convention
        return Check(ready.get("status") == "True", "ready" if ready.get("status") == "True" else "not ready")
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if "replicas" in spec:
        want, have = int(spec["replicas"]), int(status.get("readyReplicas", 0))
        return Check(have >= want, f"{have}/{want} ready")
    return Check(True, "nothing to wait for")


_match_labels = pod_watch.selector


def check(client: cluster_client.Client, target: Target, obj: dict[str, Any] | None) -> Check:
    """Where ``obj`` (the live ``target``) stands on its gate."""
    if obj is None:
        return Check(False, "not there yet")
    kind = target.gate.kind
    if kind == "job-complete":
        return _job(obj)
    if kind == "established":
        return _established(obj)
    if kind == "pods-running":
        # Running, not ready: the pods of a database that becomes ready only once a later step
        # initialised it. https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase
        want = int((obj.get("spec") or {}).get("replicas", 1))
        pod_kind = client.require("v1", "Pod")
        pods = client.list(pod_kind, target.namespace, _match_labels(obj)) if _match_labels(obj) else []
        running = sum((p.get("status") or {}).get("phase") == "Running" for p in pods)
        return Check(running >= want, f"{running}/{want} pods running", pods=pods)
    if kind == "rollout" and obj.get("kind") == "Deployment":
        return _deployment(obj)
    if kind == "rollout" and obj.get("kind") == "DaemonSet":
        return _daemonset(obj)
    return _ready(obj)


def wait(
    client: cluster_client.Client,
    targets: Sequence[Target],
    timeout: float,
    progress: progress_display.Progress,
    label: str,
) -> float:
    """Poll until every target passes its gate; returns the seconds it took. Raises
    GateTimeout naming the gate and the object, and the pod that cannot run and why, when one
    fails, when a pod behind the first one still waiting has waited to run past its step's
    pending-timeout, or when the time is up."""
    deadline = timing.Deadline(timeout)
    pending = list(targets)
    shown = _Shown(progress, label, pod_watch.PodWatch(client))
    watching = True
    for interval in timing.intervals():
        waiting: list[tuple[Target, Check, dict[str, Any] | None]] = []
        for target in pending:
            obj = client.get(target.kind, target.namespace, target.name)
            result = check(client, target, obj)
            if result.failed:
                shown.pods.look(target.namespace, obj, result.pods)
                raise GateTimeout(
                    f"gate '{target.gate_text}' cannot pass: {target.text}: {result.failed}" + shown.closing()
                )
            if not result.done:
                waiting.append((target, result, obj))
        if not waiting:
            return deadline.elapsed
        pending = [t for t, _, _ in waiting]
        first, state, obj = waiting[0]
        shown.pods.look(first.namespace, obj, state.pods)
        overdue = _overdue(first, shown.pods)
        if overdue:
            raise GateTimeout(f"gate '{first.gate_text}' cannot pass: {overdue}" + shown.closing())
        if deadline.passed:
            raise GateTimeout(
                f"gate '{first.gate_text}' timed out after {timing.text(timeout)}: "
                f"{first.text} did not get there ({state.detail})" + shown.closing()
            )
        more = f" and {len(waiting) - 1} more" if len(waiting) > 1 else ""
        text = f"waiting for {first.gate_text}: {first.text} ({state.detail}){more}"
        shown.waiting(first.gate_text, text, deadline.elapsed)
        if watching:
            try:
                if _watch(client, first, obj, deadline, _left(first, shown.pods)):
                    continue
            except ClusterError:  # watches forbidden, or not served by a proxy: poll instead
                watching = False
        deadline.sleep(interval)
    raise AssertionError("unreachable")  # pragma: no cover


class _Shown:
    """What a wait has shown: on a terminal the progress line (the wait, and the pod that cannot
    run), in a log one line when the wait begins and one when a pod's trouble changes."""

    def __init__(self, progress: progress_display.Progress, label: str, pods: pod_watch.PodWatch) -> None:
        self.progress, self.label, self.pods = progress, label, pods
        self.announced = False
        self.told: tuple[str, str, str] | None = None

    def waiting(self, gate: str, text: str, elapsed: float) -> None:
        report = self.pods.report
        if self.progress.live:  # the pod's trouble before the wait's detail, which it explains
            shown = f"{self.label}: {gate}: {report.short}" if report else f"{self.label}: {text}"
            self.progress.status(shown, f" ({timing.text(elapsed)})")
            return
        if not self.announced:  # in a log: one line when the wait begins, none per poll
            self.progress.line(f"{self.label}: {text}")
            self.announced = True
        if report is not None and report.trouble.key != self.told:
            self.progress.line(f"{self.label}: {report.line}")
            self.told = report.trouble.key

    def closing(self) -> str:
        """The pod in trouble, its log tail and events, as lines under a gate's failure."""
        report = self.pods.final()
        return "\n" + report.details() if report else ""


def pending_timeout(target: Target) -> int:
    """How long a pod behind ``target`` may wait to run: its stage's pending-timeout, or kc's default."""
    given = target.gate.pending_timeout
    return contract.PENDING_TIMEOUT if given is None else given


def _overdue(target: Target, pods: pod_watch.PodWatch) -> str:
    """Why ``target``'s gate cannot pass when a pod behind it has waited to run past its
    pending-timeout (the report then names that pod), else ""."""
    waited = pods.waited()
    limit = pending_timeout(target)
    if waited is None or waited[0] < limit:
        return ""
    pods.settle(waited[1])
    name = (waited[1].get("metadata") or {}).get("name")
    given = "the stage's pending-timeout" if target.gate.pending_timeout is not None else "the default pending-timeout"
    return f"pod {name} of {target.text} waited {timing.text(waited[0])} to run, past {given} ({timing.text(limit)})"


def _left(target: Target, pods: pod_watch.PodWatch) -> float | None:
    """Seconds until the pod that has waited longest to run passes ``target``'s pending-timeout."""
    waited = pods.waited()
    return None if waited is None else pending_timeout(target) - waited[0]


def _watch(
    client: cluster_client.Client,
    target: Target,
    obj: dict[str, Any] | None,
    deadline: timing.Deadline,
    most: float | None = None,
) -> bool:
    """Watch what decides ``target``'s gate until it changes or a slice of the time left passes
    (at most ``most`` seconds: when a waiting pod would pass its pending-timeout); False when
    there is nothing to watch from (the object is not there yet) or no time for it."""
    since = ((obj or {}).get("metadata") or {}).get("resourceVersion")
    seconds = min(deadline.left, WATCH_SLICE, WATCH_SLICE if most is None else most)
    if obj is None or not since or seconds < 1:
        return False
    pods = _match_labels(obj) if target.gate.kind == "pods-running" else ""
    if pods:
        client.changed(client.require("v1", "Pod"), target.namespace, since, seconds, selector=pods)
    else:
        client.changed(target.kind, target.namespace, since, seconds, name=target.name)
    return True
