"""``kc apply``'s half of results (compiler/results.py): once a step that declares results has
passed its gate, read the values from the termination message of its pod's ``kc-results``
sidecar and store them in the pipeline's results ConfigMap, where readers' pods take them from.

The values are written with a JSON merge patch under a field manager of their own, so applying
bundle 0 again (whose ConfigMap has no data) leaves them, and a stage's values replace only its
own keys."""

from __future__ import annotations

from typing import Any

from kc.cluster import client as cluster_client
from kc.cluster import progress as progress_display
from kc.cluster.errors import GateTimeout
from kc.compiler import contract, ir, results

MANAGER = "kc-results"
JOB_LABEL = "batch.kubernetes.io/job-name"  # the Job controller puts it on every pod it makes


def declared(manifest: dict[str, Any]) -> list[str]:
    """The results a compiled Job declares."""
    text = ((manifest.get("metadata") or {}).get("annotations") or {}).get(contract.RESULTS) or ""
    return [n for n in str(text).split(",") if n]


def _message(pod: dict[str, Any]) -> str | None:
    for status in (pod.get("status") or {}).get("initContainerStatuses") or []:
        if status.get("name") == results.SIDECAR:
            return ((status.get("state") or {}).get("terminated") or {}).get("message")
    return None


def _values(client: cluster_client.Client, job: ir.Object, names: list[str]) -> dict[str, str]:
    pods = client.list(client.require("v1", "Pod"), job.namespace, f"{JOB_LABEL}={job.name}")
    done = [p for p in pods if (p.get("status") or {}).get("phase") == "Succeeded"]
    done.sort(key=lambda p: str(p["metadata"].get("creationTimestamp", "")))
    if not done:
        raise results.ResultError(f"no succeeded pod of Job {job.name} is left to read them from")
    message = _message(done[-1])
    if message is None:
        raise results.ResultError(
            f"pod {done[-1]['metadata']['name']} has no report from its {results.SIDECAR} container"
        )
    return results.parse(message, names)


def capture(
    client: cluster_client.Client, instance: str, step: ir.Step, progress: progress_display.Progress, label: str
) -> None:
    """Store the results of ``step``'s Jobs; a value not written or too large fails the step
    (GateTimeout, exit 4), as a failed Job would."""
    for job in step.objects:
        names = declared(job.manifest) if job.kind == "Job" else []
        if not names:
            continue
        try:
            values = _values(client, job, names)
        except results.ResultError as exc:
            raise GateTimeout(f"{label}: step {step.id}: results of stage {step.stage}: {exc}") from None
        data = {results.key(step.stage, name): values[name] for name in names}
        kind = client.require("v1", "ConfigMap")
        client.merge(kind, job.namespace, results.configmap(instance), {"data": data}, MANAGER)
        progress.line(f"{label}: stored results of stage {step.stage}: {', '.join(names)}")
