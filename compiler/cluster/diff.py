"""``kc diff``: what applying the plan would create, change, leave orphaned or leave alone, and
which objects of the same name kc does not own (conflicts, never adopted). Against the live
cluster, or offline against an earlier ``kc compile -o DIR`` (docs/cluster.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kc.cluster import client as cluster_client
from kc.cluster import essence, handover, live, pool, reviewed, runs, secrets
from kc.compiler import contract, ir
from kc.compiler.contract import Ref

# Answers that mean "no dry run here" rather than "this apply would fail": forbidden (a
# read-only user), or a server or proxy that does not take apply patches or dry runs.
_NO_DRY_RUN = (400, 403, 405, 415)


@dataclass(frozen=True, slots=True)
class Entry:
    ref: Ref
    changes: tuple[essence.Change, ...] = ()
    note: str = ""
    run: runs.Run | None = None  # a Job to create: why it runs


@dataclass(frozen=True, slots=True)
class Report:
    target: str  # the cluster ("context kind-kc (https://…)") or the directory compared with
    create: tuple[Entry, ...] = ()
    change: tuple[Entry, ...] = ()
    orphaned: tuple[Entry, ...] = ()
    unchanged: tuple[Entry, ...] = ()
    conflicts: tuple[Entry, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def differences(self) -> bool:
        return bool(self.create or self.change or self.orphaned or self.conflicts)


def orphan_note(manifest: dict[str, Any], data_policy: str) -> str:
    """What ``kc apply --prune`` does with an orphan."""
    kind = manifest.get("kind")
    if kind == "Namespace":
        return "not pruned: deleting a namespace deletes everything in it; 'kc teardown' removes it"
    if kind == "CustomResourceDefinition":
        return "not pruned: deleting it deletes every resource of its kind, anyone's; 'kc teardown' removes it"
    if kind == "PersistentVolumeClaim" and data_policy != "delete":
        return "a claim: kept by --prune unless the policy says data: delete"
    if secrets.generates(manifest) is not None and data_policy != "delete":
        return "a Secret whose values kc generated: kept by --prune, like a claim, unless the policy says data: delete"
    return "no longer in the plan: 'kc apply --prune' deletes it"


def live_diff(client: cluster_client.Client, program: ir.Program | reviewed.Compiled) -> Report:
    """The plan against the cluster: one LIST per kind and namespace, then a dry-run apply for
    each object whose essence differs, for the exact object applying would produce."""
    objects = [o for b in program.bundles for o in b.objects]
    found = live.observe(client, objects, program.instance, program.namespace)
    create: list[tuple[live.Key, Ref]] = []
    change: list[Entry] = []
    unchanged: list[Entry] = []
    conflicts: list[Entry] = []
    notes: list[str] = []
    drifted: dict[int, tuple[essence.Change, ...]] = {}
    for index, obj in enumerate(objects):
        current = found.twins.get(live.key_of(obj.manifest))
        if current is not None and live.key_of(obj.manifest) not in found.conflicts:
            drifted[index] = essence.drift(obj.manifest, current, cluster_client.FIELD_MANAGER)
    dry_runs = _dry_runs(client, [(objects[i], found.kind_of(objects[i].manifest)) for i, c in drifted.items() if c])
    dry_run = True
    for index, obj in enumerate(objects):
        key, ref = live.key_of(obj.manifest), Ref.of(obj.manifest)
        if key in found.conflicts:
            conflicts.append(Entry(ref, note=found.conflicts[key][1]))
            continue
        current = found.twins.get(key)
        if current is None:
            create.append((key, ref))
            continue
        changes = drifted[index]
        note = ""
        if changes and dry_run and id(obj) in dry_runs:
            outcome = dry_runs[id(obj)]
            if outcome.error is None and outcome.value is not None:
                changes = essence.difference(current, outcome.value)
            elif (exc := outcome.error) is not None:
                if exc.status in _NO_DRY_RUN:
                    dry_run = False
                    notes.append(f"no server-side dry run ({exc}); changes were computed by kc")
                elif exc.status:
                    note = f"applying it would fail: {exc}"
                else:
                    raise exc
        if (replicas := handover.needed(obj.manifest, current)) is not None:
            # kc apply hands the field over first (handover.py): it keeps its value.
            changes = tuple(c for c in changes if c.path != ("spec", "replicas"))
            note = note or f"replicas left to the autoscaler (now {replicas})"
        (change if changes or note else unchanged).append(Entry(ref, changes, note))
    policy = program.data_policy
    orphaned = [Entry(Ref.of(o), note=orphan_note(o, policy)) for o in found.orphans]
    jobs = runs.reasons(objects, program.producers, {k for k, _ in create}, [*found.twins.values(), *found.orphans])
    created = tuple(Entry(ref, run=jobs.get(key)) for key, ref in create)
    return Report(
        client.where, created, tuple(change), tuple(orphaned), tuple(unchanged), tuple(conflicts), tuple(notes)
    )


def _dry_runs(
    client: cluster_client.Client, wanted: list[tuple[ir.Object, cluster_client.Kind | None]]
) -> dict[int, pool.Outcome[dict[str, Any]]]:
    """The dry-run apply of each object that differs (by ``id`` of the object), the first alone:
    a cluster that takes no dry runs (a read-only user) says so once, not once per object. The
    rest go side by side; the caller reads them in plan order, as if sent one by one."""
    asked = [(obj, kind) for obj, kind in wanted if kind is not None]

    def one(item: tuple[ir.Object, cluster_client.Kind]) -> dict[str, Any]:
        return client.apply(item[1], item[0].manifest, dry_run=True)[0]

    first = pool.each(one, asked[:1])
    if first and first[0].error is not None and first[0].error.status in _NO_DRY_RUN:
        return {id(asked[0][0]): first[0]}
    outcomes = first + pool.each(one, asked[1:])
    return {id(obj): outcome for (obj, _), outcome in zip(asked, outcomes, strict=True)}


# --- offline: against an earlier kc compile -o DIR ----------------------------------------------


def offline_diff(program: ir.Program, directory: str) -> Report:
    """The plan against the manifests in ``directory``: both sides are compiled, so every field
    counts, and there are no conflicts. A plan of another pipeline or instance is refused (KC605)."""
    plan = contract.read_plan(directory)
    if (plan.pipeline, plan.instance) != (program.spec.pipeline, program.instance):
        raise contract.of_another_instance(directory, plan, program.spec.pipeline, program.instance)
    earlier = {live.key_of(m): m for m in plan.manifests}
    objects = [o for b in program.bundles for o in b.objects]
    created = {live.key_of(o.manifest) for o in objects} - earlier.keys()
    jobs = runs.reasons(objects, program.producers, created, earlier.values())
    create: list[Entry] = []
    change: list[Entry] = []
    unchanged: list[Entry] = []
    for obj in objects:
        key = live.key_of(obj.manifest)
        before = earlier.get(key)
        ref = Ref.of(obj.manifest)
        if before is None:
            create.append(Entry(ref, run=jobs.get(key)))
        else:
            changes = essence.difference(before, obj.manifest)
            (change if changes else unchanged).append(Entry(ref, changes))
    planned = {live.key_of(o.manifest) for o in objects}
    policy = program.data_policy
    orphaned = [Entry(Ref.of(m), note=orphan_note(m, policy)) for k, m in earlier.items() if k not in planned]
    return Report(directory, tuple(create), tuple(change), tuple(orphaned), tuple(unchanged))
