"""The pods behind a gate that waits: which of them cannot run and why, with the last lines of the
failing container's log and the pod's latest Warning events (docs/cluster.md, "When a pod cannot
run").

Cheap by design: one LIST of the workload's pods per look at a waiting gate (none for a
``pods-running`` gate, whose check listed them already), and the log and the events only when the
trouble is news (another pod, container or reason), not on every look."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kc.cluster import client as cluster_client
from kc.cluster import pod_trouble
from kc.cluster.errors import ClusterError

LOG_LINES = 10  # lines of the failing container's log that a timed-out gate shows
EVENTS = 5  # latest Warning events of the pod
FRESH = 1.0  # seconds for which a fetched log and events need not be fetched again
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"})


@dataclass
class Report:
    """A pod in trouble, with what was fetched about it when the trouble became news."""

    trouble: pod_trouble.Trouble
    log: list[str] = field(default_factory=list)
    log_note: str = ""  # why there is no log, when it could not be fetched
    events: list[str] = field(default_factory=list)
    others: int = 0  # more pods of the same workload in trouble
    fetched: float = field(default_factory=time.monotonic)

    @property
    def line(self) -> str:
        more = f" (and {self.others} more pod{'s' if self.others > 1 else ''})" if self.others else ""
        return pod_trouble.line(self.trouble, self.log) + more

    @property
    def short(self) -> str:
        """For the progress line: the pod, the reason and the hint; no namespace, no message."""
        trouble = self.trouble
        advice = pod_trouble.hint(trouble, self.log)
        return f"pod {trouble.pod}: {trouble.reason}" + (f": {advice}" if advice else "")

    def details(self) -> str:
        """Indented lines for the message of a gate that timed out or failed."""
        trouble = self.trouble
        out = [f"  {self.line}"]
        message = " ".join(trouble.message.split())
        if message and message not in out[0]:
            out.append(f"  message: {message}")
        if self.log:
            run = "previous run" if trouble.previous else "last run"
            out.append(f"  log of container {trouble.container} ({run}, last {len(self.log)} lines):")
            out.extend(f"    {text}" for text in self.log)
        elif self.log_note:
            out.append(f"  log of container {trouble.container}: {self.log_note}")
        if self.events:
            out.append(f"  latest Warning events of pod {trouble.pod}:")
            out.extend(f"    {text}" for text in self.events)
        return "\n".join(out)


def selector(obj: dict[str, Any]) -> str:
    found = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(found.items()))


class PodWatch:
    """Looks at the pods of what a gate waits on; remembers the trouble it reported last."""

    def __init__(self, client: cluster_client.Client) -> None:
        self._client = client
        self._able = True  # False once the cluster refused to list pods: gates go on without
        self.report: Report | None = None
        # The pods of the last look that wait to run, by uid: since when (kc's own clock, so that
        # no skew between this machine and the cluster can fail a pod early) and the pod.
        self._waiting: dict[str, tuple[float, dict[str, Any]]] = {}

    def look(
        self, namespace: str | None, obj: dict[str, Any] | None, pods: list[dict[str, Any]] | None = None
    ) -> Report | None:
        """The trouble of the pods behind ``obj`` (the live object a gate waits on), fetching
        the log and events only when it is news; None when no pod is known to be in trouble."""
        found = self._pods(namespace, obj) if pods is None else pods
        self._note_waiting(found or [])
        if found is None:
            return self.report
        troubles = [t for t in map(pod_trouble.read, sorted(found, key=_name)) if t is not None]
        if not troubles:
            if self.report is not None and not _still(self.report.trouble, found):
                self.report = None
            return self.report  # between two runs of a crash loop the last word still holds
        first = troubles[0]
        if self.report is None or self.report.trouble.key != first.key:
            self.report = self.fetch(first)
        else:
            self.report.trouble = first
        self.report.others = len(troubles) - 1
        return self.report

    def _note_waiting(self, pods: list[dict[str, Any]]) -> None:
        now = time.monotonic()
        before, self._waiting = self._waiting, {}
        for pod in pods:
            if pod_trouble.waiting_to_run(pod):
                uid = str((pod.get("metadata") or {}).get("uid", ""))
                self._waiting[uid] = (before.get(uid, (now, pod))[0], pod)

    def waited(self) -> tuple[float, dict[str, Any]] | None:
        """The pod of the last look that has waited longest to run, and for how many seconds
        kc has seen it wait; None when none waits."""
        if not self._waiting:
            return None
        since, pod = min(self._waiting.values(), key=lambda entry: entry[0])
        return time.monotonic() - since, pod

    def settle(self, pod: dict[str, Any]) -> Report:
        """The report on ``pod``, which waited too long to run, fetched (unless it is already
        the one reported): what the closing message shows."""
        trouble = pod_trouble.stuck(pod)
        if self.report is None or self.report.trouble.uid != trouble.uid:
            self.report = self.fetch(trouble)
        return self.report

    def final(self) -> Report | None:
        """The last report with its log and events fetched again, for the closing message
        (unless they were fetched a moment ago)."""
        if self.report is not None and time.monotonic() - self.report.fetched > FRESH:
            others = self.report.others
            self.report = self.fetch(self.report.trouble)
            self.report.others = others
        return self.report

    def _pods(self, namespace: str | None, obj: dict[str, Any] | None) -> list[dict[str, Any]] | None:
        if obj is None or not self._able:
            return None
        if obj.get("kind") == "Pod":
            return [obj]
        labels = selector(obj)
        if obj.get("kind") not in WORKLOADS or not labels:
            return None
        try:
            return self._client.list(self._client.require("v1", "Pod"), namespace, labels)
        except ClusterError:  # not allowed to list pods: the gate waits as it would without
            self._able = False
            return None

    def fetch(self, trouble: pod_trouble.Trouble) -> Report:
        report = Report(trouble)
        if trouble.ran and trouble.container:
            try:
                text = self._client.log(
                    trouble.namespace, trouble.pod, trouble.container, tail=LOG_LINES, previous=trouble.previous
                )
                report.log = text.splitlines()[-LOG_LINES:]
                report.log_note = "" if report.log else "it logged nothing"
            except ClusterError as exc:  # a node whose kubelet serves no logs, a log rotated away
                report.log_note = f"not available ({pod_trouble.clip(str(exc), 160)})"
        report.events = self._events(trouble)
        return report

    def _events(self, trouble: pod_trouble.Trouble) -> list[str]:
        try:
            kind = self._client.kind("v1", "Event")
            if kind is None:
                return []
            fields = f"involvedObject.name={trouble.pod},type=Warning"
            found = self._client.list(kind, trouble.namespace, fields=fields)
        except ClusterError:  # events are a help, not a need
            return []
        mine = [e for e in found if (e.get("involvedObject") or {}).get("uid") in (None, "", trouble.uid)]
        mine.sort(key=_when)
        return [_event_text(e) for e in mine[-EVENTS:]]


def _name(pod: dict[str, Any]) -> str:
    return str((pod.get("metadata") or {}).get("name", ""))


def _still(trouble: pod_trouble.Trouble, pods: list[dict[str, Any]]) -> bool:
    """Whether the pod of ``trouble`` is still there and not ready (a crash loop between runs)."""
    for pod in pods:
        if (pod.get("metadata") or {}).get("uid") == trouble.uid:
            conditions = (pod.get("status") or {}).get("conditions") or []
            return not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return False


def _when(event: dict[str, Any]) -> str:
    series = event.get("series") or {}
    return str(
        series.get("lastObservedTime")
        or event.get("lastTimestamp")
        or event.get("eventTime")
        or (event.get("metadata") or {}).get("creationTimestamp")
        or ""
    )


def _event_text(event: dict[str, Any]) -> str:
    count = int((event.get("series") or {}).get("count") or event.get("count") or 1)
    times = f" (x{count})" if count > 1 else ""
    message = " ".join(str(event.get("message") or "").split())
    return f"{event.get('reason', '')}{times}: {message}"
