"""Why a pod cannot run, read from its status alone: which pod and container, Kubernetes' reason
(ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError, Unschedulable, OOMKilled, …), its
message, and what to do about it (docs/cluster.md, "When a pod cannot run"). No requests here:
``pod_watch`` fetches the pods, their logs and events, and asks this module what they mean.
https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-states"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Waiting reasons of a container that is on its way, not in trouble.
STARTING = frozenset({"", "ContainerCreating", "PodInitializing"})
# Reasons that are one trouble under two names, so that a change between them is no news.
FAMILY = {"ErrImagePull": "ImagePullBackOff", "Error": "CrashLoopBackOff"}
IMAGE_HINT = "check the image name and tag, and that the node can pull it (imagePullSecrets)"
HINTS = {
    "ImagePullBackOff": IMAGE_HINT,
    "ErrImagePull": IMAGE_HINT,
    "InvalidImageName": "the image name is not a valid reference: check the stage's image",
    "ErrImageNeverPull": "the pull policy is Never and the node does not have the image (pull-policy)",
    "RunContainerError": "the runtime could not start the command: check the stage's command and image",
    "CreateContainerError": "the runtime could not create the container: see the message and the events",
    "Evicted": "the node ran short of a resource (memory, disk): see the message",
    # A pod that waits to run without a reason in its status: the kubelet says why in events.
    "ContainerCreating": "the container has not been created: the pod's events say why (a volume that cannot be "
    "mounted, such as a missing ConfigMap or Secret, or an image still being pulled)",
    "Pending": "no container has started: the pod's events say why",
}


@dataclass(frozen=True, slots=True)
class Trouble:
    """One pod that cannot run, and why."""

    namespace: str
    pod: str
    uid: str
    container: str  # "" when the trouble is the pod's (Unschedulable, Evicted)
    reason: str
    message: str = ""
    exit_code: int | None = None
    restarts: int = 0
    ran: bool = False  # the container ran, so it has a log
    previous: bool = False  # the log worth reading is the previous run's (a crash loop between runs)
    memory: str = ""  # the container's memory limit
    env: tuple[str, ...] = ()  # the container's env entries that name a Secret or ConfigMap key

    @property
    def key(self) -> tuple[str, str, str]:
        """What has to change for the trouble to be news: the pod, the container, the reason."""
        return (self.pod, self.container, FAMILY.get(self.reason, self.reason))

    @property
    def where(self) -> str:
        out = f"Pod {self.namespace}/{self.pod}"
        return f"{out}, container {self.container}" if self.container else out


def read(pod: dict[str, Any]) -> Trouble | None:
    """Why ``pod`` cannot run, or None when nothing in its status says it cannot (yet)."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    base = (str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", "")))
    if status.get("phase") == "Failed" and status.get("reason"):  # Evicted, and the like
        return Trouble(*base, container="", reason=str(status["reason"]), message=str(status.get("message", "")))
    scheduled: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        return Trouble(*base, container="", reason="Unschedulable", message=str(scheduled.get("message", "")))
    restarting = spec.get("restartPolicy", "Always") != "Never"
    containers = {c.get("name"): c for c in (spec.get("initContainers") or []) + (spec.get("containers") or [])}
    for state in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        found = _container(state, restarting)
        if found is not None:
            reason, message, exit_code, ran, previous = found
            container = containers.get(state.get("name")) or {}
            return Trouble(
                *base,
                container=str(state.get("name", "")),
                reason=reason,
                message=message,
                exit_code=exit_code,
                restarts=int(state.get("restartCount") or 0),
                ran=ran,
                previous=previous,
                memory=str(((container.get("resources") or {}).get("limits") or {}).get("memory", "")),
                env=_references(container),
            )
    return None


def waiting_to_run(pod: dict[str, Any]) -> bool:
    """Whether ``pod`` waits to run: Pending (not scheduled, its image being pulled, its volumes
    not mounted) with no container, init containers included, running, and not being deleted.
    https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase"""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    states = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    return not any((s.get("state") or {}).get("running") is not None for s in states)


def stuck(pod: dict[str, Any]) -> Trouble:
    """Why ``pod``, which has waited too long to run, has not started: what ``read`` finds, or,
    where its status names no trouble, the reason its first waiting container gives
    (ContainerCreating) or the pod's own phase."""
    found = read(pod)
    if found is not None:
        return found
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    base = (str(meta.get("namespace", "")), str(meta.get("name", "")), str(meta.get("uid", "")))
    for state in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (state.get("state") or {}).get("waiting")
        if waiting is not None:
            reason = str(waiting.get("reason") or "ContainerCreating")
            message = str(waiting.get("message") or "")
            return Trouble(*base, container=str(state.get("name", "")), reason=reason, message=message)
    return Trouble(*base, container="", reason="Pending", message=str(status.get("message") or ""))


