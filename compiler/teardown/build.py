"""Building the teardown plan from compiled bundles: the order, the implicit dependents and the data
rule. docs/teardown.md explains each decision; the comments here say where it is made."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kc.compiler import contract, ir, kinds
from kc.compiler.contract import Selector
from kc.compiler.teardown import model
from kc.schemas import record
from kc.schemas.record import Record

_CLUSTER = "; cluster-scoped, so deleting the namespace would not reach it"


class _Sweep(Record, kw_only=False):
    """Objects that a controller made (or an earlier revision left) and the manifests do not
    list, selected by the ownership labels, kc's stage label and the namespace."""

    bundle: int
    phase: kinds.Phase
    kind: str
    namespace: str
    selector: Selector
    why: str


def _labels_of(template: Any) -> dict[str, Any]:
    meta = template.get("metadata") if isinstance(template, dict) else None
    return dict((meta or {}).get("labels") or {})


def _stage_selector(ownership: Selector, found: dict[str, Any]) -> Selector | None:
    """Ownership plus kc's stage label, as a template carries them, so they select what the
    controller made from it; None when the template lacks any of them (nothing safe to select)."""
    if any(found.get(k) != v for k, v in ownership) or contract.STAGE not in found:
        return None
    return (*ownership, (contract.STAGE, str(found[contract.STAGE])))


