"""budget: a spec whose own ``workspace.quota`` cannot hold its workloads is an error here, with
the numbers, rather than pods the API server refuses later.

The demand counted is the most the pipeline runs at once: every long-running workload at its
replicas (an autoscaled one at its maximum), every CronJob's runs (schedules may coincide), and
on top the largest one-off: a Deployment's rollout surge (25% of its replicas unless its strategy
says otherwise, since a rollout adds pods before it removes old ones) or a Job's parallelism.
A pod counts its containers' requests and limits (init containers run first, so a pod needs the
larger of the two, with its sidecars beside both); the quota holds both at its value, so the
larger, the limits, is checked.

Claims are counted apart, as the quota counts them (``requests.storage``,
``persistentvolumeclaims``): every claim kc writes, and a StatefulSet's claim templates once per
replica.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, pods
from kc.schemas import spec as spec_schema
from kc.schemas import units
from kc.schemas.record import Record

_RESOURCES = ("cpu", "memory", "ephemeral-storage")


class _Demand(Record, kw_only=False):
    what: str  # "api: 2 pods", for the message
    pods: int
    per_pod: dict[str, Decimal]


def _per_pod(template: dict[str, Any]) -> dict[str, Decimal]:
    spec = template.get("spec") or {}

    def total(containers: list[dict[str, Any]], name: str) -> Decimal:
        return sum((_limit(c, name) for c in containers), Decimal(0))

    main, init = spec.get("containers") or [], spec.get("initContainers") or []
    out = {}
    for r in _RESOURCES:
        # A sidecar (an init container that restarts always) runs from its start to the pod's end,
        # beside the init containers after it and the main ones.
        sidecars, peak = Decimal(0), Decimal(0)
        for c in init:
            if c.get("restartPolicy") == "Always":
                sidecars += _limit(c, r)
            else:
                peak = max(peak, sidecars + _limit(c, r))
        out[r] = max(peak, sidecars + total(main, r))
    return out


def _limit(container: dict[str, Any], name: str) -> Decimal:
    resources = container.get("resources") or {}
    found = (resources.get("limits") or {}).get(name, (resources.get("requests") or {}).get(name))
    return units.quantity(found) or Decimal(0)


def _surge(spec: dict[str, Any], replicas: int) -> int:
    given = ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxSurge", "25%")
    if (spec.get("strategy") or {}).get("type") == "Recreate":
        return 0
    if isinstance(given, str) and given.endswith("%"):
        return math.ceil(replicas * int(given[:-1]) / 100)
    return int(given)


def _demands(draft: ir.Draft) -> Iterator[tuple[str, _Demand]]:
    """("running" | "cron" | "once", demand) for every workload."""
    scaled = {
        o.manifest["spec"]["scaleTargetRef"]["name"]: int(o.manifest["spec"]["maxReplicas"])
        for o in draft.objects
        if o.kind == "HorizontalPodAutoscaler"
    }
    for obj in draft.objects:
        spec = obj.manifest.get("spec") or {}
        for template in pods.templates(obj.manifest):
            each = _per_pod(template)
            if obj.kind in ("Deployment", "StatefulSet", "ReplicaSet"):
                count = scaled.get(obj.name, int(spec.get("replicas", 1)))
                yield "running", _Demand(f"{obj.stage}: {count} pods", count, each)
                if obj.kind == "Deployment" and _surge(spec, count):
                    yield (
                        "once",
                        _Demand(f"{obj.stage}'s rollout: {_surge(spec, count)} more", _surge(spec, count), each),
                    )
            elif obj.kind == "CronJob":
                count = int(spec["jobTemplate"]["spec"].get("parallelism", 1))
                yield "cron", _Demand(f"{obj.stage}: {count} pods per run", count, each)
            elif obj.kind == "Job":
                yield (
                    "once",
                    _Demand(
                        f"{obj.stage}: {int(spec.get('parallelism', 1))} pods", int(spec.get("parallelism", 1)), each
                    ),
                )
            elif obj.kind == "DaemonSet":
                continue  # one per node: no number to count at compile time
            else:
                yield "running", _Demand(f"{obj.stage or obj.name}: 1 pod", 1, each)


def _peak(draft: ir.Draft) -> list[_Demand]:
    found = list(_demands(draft))
    steady = [d for kind, d in found if kind in ("running", "cron")]
    once = [d for kind, d in found if kind == "once"]
    return steady + ([max(once, key=lambda d: d.pods * sum(d.per_pod.values()))] if once else [])


class _Claims(Record, kw_only=False):
    what: str  # "db: 3 claims of 10Gi", for the message
    count: int
    each: Decimal  # bytes


def _claims(draft: ir.Draft) -> Iterator[_Claims]:
    for obj in draft.objects:
        spec = obj.manifest.get("spec") or {}
        if obj.kind == "PersistentVolumeClaim":
            size = _storage(spec)
            yield _Claims(f"{obj.stage or obj.name}: 1 claim of {_shown('storage', size)}", 1, size)
        elif obj.kind == "StatefulSet":
            count = int(spec.get("replicas", 1))
            for template in spec.get("volumeClaimTemplates") or []:
                size = _storage(template.get("spec") or {})
                claims = "1 claim" if count == 1 else f"{count} claims"
                yield _Claims(f"{obj.stage}: {claims} of {_shown('storage', size)}", count, size)


def _storage(claim: dict[str, Any]) -> Decimal:
    return units.quantity(((claim.get("resources") or {}).get("requests") or {}).get("storage")) or Decimal(0)


def _shown(name: str, amount: Decimal) -> str:
    if name in ("memory", "ephemeral-storage", "storage"):
        return f"{amount / 2**30:.2f}Gi".replace(".00Gi", "Gi")
    return f"{amount.normalize():f}"


_SHOWN = 8  # contributors a KC414 message names; a big pipeline has thousands


def _largest(peak: list[_Demand], name: str) -> str:
    """The demands that weigh most on one quota, largest first, then how many more there are."""
    weight = (lambda d: d.pods) if name == "pods" else (lambda d: d.pods * d.per_pod[name])
    ranked = sorted((d for d in peak if d.pods), key=weight, reverse=True)  # stable: plan order on ties
    return _listed([d.what for d in ranked])


def _listed(whats: list[str]) -> str:
    return ", ".join(whats[:_SHOWN]) + (f" and {len(whats) - _SHOWN} more" if len(whats) > _SHOWN else "")


def _claims_over(draft: ir.Draft, quota: spec_schema.Quota) -> list[diag.Diagnostic]:
    """The quota's ``claims`` and ``storage`` against every claim the pipeline makes."""
    claims = [c for c in _claims(draft) if c.count]
    needed = {
        "claims": Decimal(sum(c.count for c in claims)),
        "storage": sum((c.count * c.each for c in claims), Decimal(0)),
    }
    errors = []
    for name, weight in (("claims", lambda c: c.count), ("storage", lambda c: c.count * c.each)):
        limit = getattr(quota, name)
        have = None if limit is None else Decimal(limit) if name == "claims" else units.quantity(limit)
        if have is None or needed[name] <= have:
            continue
        shown = _listed([c.what for c in sorted(claims, key=weight, reverse=True)])
        amount = f"{needed[name]} claims" if name == "claims" else f"{_shown('storage', needed[name])} of claims"
        errors.append(
            diag.error(
                "KC414",
                draft.doc.pos(("workspace", "quota", name)),
                f"workspace.quota.{name} is {limit}, but the stages make {amount}: {shown}",
                f"raise quota.{name}, or lower storage sizes or replicas",
            )
        )
    return errors


def budget(draft: ir.Draft) -> ir.Draft:
    quota = draft.spec.workspace.quota
    if quota is None:
        return draft
    peak = _peak(draft)
    errors: list[diag.Diagnostic] = []
    needed: dict[str, Decimal] = {"pods": Decimal(sum(d.pods for d in peak))}
    needed.update({r: sum((d.pods * d.per_pod[r] for d in peak), Decimal(0)) for r in _RESOURCES})
    for name in ("pods", *_RESOURCES):
        limit = getattr(quota, name.replace("-", "_"))
        have = None if limit is None else Decimal(limit) if name == "pods" else units.quantity(limit)
        if have is None or needed[name] <= have:
            continue
        parts = _largest(peak, name)
        errors.append(
            diag.error(
                "KC414",
                draft.doc.pos(("workspace", "quota", name)),
                f"workspace.quota.{name} is {limit}, but the workloads may need {_shown(name, needed[name])}"
                + ("" if name == "pods" else " (limits)")
                + f" at once: {parts}",
                f"raise quota.{name}, or lower replicas, sizes or parallelism",
            )
        )
    errors += _claims_over(draft, quota)
    diag.raise_if_errors(errors)
    return draft
