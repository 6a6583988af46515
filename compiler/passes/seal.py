"""seal: a Job's name carries a hash of its content, computed once the content is final, so that
a changed Job is a new Job (its spec cannot change in place) and an unchanged one is left alone.

A Job that reads other stages' outputs or results (``ir.DATA`` dependencies) hashes their Jobs'
names with its own content: what it computes depends on what they wrote, so when one of them
runs again (its content changed, or one it reads did) the reader gets a new name and runs again
too, as make rebuilds a target whose prerequisite changed. Producers are sealed before their
readers, so the chain is transitive by construction. The hash of the Job's own content alone
goes into the ``kc.dev/content`` annotation, from which kc diff tells a Job that changed from one
whose upstream did."""

from __future__ import annotations

from kc.compiler import contract, ir, jsontext, object_names
from kc.schemas import record


def _producers_first(stages: tuple[ir.Stage, ...]) -> list[ir.Stage]:
    """The stages, each after the stages it reads (depth first, in declaration order). A cycle
    is left for ``ordering`` to report: the edge that closes it is passed over here."""
    by_name = {s.name: s for s in stages}
    order: list[ir.Stage] = []
    seen: set[str] = set()
    for root in stages:
        if root.name in seen:
            continue
        seen.add(root.name)
        stack = [(root, iter(root.producers))]
        while stack:
            stage, rest = stack[-1]
            following = next((p for p in rest if p in by_name and p not in seen), None)
            if following is None:
                stack.pop()
                order.append(stage)
            else:
                seen.add(following)
                stack.append((by_name[following], iter(by_name[following].producers)))
    return order


def _sealed(obj: ir.Object, upstream: dict[str, str]) -> ir.Object:
    manifest = obj.manifest
    content = jsontext.canonical(manifest)
    own = object_names.digest(content)
    # A Job that reads nothing keeps the name of its content alone.
    chained = object_names.digest(content + jsontext.canonical(upstream)) if upstream else own
    name = object_names.job_name(obj.name, chained)
    meta = manifest["metadata"]
    annotations = {**(meta.get("annotations") or {}), contract.CONTENT: own}
    return record.replace(obj, manifest={**manifest, "metadata": {**meta, "name": name, "annotations": annotations}})


def seal(draft: ir.Draft) -> ir.Draft:
    jobs: dict[str, list[ir.Object]] = {}
    for step in draft.steps:
        jobs.setdefault(step.stage, []).extend(o for o in step.objects if o.kind == "Job")
    sealed: dict[int, ir.Object] = {}
    # What each stage hands its readers: its Jobs' sealed names, and what its own producers
    # handed it (so that the chain runs on through a stage without Jobs).
    chain: dict[str, str] = {}
    for stage in _producers_first(draft.stages):
        upstream = {p: chain[p] for p in stage.producers if p in chain}
        names = []
        for job in jobs.pop(stage.name, ()):
            sealed[id(job)] = _sealed(job, upstream)
            names.append(sealed[id(job)].name)
        chain[stage.name] = object_names.digest(jsontext.canonical({"jobs": names, "upstream": upstream}))
    for job in (j for left in jobs.values() for j in left):  # of no stage: the workspace's
        sealed[id(job)] = _sealed(job, {})
    steps = tuple(
        record.replace(step, objects=tuple(sealed.get(id(o), o) for o in step.objects)) for step in draft.steps
    )
    return record.replace(draft, steps=steps)