def _claim_templates(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    if manifest["kind"] != "StatefulSet":
        return []
    return list((manifest.get("spec") or {}).get("volumeClaimTemplates") or [])


def _pod_template(manifest: dict[str, Any]) -> Any:
    spec = manifest.get("spec") or {}
    if manifest["kind"] == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    return spec.get("template")


# The kinds whose objects lead to a sweep below.
_SWEPT_FROM = frozenset({"CronJob", "Job", "ConfigMap", "StatefulSet"})


def _sweeps(objects: Sequence[tuple[int, ir.Object]], ownership: Selector) -> list[_Sweep]:
    # A sweep by stage label goes into the earliest bundle holding anything that makes what it
    # selects. That bundle is torn down last, so a sweep never runs ahead of an object of its stage
    # that a later step still has to stop (a stage's StatefulSet one bundle before its Job).
    first: dict[tuple[str, str], int] = {}
    for index, obj in objects:
        kind = obj.kind
        makes = [
            made
            for made, does in (
                ("Pod", kinds.pod_template(kind) is not None),
                ("Job", kind in ("Job", "CronJob")),
                ("ConfigMap", kind == "ConfigMap"),
                ("PersistentVolumeClaim", kind == "PersistentVolumeClaim" or bool(_claim_templates(obj.manifest))),
            )
            if does
        ]
        for made in makes:
            first[(obj.stage, made)] = min(first.get((obj.stage, made), index), index)
    found: dict[tuple[str, str], _Sweep] = {}

    def add(obj: ir.Object, kind: str, template_labels: dict[str, Any], phase: kinds.Phase, why: str) -> None:
        sel = _stage_selector(ownership, template_labels)
        if sel is not None and obj.namespace is not None and (obj.stage, kind) not in found:
            found[(obj.stage, kind)] = _Sweep(first[(obj.stage, kind)], phase, kind, obj.namespace, sel, why)

    for _, obj in objects:
        if obj.kind not in _SWEPT_FROM:
            continue
        stage, spec = obj.stage, obj.manifest.get("spec") or {}
        own = dict(obj.manifest["metadata"].get("labels") or {})
        if obj.kind == "CronJob":
            why = f"Jobs that the CronJob of stage '{stage}' started, found by its job template's labels"
            add(obj, "Job", _labels_of(spec.get("jobTemplate")), "workloads", why)
        if obj.kind == "Job":
            why = f"earlier revisions of the Jobs of stage '{stage}': a Job's name carries a hash of its content"
            add(obj, "Job", own, "workloads", why)
        if obj.kind in ("Job", "CronJob"):
            why = f"Pods of the Jobs of stage '{stage}' that outlived them, found by the pod template's labels"
            add(obj, "Pod", _labels_of(_pod_template(obj.manifest)), "workloads", why)
        if obj.kind == "ConfigMap":
            why = f"earlier revisions of the ConfigMaps of stage '{stage}', whose names carry a hash of their content"
            add(obj, "ConfigMap", own, "config", why)
        for template in _claim_templates(obj.manifest):
            why = (
                f"claims that the StatefulSets of stage '{stage}' made, found by their claim templates' labels, "
                "including those an earlier scale-down left; kept unless data is deleted"
            )
            add(obj, "PersistentVolumeClaim", _labels_of(template), "data", why)
    # Against the apply order, as a bundle is torn down: a Job's Pods after the Jobs, which delete most of them.
    return sorted(found.values(), key=lambda s: -kinds.rank(s.kind))


def _scope(obj: ir.Object, namespace: str, scopes: dict[tuple[str, str], str]) -> str | None:
    """The namespace to name on the command line; None for cluster-scoped kinds."""
    if obj.namespace is not None:
        return obj.namespace
    crd_scope = scopes.get((kinds.group(str(obj.manifest["apiVersion"])), obj.kind))
    return namespace if not kinds.cluster_scoped(obj.kind) and crd_scope == "Namespaced" else None


class _Plan:
    """Collects the steps in order, numbered as they come."""

    def __init__(self, instance: str, namespace: str, objects: Sequence[tuple[int, ir.Object]]) -> None:
        self.ownership: Selector = contract.ownership_selector(instance)
        self.namespace = namespace
        manifests = [o.manifest for _, o in objects]
        self.crds = kinds.crd_names(manifests)
        self.scopes = kinds.crd_scopes(manifests)
        # Grouped by (bundle, phase) once: a thousand-stage plan asks for every slot.
        self.sweeps: dict[tuple[int, kinds.Phase], list[_Sweep]] = {}
        for sweep in _sweeps(objects, self.ownership):
            self.sweeps.setdefault((sweep.bundle, sweep.phase), []).append(sweep)
        self.steps: list[model.Step] = []

    def add(self, bundle: int, phase: kinds.Phase, action: model.Action, **fields: Any) -> None:
        # Numbered in the order added; guard and argv are read off the bare step.
        number = len(self.steps) + 1
        bare = model.Step(number, bundle, phase, action, **fields)
        self.steps.append(record.replace(bare, guard=model.guard(bare), argv=model.argv(bare)))

    def named(self, bundle: int, obj: ir.Object, why: str, action: model.Action = "delete", **extra: Any) -> None:
        api_version = str(obj.manifest["apiVersion"])
        namespace = _scope(obj, self.namespace, self.scopes)
        self.add(
            bundle,
            kinds.phase(obj.kind, api_version),
            action,
            api_version=api_version,
            kind=obj.kind,
            resource=kinds.resource(obj.kind, api_version, self.crds),
            namespace=namespace,
            name=obj.name,
            selector=self.ownership,
            why=why + ("" if namespace or action == "wait" or obj.kind == "Namespace" else _CLUSTER),
            **extra,
        )

    def swept(self, bundle: int, phase: kinds.Phase) -> None:
        for sweep in self.sweeps.get((bundle, phase), ()):
            api_version = kinds.api_version(sweep.kind)
            self.add(
                bundle,
                phase,
                "delete",
                api_version=api_version,
                kind=sweep.kind,
                resource=kinds.resource(sweep.kind, api_version),
                namespace=sweep.namespace,
                name=None,
                selector=sweep.selector,
                why=sweep.why,
                foreground=sweep.kind == "Job",
                data=sweep.kind == "PersistentVolumeClaim",
            )

    def done(self) -> tuple[model.Step, ...]:
        return tuple(self.steps)


def _workloads(p: _Plan, index: int, objs: list[ir.Object]) -> None:
    # Deleted together without waiting, so their pods stop in parallel; then one wait each. Under
    # foreground deletion a workload disappears only after its dependents are gone, so its wait
    # ends when its pods are gone.
    # https://kubernetes.io/docs/concepts/architecture/garbage-collection/#foreground-deletion
    for obj in objs:
        dependents = kinds.dependents(obj.kind)
        why = f"a workload, first, so nothing restarts what later steps delete; foreground: {dependents} first"
        p.named(index, obj, why, foreground=True, blocking=False)
    for obj in objs:
        why = f"foreground deletion removes the {obj.kind} only once {kinds.dependents(obj.kind)} are gone"
        p.named(index, obj, why, action="wait")


def _claims(p: _Plan, index: int, objs: list[ir.Object], workloads: list[ir.Object]) -> None:
    for obj in objs:
        p.named(index, obj, kinds.TEARDOWN_WHY["data"], data=True)
    # A StatefulSet names the claims it makes <template>-<statefulset>-<ordinal>.
    # https://kubernetes.io/docs/concepts/workloads/controllers/statefulset/#stable-storage
    for sts in workloads:
        replicas = int((sts.manifest.get("spec") or {}).get("replicas", 1))
        for template in _claim_templates(sts.manifest):
            claim = str((template.get("metadata") or {}).get("name", ""))
            for ordinal in range(replicas):
                why = (
                    f"a claim that StatefulSet {sts.name} made from its template '{claim}'; kept unless data is deleted"
                )
                p.add(
                    index,
                    "data",
                    "delete",
                    api_version="v1",
                    kind="PersistentVolumeClaim",
                    resource="persistentvolumeclaims",
                    namespace=_scope(sts, p.namespace, p.scopes),
                    name=f"{claim}-{sts.name}-{ordinal}",
                    selector=p.ownership,
                    why=why,
                    data=True,
                )


def build(
    header: contract.Header, *, delete_data: bool, bundles: Sequence[tuple[int, Sequence[ir.Object]]]
) -> model.TeardownPlan:
    """The plan for bundles given as (index, objects in apply order)."""
    p = _Plan(header.instance, header.namespace, [(i, o) for i, objs in bundles for o in objs])
    for index, objects in sorted(bundles, key=lambda item: -item[0]):
        by_phase: dict[kinds.Phase, list[ir.Object]] = {}
        for obj in reversed(objects):
            by_phase.setdefault(kinds.phase(obj.kind, str(obj.manifest["apiVersion"])), []).append(obj)
        for phase in kinds.PHASES:
            objs = by_phase.get(phase, [])
            if phase == "workloads":
                _workloads(p, index, objs)
            elif phase == "data":
                _claims(p, index, objs, [o for o in by_phase.get("workloads", []) if _claim_templates(o.manifest)])
            elif phase == "namespace":
                for obj in objs:
                    # Deleting a namespace deletes the claims in it: a kept claim (or generated Secret) keeps it too.
                    kept = [s.kind for s in p.steps if s.data and s.namespace == obj.name]
                    holds = "claims" if "PersistentVolumeClaim" in kept else "generated Secrets" if kept else ""
                    why = "kc created the namespace (workspace.create): last, when nothing of kc's is left in it"
                    p.named(
                        index,
                        obj,
                        why + (f"; it holds {holds}, so it goes only with them" if holds else ""),
                        data=bool(holds),
                    )
            else:
                for obj in objs:
                    generated = obj.kind == "Secret" and contract.GENERATE in obj.manifest["metadata"].get(
                        "annotations", {}
                    )
                    p.named(
                        index,
                        obj,
                        kinds.GENERATED_SECRET_WHY if generated else kinds.TEARDOWN_WHY[phase],
                        data=generated,
                    )
            p.swept(index, phase)
    return model.TeardownPlan(
        **header.header_fields(), delete_data=delete_data or header.data_policy == "delete", steps=p.done()
    )


def plan(program: ir.Program, delete_data: bool = False) -> model.TeardownPlan:
    """The teardown of a compiled program; ``delete_data`` deletes the claims, as ``--delete-data``."""
    header = contract.Header(
        pipeline=program.spec.pipeline,
        instance=program.instance,
        namespace=program.namespace,
        namespace_created=program.spec.workspace.create,
        revision=program.revision,
        data_policy=program.data_policy,
    )
    return build(header, delete_data=delete_data, bundles=[(b.index, b.objects) for b in program.bundles])
