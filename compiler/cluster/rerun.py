"""``kc apply --rerun STAGE``: run a stage's Job again, and the Jobs of the stages that read its
outputs or results (docs/cluster.md, "Running a step again").

A Job's name carries a digest of its content, so a Job that failed is the same Job at every
later apply, and every later apply stops on it. For a stage whose objects hold a Job (``job``,
``task``), ``--rerun`` deletes the stage's Jobs first (foreground, so their Pods go too) and the
apply creates them again. For a stage whose objects hold a CronJob (``cron``), it makes a Job from
the CronJob's jobTemplate once the CronJob's bundle is applied, as ``kubectl create job --from``
does, and waits for it like a job gate.

What a stage computed from another's outputs is stale once that one runs again, so the stages
that read the named ones (``ir.DATA`` dependencies), transitively, run again with them, as make
rebuilds what depends on a rebuilt target; ``--only`` runs the named stages alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kc.cluster import client as cluster_client
from kc.cluster import gates, timing
from kc.cluster import progress as progress_display
from kc.cluster.errors import GateTimeout, Refused
from kc.compiler import contract, ir
from kc.compiler import diagnostics as diag

JOB_NAME_MAX = 63  # the Job controller puts the name in a label of each Pod


class Plan(Protocol):
    @property
    def instance(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def bundles(self) -> tuple[ir.Bundle, ...]: ...
    @property
    def producers(self) -> Mapping[str, tuple[str, ...]]: ...


@dataclass(frozen=True, slots=True)
class Rerun:
    jobs: tuple[str, ...] = ()  # stages whose Jobs are deleted before the apply, in plan order
    crons: tuple[str, ...] = ()  # stages whose CronJob gets a Job made now, in plan order
    # The stages chosen because they read a chosen one's outputs or results, each with the
    # chosen stages it reads, in plan order; one that runs neither a Job nor a CronJob is
    # applied as it is.
    readers: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.jobs or self.crons)

    def why(self, stage: str) -> str:
        """Why ``stage`` runs again: "" when --rerun named it, else the stages it reads or follows."""
        reads = dict(self.readers).get(stage)
        return f"downstream of {' and '.join(reads)}" if reads else ""

    @property
    def idle(self) -> tuple[str, ...]:
        """The readers that have nothing to run again."""
        return tuple(s for s, _ in self.readers if s not in self.jobs and s not in self.crons)


def _kinds(plan: Plan) -> dict[str, set[str]]:
    """Each stage of the plan, in plan order, and the kinds of its objects."""
    kinds: dict[str, set[str]] = {}
    for bundle in plan.bundles:
        for step in bundle.steps:
            if step.stage:
                kinds.setdefault(step.stage, set()).update(o.kind for o in step.objects)
    return kinds


def _downstream(plan: Plan, named: Sequence[str]) -> set[str]:
    """``named`` and every stage that reads one of them, or reads one that does."""
    read_by: dict[str, list[str]] = {}
    for reader, producers in plan.producers.items():
        for producer in producers:
            read_by.setdefault(producer, []).append(reader)
    found, todo = set(named), list(named)
    while todo:
        for reader in read_by.get(todo.pop(), ()):
            if reader not in found:
                found.add(reader)
                todo.append(reader)
    return found


def choose(plan: Plan, stages: Sequence[str], only: bool = False) -> Rerun:
    """The stages named by ``--rerun``, checked: each must be a stage of the plan with a Job or
    a CronJob (Refused, exit 2, with a did-you-mean hint, otherwise); and unless ``only``, every
    stage that reads their outputs or results, transitively."""
    kinds = _kinds(plan)
    runnable = sorted(s for s, k in kinds.items() if k & {"Job", "CronJob"})
    named = list(dict.fromkeys(stages))
    for stage in named:
        if stage not in kinds:
            hint = diag.did_you_mean(stage, kinds)
            raise Refused(f"--rerun {stage}: no stage '{stage}' in the plan" + (f"; {hint}" if hint else ""))
        if not kinds[stage] & {"Job", "CronJob"}:
            hint = diag.did_you_mean(stage, runnable)
            can = f"stages that can run again: {', '.join(runnable)}" if runnable else "no stage of it runs a Job"
            raise Refused(
                f"--rerun {stage}: stage '{stage}' runs no Job or CronJob, so there is nothing to run again ({can})"
                + (f"; {hint}" if hint else "")
            )
    chosen = set(named) if only else _downstream(plan, named)
    order = [s for s in kinds if s in chosen]
    readers = tuple((s, tuple(p for p in order if p in plan.producers.get(s, ()))) for s in order if s not in named)
    return Rerun(
        tuple(s for s in order if "Job" in kinds[s]),
        tuple(s for s in order if "Job" not in kinds[s] and "CronJob" in kinds[s]),
        readers,
    )


def _selector(plan: Plan, stage: str) -> str:
    return contract.selector_text({**contract.ownership(plan.instance), contract.STAGE: stage})


def delete_jobs(
    client: cluster_client.Client,
    plan: Plan,
    runs: Rerun,
    timeout: float,
    progress: progress_display.Progress,
) -> None:
    """Delete each ``runs.jobs`` stage's Jobs in the pipeline's namespace (foreground: their
    Pods first), say so and why, and wait until they are gone, so that the apply creates them
    anew."""
    for stage in runs.idle:
        why = runs.why(stage)
        progress.line(f"kc apply: stage {stage} runs no Job, so it is applied as it is, though it is {why}")
    job_kind = client.kind("batch/v1", "Job")
    if job_kind is None:
        return
    doomed: list[tuple[str, str]] = []
    for stage in runs.jobs:
        found = client.list(job_kind, plan.namespace, _selector(plan, stage))
        # A CronJob's Jobs carry the stage's labels too, but they are the CronJob's.
        found = [j for j in found if not any(r.get("controller") for r in j["metadata"].get("ownerReferences") or [])]
        head = f"kc apply: running stage {stage} again: " + (f"{runs.why(stage)}; " if runs.why(stage) else "")
        if not found:
            progress.line(f"{head}it has no Job in namespace {plan.namespace} yet")
        for job in found:
            meta = job["metadata"]
            if client.delete(job_kind, meta["namespace"], meta["name"], "Foreground", meta.get("uid")):
                progress.line(f"{head}deleted Job {meta['namespace']}/{meta['name']}")
                doomed.append((meta["namespace"], meta["name"]))
    deadline = timing.Deadline(timeout)
    for interval in timing.intervals():
        left = [d for d in doomed if client.get(job_kind, d[0], d[1]) is not None]
        if not left:
            return
        if deadline.passed:
            raise GateTimeout(f"--rerun: Job {left[0][0]}/{left[0][1]} was still there after {timing.text(timeout)}")
        waited = timing.text(deadline.elapsed)
        progress.status(f"--rerun: waiting until Job {left[0][0]}/{left[0][1]} is gone ({waited})")
        deadline.sleep(interval)


def _suffix() -> str:
    digits, n, out = "0123456789abcdefghijklmnopqrstuvwxyz", int(time.time() * 10), ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out[-7:]


def job_from(cronjob: dict[str, Any], stamp: str) -> dict[str, Any]:
    """The Job ``kubectl create job --from=cronjob/NAME`` would make: the jobTemplate, named
    ``<cronjob>-run-<stamp>``, owned by the CronJob, with the CronJob's labels (kc's among them)
    and without kc.dev/source, so that it is never an orphan."""
    meta = cronjob["metadata"]
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tail = f"-run-{stamp}"
    name = meta["name"][: JOB_NAME_MAX - len(tail)].rstrip("-") + tail
    labels = {**((template.get("metadata") or {}).get("labels") or {}), **(meta.get("labels") or {})}
    annotations = {
        **((template.get("metadata") or {}).get("annotations") or {}),
        "cronjob.kubernetes.io/instantiate": "manual",  # as kubectl marks it
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": cronjob.get("apiVersion", "batch/v1"),
                    "kind": "CronJob",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": template.get("spec") or {},
    }


def run_crons(
    client: cluster_client.Client,
    bundle: ir.Bundle,
    runs: Rerun,
    timeout: float,
    progress: progress_display.Progress,
    label: str,
    hint: Callable[[str], str],
) -> None:
    """For each ``runs.crons`` CronJob of ``bundle`` (just applied): a Job made from it now,
    waited for like a job gate."""
    cron_kind = client.require("batch/v1", "CronJob")
    job_kind = client.require("batch/v1", "Job")
    for step in bundle.steps:
        if step.stage not in runs.crons:
            continue
        for obj in step.objects:
            if obj.kind != "CronJob":
                continue
            live = client.get(cron_kind, obj.namespace, obj.name)
            if live is None:
                continue
            job, _ = client.apply(job_kind, job_from(live, _suffix()))
            ref = f"{job['metadata']['namespace']}/{job['metadata']['name']}"
            why = f"{runs.why(step.stage)}; " if runs.why(step.stage) else ""
            progress.line(f"kc apply: running stage {step.stage} now: {why}created Job {ref} from CronJob {obj.name}")
            gate = ir.Gate("job-complete", (("Job", job["metadata"]["name"]),), step.gate.pending_timeout)
            target = gates.Target(step.id, gate, job_kind, obj.namespace, job["metadata"]["name"])
            try:
                took = gates.wait(client, [target], timeout, progress, label)
            except GateTimeout as exc:
                raise GateTimeout(f"{exc}{hint(step.stage)}") from None
            progress.line(f"{label}: Job {ref} of stage {step.stage} complete ({timing.text(took)})")
