"""``kc apply``: server-side apply, bundle by bundle, each bundle's gates passed before the next
bundle is applied; then, with ``--prune``, the orphans deleted (docs/cluster.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from kc.cluster import (
    capture,
    diff,
    essence,
    gates,
    handover,
    live,
    pool,
    preflight,
    rerun,
    reviewed,
    secrets,
    timing,
)
from kc.cluster import client as cluster_client
from kc.cluster import progress as progress_display
from kc.cluster.errors import ClusterError, GateTimeout
from kc.compiler import contract, ir, kinds


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # orphans that --prune leaves, with why

    @property
    def text(self) -> str:
        out = f"{len(self.created)} created, {len(self.configured)} configured, {len(self.unchanged)} unchanged"
        if self.pruned:
            out += f", {len(self.pruned)} pruned"
        return out


Plan: TypeAlias = ir.Program | reviewed.Compiled  # a spec compiled now, or a compiled DIR (kc apply DIR)


def _targets(client: cluster_client.Client, program: Plan, bundle: ir.Bundle) -> list[gates.Target]:
    everything = {(o.kind, o.name): o for o in program.objects}
    out = []
    for step in bundle.steps:
        if step.gate.kind == "none":
            continue
        own = {(o.kind, o.name): o for o in step.objects}
        for kind, name in step.gate.objects:
            obj = own.get((kind, name)) or everything.get((kind, name))
            if obj is not None:
                kind_of = client.require(str(obj.manifest["apiVersion"]), obj.kind)  # discovered: no request
                out.append(gates.Target(step.id, step.gate, kind_of, obj.namespace, name))
    return out


def _resource_version(obj: dict[str, Any] | None) -> str | None:
    return None if obj is None else (obj.get("metadata") or {}).get("resourceVersion")


def apply(
    client: cluster_client.Client,
    program: Plan,
    *,
    prune: bool,
    timeout: float,
    progress: progress_display.Progress,
    wait: bool = True,
    again: Sequence[str] = (),
    only: bool = False,
    source: str = "SPEC",
) -> Outcome:
    """``again``: the stages of ``--rerun`` (with ``only``, not the stages that read them);
    ``wait``: False for ``--no-wait``; ``source``: the SPEC or DIR as the user named it, for the
    hint that tells how to run a failed Job again."""
    runs = rerun.choose(program, again, only)  # an unknown stage is an error before any request
    objects = [o for b in program.bundles for o in b.objects]
    found = live.observe(client, objects, program.instance, program.namespace)
    if found.conflicts:
        for other, why in found.conflicts.values():
            progress.line(f"conflict: {contract.Ref.of(other).text}: {why}", "1;35")
        raise ClusterError(
            f"refusing to adopt {len(found.conflicts)} object(s) that kc does not own; nothing was applied "
            f"(delete or rename them, or give them the labels {contract.ownership_text(program.instance)})"
        )
    secrets.check(client, [o.manifest for o in objects], program.namespace, progress.line)  # nothing applied yet
    checked = preflight.dry_run(client, objects, found)  # nothing applied yet either
    progress.line(checked.summary())
    for line in checked.details():
        progress.line(line)
    if runs.jobs or runs.readers:
        rerun.delete_jobs(client, program, runs, timeout, progress)
    if not wait:
        progress.line("kc apply: --no-wait: applying every bundle in order without waiting on gates")

    def hint(stage: str) -> str:
        return f"\nhint: run it again with: kc apply {source} --rerun {stage}"

    outcome = Outcome()
    total = len(program.bundles)
    failure: GateTimeout | None = None  # the first gate that failed: only finally steps run after it
    for number, bundle in enumerate(program.bundles, 1):
        label = f"bundle {bundle.index:02d} {bundle.name}"
        steps = _running(bundle, failure is not None, progress, label)
        if not steps:
            continue
        chosen = {s.id for s in steps}
        counts = Outcome()
        for wave in _waves([o for o in bundle.objects if o.step in chosen]):
            # Custom resources become servable only once their definition is established.
            served = [found.kind_of(o.manifest) or client.require(str(o.manifest["apiVersion"]), o.kind) for o in wave]
            what = contract.Ref.of(wave[0].manifest).text if len(wave) == 1 else f"{len(wave)} {wave[0].kind} objects"
            progress.status(f"[{number}/{total}] {label}: applying {what}")
            _apply_wave(client, list(zip(wave, served, strict=True)), found, progress, counts)
        progress.line(f"{label}: {counts.text}")
        for name in ("created", "configured", "unchanged"):
            getattr(outcome, name).extend(getattr(counts, name))
        targets = [t for t in _targets(client, program, bundle) if t.step in chosen] if wait else []
        if targets:
            gate_text = ", ".join(dict.fromkeys(t.gate_text for t in targets))
            try:
                took = gates.wait(client, targets, timeout, progress, f"[{number}/{total}] {label}")
                progress.line(f"{label}: gate passed: {gate_text} ({timing.text(took)})")
                for step in steps:
                    capture.capture(client, program.instance, step, progress, label)
            except GateTimeout as exc:
                failed = _failed_job_stage(bundle, targets, str(exc))
                failure = failure or (GateTimeout(f"{exc}{hint(failed)}") if failed else exc)
                if not _finally_steps(program.bundles[number:]):
                    raise failure from None
                progress.line(f"{label}: failed: {str(exc).partition(chr(10))[0]}")
                continue
        if runs.crons:
            rerun.run_crons(client, bundle, runs, timeout, progress, f"[{number}/{total}] {label}", hint)
    if failure is not None:
        raise failure
    if prune:
        _prune(client, program, found, timeout, progress, outcome)
    return outcome


def when(step: ir.Step) -> str | None:
    """``always`` or ``failed`` for a finally step (``when:``), None for any other."""
    for obj in step.objects:
        found = ((obj.manifest.get("metadata") or {}).get("annotations") or {}).get(contract.WHEN)
        if found:
            return str(found)
    return None


def _finally_steps(bundles: Sequence[ir.Bundle]) -> bool:
    return any(when(s) in ("always", "failed") for b in bundles for s in b.steps)


def _running(bundle: ir.Bundle, failed: bool, progress: progress_display.Progress, label: str) -> list[ir.Step]:
    """The steps of ``bundle`` that run: before any gate failed, all but the ``when: failed``
    ones; after, only the finally steps."""
    out = []
    for step in bundle.steps:
        runs_when = when(step)
        if runs_when == "failed" and not failed:
            progress.line(f"{label}: {step.id} not run: it runs when a step failed, and none did")
        elif failed and runs_when is None:
            continue  # the pipeline stopped at the failed gate
        else:
            if failed:
                progress.line(f"{label}: running finally step {step.id} (when: {runs_when})")
            out.append(step)
    return out


@dataclass(frozen=True, slots=True)
class _Applied:
    """What applying one object did."""

    result: dict[str, Any]
    created: bool
    handed_over: int | None  # the replicas left to the autoscaler, when they were
    generated: list[str]  # the keys of a generated Secret that were added (never their values)


def _waves(objects: Sequence[ir.Object]) -> list[list[ir.Object]]:
    """The bundle's objects in runs of one kind: a bundle is in apply order (the namespace before
    what it holds, a ServiceAccount before the workloads that run as it), and the objects of a
    run need nothing of each other, so each run goes out at once, the runs one after another."""
    waves: list[list[ir.Object]] = []
    for obj in objects:
        if (
            waves
            and waves[-1][0].kind == obj.kind
            and waves[-1][0].manifest["apiVersion"] == obj.manifest["apiVersion"]
        ):
            waves[-1].append(obj)
        else:
            waves.append([obj])
    return waves


def _apply_wave(
    client: cluster_client.Client,
    wave: list[tuple[ir.Object, cluster_client.Kind]],
    found: live.Live,
    progress: progress_display.Progress,
    counts: Outcome,
) -> None:
    """Apply the objects side by side (``pool``), then report each in plan order; the first
    failure in plan order is raised, after what did get applied is shown."""

    def one(item: tuple[ir.Object, cluster_client.Kind]) -> _Applied:
        obj, kind = item
        before = found.twins.get(live.key_of(obj.manifest))
        if (replicas := handover.needed(obj.manifest, before)) is not None:
            handover.hand_over(client, kind, obj.manifest, replicas)
        result, created = client.apply(kind, obj.manifest)
        return _Applied(result, created, replicas, secrets.fill(client, kind, obj.manifest))

    outcomes = pool.each(one, wave)
    for (obj, _), outcome in zip(wave, outcomes, strict=True):
        done = outcome.value
        if done is None:
            continue
        ref = contract.Ref.of(obj.manifest).text
        before = found.twins.get(live.key_of(obj.manifest))
        if done.handed_over is not None:
            progress.line(f"  {ref}: replicas left to the autoscaler (kept at {done.handed_over})")
        if done.generated:
            progress.line(f"  generated {ref}: {', '.join(done.generated)}")
        if done.created or before is None:
            counts.created.append(ref)
            progress.line(f"  created {ref}")
        elif _resource_version(done.result) != _resource_version(before) and essence.difference(before, done.result):
            # A new revision annotation alone (another part of the spec changed) is no change.
            counts.configured.append(ref)
            progress.line(f"  configured {ref}")
        else:
            counts.unchanged.append(ref)
    if (error := pool.first_error(outcomes)) is not None:
        raise error


def _failed_job_stage(bundle: ir.Bundle, targets: Sequence[gates.Target], message: str) -> str:
    """The stage of the Job whose failure ``message`` reports (gates.wait names it after
    "cannot pass:"), or "" when the gate did not fail on a Job. A pod that waited too long to run
    is named first instead: its Job has not failed, and applying again waits on it again."""
    stages = {s.id: s.stage for s in bundle.steps}
    for target in targets:
        if target.kind.kind == "Job" and f"cannot pass: {target.text}:" in message.partition("\n")[0]:
            return stages.get(target.step, "")
    return ""


def _prune(
    client: cluster_client.Client,
    program: Plan,
    found: live.Live,
    timeout: float,
    progress: progress_display.Progress,
    outcome: Outcome,
) -> None:
    """Delete the orphans, workloads first; claims only when the data policy allows, and never a
    namespace (deleting one deletes everything in it)."""
    policy = program.data_policy
    doomed: list[tuple[cluster_client.Kind, dict[str, Any], str]] = []
    # Against the apply order, so workloads go before what they use; unknown kinds first.
    for orphan in sorted(found.orphans, key=lambda o: -kinds.rank(str(o.get("kind")))):
        ref = contract.Ref.of(orphan).text
        kind = found.kind_of(orphan)
        if (
            kind is None
            or orphan["kind"] in ("Namespace", "CustomResourceDefinition")
            or (
                (orphan["kind"] == "PersistentVolumeClaim" or secrets.generates(orphan) is not None)
                and policy != "delete"
            )
        ):
            outcome.kept.append(f"{ref}: {diff.orphan_note(orphan, policy)}")
            progress.line(f"  kept {ref}: {diff.orphan_note(orphan, policy)}")
            continue
        meta = orphan["metadata"]
        progress.status(f"prune: deleting {ref}")
        # Background: the garbage collector removes what it owns (a Job's Pods) after it.
        # The uid: an object made under the same name since the listing is not this orphan.
        if not client.delete(kind, meta.get("namespace"), meta["name"], "Background", meta.get("uid")):
            outcome.kept.append(f"{ref}: gone or replaced since it was listed")
            continue
        doomed.append((kind, orphan, ref))
        progress.line(f"  pruned {ref}")
    deadline = timing.Deadline(timeout)
    for interval in timing.intervals():
        left = [d for d in doomed if client.get(d[0], d[1]["metadata"].get("namespace"), d[1]["metadata"]["name"])]
        if not left:
            break
        if deadline.passed:
            raise GateTimeout(f"prune: {left[0][2]} was still there after {timing.text(timeout)}")
        progress.status(f"prune: waiting until {left[0][2]} is gone ({timing.text(deadline.elapsed)})")
        deadline.sleep(interval)
    outcome.pruned.extend(ref for _, _, ref in doomed)
    if doomed or outcome.kept:
        progress.line(f"prune: {len(doomed)} deleted, {len(outcome.kept)} kept")
