"""The compiled plan as ``kc status`` and ``kc logs`` read it: bundles of steps, each step's gate
and objects, from a compiled Program or from an earlier ``kc compile -o DIR`` (its kc/plan.json
and bundle files), so that both commands work on either."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from kc.compiler import contract, ir
from kc.compiler.diagnostics import Pos

WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})


@dataclass(frozen=True, slots=True)
class Step:
    id: str
    stage: str  # "" for the workspace's step
    gate: ir.Gate
    objects: tuple[ir.Object, ...]

    @property
    def workloads(self) -> tuple[ir.Object, ...]:
        return tuple(o for o in self.objects if o.kind in WORKLOADS)


@dataclass(frozen=True, slots=True)
class Bundle:
    index: int
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    pipeline: str
    instance: str
    namespace: str
    bundles: tuple[Bundle, ...]

    @property
    def objects(self) -> list[ir.Object]:
        return [o for b in self.bundles for s in b.steps for o in s.objects]

    @property
    def stages(self) -> list[str]:
        return list(dict.fromkeys(s.stage for b in self.bundles for s in b.steps if s.stage))

    def steps_of(self, stage: str) -> list[Step]:
        return [s for b in self.bundles for s in b.steps if s.stage == stage]


def of_program(program: ir.Program) -> Plan:
    bundles = tuple(
        Bundle(b.index, b.name, tuple(Step(s.id, s.stage, s.gate, s.objects) for s in b.steps)) for b in program.bundles
    )
    return Plan(program.spec.pipeline, program.instance, program.namespace, bundles)


def _gate(entry: dict[str, Any]) -> ir.Gate:
    gate = entry.get("gate") or {}
    pending = gate.get("pending_timeout")
    return ir.Gate(
        gate.get("kind", "none"),
        tuple((o["kind"], o["name"]) for o in gate.get("objects") or []),
        None if pending is None else int(pending),
    )


def of_directory(directory: str, compiled: contract.CompiledPlan | None = None) -> Plan:
    """An earlier ``kc compile -o DIR``: the manifests from the bundle files, the steps and their
    gates from kc/plan.json; a KC603 error when either is not what kc writes. ``compiled``: the
    plan already read from ``directory``, so that its bundle files are not parsed twice."""
    compiled = compiled or contract.read_plan(directory)
    path = os.path.join(directory, contract.PLAN)
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
        bundles = []
        for entry, planned in zip(index["bundles"], compiled.bundles, strict=True):
            objects = [ir.Object(o.manifest, o.stage, o.step, Pos(planned.path)) for o in planned.objects]
            steps = tuple(
                Step(s["id"], s.get("stage") or "", _gate(s), tuple(o for o in objects if o.step == s["id"]))
                for s in entry["steps"]
            )
            name = os.path.splitext(str(entry["file"]))[0].partition("-")[2]
            bundles.append(Bundle(int(entry["index"]), name, steps))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise contract.not_a_plan(directory, exc) from None
    return Plan(compiled.pipeline, compiled.instance, compiled.namespace, tuple(bundles))
