"""``kc logs``: the logs of a stage's pods, each line prefixed with its pod and container as
``kubectl logs -l … --prefix`` prefixes it, followed with ``-f`` (one thread per container, so
that several pods' lines interleave as they come) (docs/cluster.md, "kc logs").

A stage's pods are found by kc's labels (``kc.dev/instance``, ``kc.dev/stage``) in the
pipeline's namespace; a stage of several steps (a database and its ``init`` Job) has pods of
each, told apart by the selectors of the step's live workloads, a Job's first."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TextIO

from kc.cluster import client as cluster_client
from kc.cluster import view
from kc.cluster.errors import ClusterError, Refused
from kc.compiler import contract
from kc.compiler import diagnostics as diag

Pod = dict[str, Any]


def _unknown(what: str, word: str, known: list[str]) -> Refused:
    hint = diag.did_you_mean(word, known)
    listed = ", ".join(known) or "none"
    return Refused(f"unknown {what} '{word}'" + (f"; {hint}" if hint else f" (known: {listed})"))


def choose(plan: view.Plan, stage: str, step: str | None) -> view.Step:
    """The step whose pods to show: the stage's first, or ``step`` (``init`` or ``db-init``)."""
    if stage not in plan.stages:
        raise _unknown("stage", stage, plan.stages)
    steps = plan.steps_of(stage)
    if not step:
        return steps[0]
    for candidate in steps:
        if step in (candidate.id, candidate.id.removeprefix(f"{stage}-")):
            return candidate
    raise _unknown(f"step of stage '{stage}'", step, [s.id.removeprefix(f"{stage}-") or s.id for s in steps])


def _matches(pod: Pod, labels: dict[str, str]) -> bool:
    have = (pod.get("metadata") or {}).get("labels") or {}
    return bool(labels) and all(have.get(k) == v for k, v in labels.items())


def _selectors(client: cluster_client.Client, step: view.Step) -> list[tuple[bool, dict[str, str]]]:
    """(is a Job, its selector's labels) of each of the step's live workloads."""
    out = []
    for obj in step.workloads:
        kind = client.kind(str(obj.manifest["apiVersion"]), obj.kind)
        current = client.get(kind, obj.namespace, obj.name) if kind else None
        labels = (((current or {}).get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if labels:
            out.append((obj.kind == "Job", dict(labels)))
    return out


def pods(client: cluster_client.Client, plan: view.Plan, step: view.Step) -> list[Pod]:
    """The pods of ``step``, by name: those of its stage that its workloads select (a pod a
    Job of another step selects is that step's), or, for a step without workloads (a CronJob's),
    those no other step claims."""
    selector = contract.selector_text({contract.OWNER: plan.instance, contract.STAGE: step.stage})
    found = client.list(client.require("v1", "Pod"), plan.namespace, selector)
    claims = {s.id: _selectors(client, s) for s in plan.steps_of(step.stage)}

    def owner(pod: Pod) -> str | None:
        for jobs_first in (True, False):
            for step_id, selectors in claims.items():
                if any(is_job == jobs_first and _matches(pod, labels) for is_job, labels in selectors):
                    return step_id
        return None

    mine = [p for p in found if owner(p) in ((step.id, None) if not claims[step.id] else (step.id,))]
    return sorted(mine, key=lambda p: str(p["metadata"]["name"]))


def _containers(pod: Pod) -> list[str]:
    return [str(c["name"]) for c in (pod.get("spec") or {}).get("containers") or []]


class Printer:
    """Whole lines from several threads onto one stream, each with its prefix."""

    def __init__(self, out: TextIO, err: TextIO) -> None:
        self.out, self.err = out, err
        self.lock = threading.Lock()

    def line(self, prefix: str, text: str) -> None:
        with self.lock:
            self.out.write(f"{prefix} {text}\n")
            self.out.flush()

    def trouble(self, text: str) -> None:
        with self.lock:
            self.err.write(f"kc logs: {text}\n")
            self.err.flush()


def _copy(fetch: Callable[[], Any], prefix: str, printer: Printer) -> bool:
    """Every line of one container's log; False when the log could not be read."""
    try:
        for text in fetch():
            printer.line(prefix, text)
    except ClusterError as exc:
        printer.trouble(f"{prefix}: {exc}")
        return False
    return True


def show(
    client: cluster_client.Client,
    found: list[Pod],
    printer: Printer,
    *,
    follow: bool,
    since: float | None,
    tail: int | None,
) -> bool:
    """The logs of ``found``'s containers, one after another, or with ``follow`` all at once
    until each ends (the caller's Ctrl-C stops it sooner); False if a log could not be read."""
    jobs = []
    for pod in found:
        meta = pod["metadata"]
        for container in _containers(pod):
            prefix = f"[pod/{meta['name']}/{container}]"

            def fetch(ns: str = meta["namespace"], name: str = meta["name"], c: str = container) -> Any:
                return client.pod_logs(ns, name, c, since=since, follow=follow, tail=tail)

            jobs.append((fetch, prefix))
    if not follow:
        return all([_copy(fetch, prefix, printer) for fetch, prefix in jobs])
    results: list[bool] = []
    threads = [
        threading.Thread(target=lambda f=f, p=p: results.append(_copy(f, p, printer)), daemon=True) for f, p in jobs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # short joins, so that Ctrl-C reaches the main thread at once
    return all(results)
