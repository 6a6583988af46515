"""``kc status``: the live state of a pipeline in its compiled order: each bundle and step, where
its gate stands (passed, waiting, failed) and why, the pods behind each step, and the objects
that are missing or drifted (docs/cluster.md, "kc status").

One look costs one LIST per kind and namespace (``live.observe``, as ``kc diff`` makes it), one
LIST of pods per workload, and nothing else: the gates are checked as ``kc apply`` checks them
(``gates.check``) on the objects listed, without waiting, and a pod's trouble is read from its
status (``pod_trouble``); no log, no event, no dry run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kc.cluster import capture, essence, gates, live, pod_trouble, pod_watch, view
from kc.cluster import client as cluster_client
from kc.cluster.errors import ClusterError
from kc.compiler import contract, results

PASSED, WAITING, FAILED, NONE = "passed", "waiting", "failed", "none"
HEALTHY = "healthy"
# Reasons a pod waits on, rather than fails with: a node may yet come to take it.
PATIENT = frozenset({"Unschedulable"})
WATCH_SLICE = 5.0  # seconds --watch waits on the pods before it looks at everything again


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    phase: str
    ready: bool
    restarts: int = 0
    reason: str = ""  # pod_trouble's reason: CrashLoopBackOff, ImagePullBackOff, Unschedulable, …
    message: str = ""  # pod_trouble's line: the reason and what to do about it


@dataclass(frozen=True, slots=True)
class Thing:
    """A planned object: ``present``, ``missing``, ``drifted`` (``fields`` say where), or
    ``conflict`` (an object of its name that is not this instance's)."""

    ref: str
    state: str
    fields: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class StepState:
    id: str
    stage: str
    gate: str  # the gate's kind: rollout, ready, pods-running, job-complete, established, none
    gate_text: str
    state: str  # passed, waiting, failed, none
    why: str
    pods: tuple[Pod, ...] = ()
    objects: tuple[Thing, ...] = ()
    results: tuple[tuple[str, str | None], ...] = ()  # each declared result and its value, if stored


@dataclass(frozen=True, slots=True)
class BundleState:
    index: int
    name: str
    steps: tuple[StepState, ...]


@dataclass(frozen=True, slots=True)
class Status:
    pipeline: str
    instance: str
    namespace: str
    where: str
    bundles: tuple[BundleState, ...] = ()

    @property
    def steps(self) -> list[StepState]:
        return [s for b in self.bundles for s in b.steps]

    @property
    def health(self) -> str:
        """``failed`` when a gate failed, ``waiting`` when one waits or an object is missing or
        not kc's, else ``healthy``; drift alone is shown, not counted (``kc diff`` is for that)."""
        steps = self.steps
        if any(s.state == FAILED for s in steps):
            return FAILED
        absent = any(t.state in ("missing", "conflict") for s in steps for t in s.objects)
        return WAITING if absent or any(s.state == WAITING for s in steps) else HEALTHY


@dataclass
class _Look:
    client: cluster_client.Client
    found: live.Live
    pods: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by selector

    def twin(self, obj: Any) -> dict[str, Any] | None:
        return self.found.twins.get(live.key_of(obj.manifest))

    def pods_of(self, namespace: str | None, workload: dict[str, Any]) -> list[dict[str, Any]]:
        labels = pod_watch.selector(workload)
        if not labels:
            return []
        if labels not in self.pods:
            self.pods[labels] = self.client.list(self.client.require("v1", "Pod"), namespace, labels)
        return self.pods[labels]


def observe(client: cluster_client.Client, plan: view.Plan) -> Status:
    """Where every step of ``plan`` stands in the cluster now."""
    look = _Look(client, live.observe(client, plan.objects, plan.instance, plan.namespace))
    bundles = tuple(BundleState(b.index, b.name, tuple(_step(look, plan, s) for s in b.steps)) for b in plan.bundles)
    return Status(plan.pipeline, plan.instance, plan.namespace, client.where, bundles)


def _thing(look: _Look, obj: Any) -> Thing:
    ref = contract.Ref.of(obj.manifest).text
    key = live.key_of(obj.manifest)
    if key in look.found.conflicts:
        return Thing(ref, "conflict", note=look.found.conflicts[key][1])
    current = look.twin(obj)
    if current is None:
        return Thing(ref, "missing")
    changes = essence.drift(obj.manifest, current, cluster_client.FIELD_MANAGER)
    if changes:  # where, never the values: a Secret's data stays unshown
        return Thing(ref, "drifted", tuple(dict.fromkeys(essence.path_text(c.path) for c in changes)))
    return Thing(ref, "present")


def _pod(pod: dict[str, Any]) -> Pod:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    states = status.get("containerStatuses") or []
    conditions = status.get("conditions") or []
    trouble = pod_trouble.read(pod)
    return Pod(
        name=str(meta.get("name", "")),
        phase=str(status.get("phase", "Pending")),
        ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
        restarts=sum(int(s.get("restartCount") or 0) for s in states),
        reason=trouble.reason if trouble else "",
        message=pod_trouble.line(trouble) if trouble else "",
    )


def _step(look: _Look, plan: view.Plan, step: view.Step) -> StepState:
    things = tuple(_thing(look, o) for o in step.objects)
    pods: dict[str, dict[str, Any]] = {}
    for obj in step.workloads:
        current = look.twin(obj)
        if current is not None:
            pods.update({str(p["metadata"]["name"]): p for p in look.pods_of(obj.namespace, current)})
    shown = tuple(_pod(p) for _, p in sorted(pods.items()))
    state, why = _gate(look, plan, step, shown)
    stored = _results(look, plan, step)
    return StepState(step.id, step.stage, step.gate.kind, step.gate.text, state, why, shown, things, stored)


def _results(look: _Look, plan: view.Plan, step: view.Step) -> tuple[tuple[str, str | None], ...]:
    """The step's declared results and the values kc apply stored for them."""
    names = [n for o in step.objects if o.kind == "Job" for n in capture.declared(o.manifest)]
    if not names:
        return ()
    name = results.configmap(plan.instance)
    stored = next((look.twin(o) for o in plan.objects if o.kind == "ConfigMap" and o.name == name), None)
    data = (stored or {}).get("data") or {}
    return tuple((n, data.get(results.key(step.stage, n))) for n in names)


def _gate(look: _Look, plan: view.Plan, step: view.Step, pods: tuple[Pod, ...]) -> tuple[str, str]:
    """The gate's state and why: a gate's check (``gates.check``) on each object it names."""
    if step.gate.kind == "none":
        return NONE, "no gate"
    everything = {(o.kind, o.name): o for o in plan.objects}
    own = {(o.kind, o.name): o for o in step.objects}
    waiting: list[str] = []
    passed: list[str] = []
    for kind, name in step.gate.objects:
        obj = own.get((kind, name)) or everything.get((kind, name))
        if obj is None:
            continue
        ref = contract.Ref.of(obj.manifest).text
        served = look.found.kind_of(obj.manifest)
        current = look.twin(obj)
        if served is None or current is None:
            waiting.append(f"{ref}: missing")
            continue
        result = gates.check(look.client, gates.Target(step.id, step.gate, served, obj.namespace, name), current)
        if result.failed:
            return FAILED, f"{ref}: {result.failed}"
        (passed if result.done else waiting).append(f"{ref}: {result.detail}")
    if not waiting:
        return PASSED, "; ".join(passed)
    stuck = [p for p in pods if p.reason and p.reason not in PATIENT]
    if stuck:  # the gate waits on a pod that cannot run: it will not pass by waiting
        return FAILED, stuck[0].message
    patient = [p for p in pods if p.reason]
    return WAITING, "; ".join(waiting + [p.message for p in patient[:1]])


def watching(client: cluster_client.Client, plan: view.Plan, slice_seconds: float = WATCH_SLICE) -> Iterator[Status]:
    """A status now, then one each time the pipeline's pods change (a watch on them), and at
    least every ``slice_seconds`` for what has no pod (a Service deleted); polls where the
    cluster refuses watches. Never ends: the caller stops on Ctrl-C."""
    pod_kind = client.require("v1", "Pod")
    selector = contract.ownership_text(plan.instance)
    can_watch = True
    while True:
        since = ""
        if can_watch:
            try:
                since = client.list_version(pod_kind, plan.namespace, selector)
            except ClusterError:
                can_watch = False
        yield observe(client, plan)
        if not since:
            time.sleep(slice_seconds)
            continue
        try:
            client.changed(pod_kind, plan.namespace, since, slice_seconds, selector=selector)
        except ClusterError:  # watches forbidden, or not served by a proxy: poll instead
            can_watch = False