def _container(state: dict[str, Any], restarting: bool) -> tuple[str, str, int | None, bool, bool] | None:
    """(reason, message, exit code, ran, previous) for a container in trouble, else None."""
    now, last = state.get("state") or {}, (state.get("lastState") or {}).get("terminated") or {}
    waiting, terminated = now.get("waiting"), now.get("terminated")
    if waiting is not None:
        reason = str(waiting.get("reason") or "")
        if reason in STARTING:
            return None
        if reason == "CrashLoopBackOff" and last.get("reason") == "OOMKilled":
            return "OOMKilled", str(last.get("message") or ""), _code(last), True, True
        ran = reason == "CrashLoopBackOff" or bool(last)
        return reason, str(waiting.get("message") or ""), _code(last), ran, ran
    if terminated is not None:
        code = _code(terminated)
        if terminated.get("reason") == "OOMKilled":
            return "OOMKilled", str(terminated.get("message") or ""), code, True, False
        if code:
            reason = "CrashLoopBackOff" if restarting else "Error"
            return reason, str(terminated.get("message") or ""), code, True, False
        return None
    if now.get("running") is not None and not state.get("ready") and _code(last):
        # Between two runs of a crash loop: running again, not ready, the last run failed.
        reason = "OOMKilled" if last.get("reason") == "OOMKilled" else "CrashLoopBackOff"
        return reason, "", _code(last), True, True
    return None


def _code(terminated: dict[str, Any]) -> int | None:
    code = terminated.get("exitCode")
    return None if code is None else int(code)


def _references(container: dict[str, Any]) -> tuple[str, ...]:
    """``DB_PASSWORD=Secret shop-db-creds/password``: the env entries that read a key."""
    out = []
    for entry in container.get("env") or []:
        source = entry.get("valueFrom") or {}
        for field, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
            ref = source.get(field)
            if ref:
                out.append(f"{entry.get('name')}={kind} {ref.get('name')}/{ref.get('key')}")
    return tuple(out)


_MISSING_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) (\S+?)/(\S+)$")
_MISSING_OBJECT = re.compile(r'(secret|configmap) "([^"]+)" not found')


def _config_hint(trouble: Trouble) -> str:
    """Name the Secret or ConfigMap and the key, and the env entry that asks for it."""
    missing = _MISSING_KEY.search(trouble.message)
    if missing:
        key, kind, namespace, name = missing.groups()
        wanted = f"{kind} {name}/{key}"
        users = [e.partition("=")[0] for e in trouble.env if e.endswith("=" + wanted)]
        who = f" (env {', '.join(users)})" if users else ""
        return f"the {kind} {namespace}/{name} has no key '{key}'{who}: add the key, or change the env that names it"
    gone = _MISSING_OBJECT.search(trouble.message)
    if gone:
        kind = "Secret" if gone.group(1) == "secret" else "ConfigMap"
        name = gone.group(2)
        users = [e.partition("=")[0] for e in trouble.env if f"={kind} {name}/" in e]
        who = f" (env {', '.join(users)})" if users else ""
        return f"the {kind} {trouble.namespace}/{name} does not exist{who}: create it before applying"
    if "runAsNonRoot" in trouble.message or "non-root" in trouble.message:
        return "the image runs as root and the pod may not: use an image that runs as a numbered non-root user"
    return "the container's configuration refers to something missing: see the message"


def _ended(trouble: Trouble, log: Sequence[str]) -> str:
    code = "" if trouble.exit_code is None else f" with code {trouble.exit_code}"
    restarts = f" ({trouble.restarts} restart{'s' if trouble.restarts > 1 else ''})" if trouble.restarts else ""
    last = next((line.strip() for line in reversed(log) if line.strip()), "")
    said = f'; its log ends: "{clip(last, 200)}"' if last else ("; it logged nothing" if trouble.ran else "")
    return f"it exited{code}{restarts}{said}"


def hint(trouble: Trouble, log: Sequence[str] = ()) -> str:
    """What to do about it, in a few words; ``log`` is the container's log tail, when fetched."""
    reason = trouble.reason
    if reason == "Unschedulable":
        return f"the scheduler says: {trouble.message}" if trouble.message else "no node fits the pod"
    if reason == "CreateContainerConfigError":
        return _config_hint(trouble)
    if reason == "OOMKilled":
        limit = f" ({trouble.memory})" if trouble.memory else ""
        return f"it used more memory than its limit{limit}: raise the stage's `size` or `resources.memory`"
    if reason in ("CrashLoopBackOff", "Error"):
        return _ended(trouble, log)
    return HINTS.get(reason, "")


def line(trouble: Trouble, log: Sequence[str] = ()) -> str:
    """One line: the pod, the container, the reason, the message where it says more than the
    hint, and the hint."""
    out = f"{trouble.where}: {trouble.reason}"
    message = " ".join(trouble.message.split())
    if message and trouble.reason not in ("Unschedulable", "CrashLoopBackOff", "Error", "OOMKilled"):
        out += f": {clip(message, 300)}"
    advice = hint(trouble, log)
    return f"{out}: {advice}" if advice else out


def clip(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
