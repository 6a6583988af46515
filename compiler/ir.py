"""The intermediate form that flows through the passes.

Every pass takes a ``Program`` and returns a new one (``dataclasses.replace``); manifests are plain
dicts that a pass copies before it changes them, so what a pass was given stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from kc.compiler import kinds
from kc.compiler.diagnostics import Diagnostic, Pos
from kc.compiler.source import Document
from kc.schemas import spec as spec_schema

GateKind = Literal["none", "rollout", "pods-running", "ready", "job-complete", "established"]
# Why a stage waits for another: `after`, a `${…}` reference (mounts and config too), a task's
# input, `flow: sequential`, or the previous step of the same stage.
DepKind = Literal["after", "reference", "input", "flow", "step"]

GATE_TEXT: dict[str, str] = {
    "none": "none",
    "rollout": "rollout complete",
    "pods-running": "pods running",
    "ready": "all replicas ready",
    "job-complete": "job complete",
    "established": "CRDs established",
}


@dataclass(frozen=True, slots=True)
class Options:
    """What the command line adds to the spec."""

    profiles: tuple[str, ...] = ()
    instance: str | None = None
    sets: tuple[tuple[str, str], ...] = ()
    policy_file: str | None = None
    ordering_annotations: Literal["argocd", "kapp"] | None = None
    allow_outside: bool = False


@dataclass(frozen=True, slots=True)
class Dep:
    """An edge of the stage graph: this stage comes after ``target`` because of ``why`` at ``pos``,
    a reason of the sort ``kind``."""

    target: str
    pos: Pos
    why: str
    kind: DepKind


@dataclass(frozen=True, slots=True)
class Object:
    manifest: dict[str, Any]
    stage: str
    step: str
    pos: Pos
    digest: str = ""  # of the manifest without kc's bookkeeping annotations; set by annotate

    @property
    def kind(self) -> str:
        return str(self.manifest["kind"])

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        ns = self.manifest["metadata"].get("namespace")
        return str(ns) if ns is not None else None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (str(self.manifest["apiVersion"]), self.kind, self.namespace or "", self.name)


@dataclass(frozen=True, slots=True)
class Gate:
    kind: GateKind
    objects: tuple[tuple[str, str], ...] = ()  # (kind, name) pairs the gate waits on

    @property
    def text(self) -> str:
        return GATE_TEXT[self.kind]


@dataclass(frozen=True, slots=True)
class Step:
    id: str  # "<stage>" for a pattern's first step, "<stage>-<step>" for the ones after it
    stage: str
    gate: Gate
    objects: tuple[Object, ...]
    deps: tuple[Dep, ...] = ()


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    pattern: str
    params: dict[str, Any]  # validated, keys as the spec spells them
    pos: Pos
    deps: tuple[Dep, ...] = ()
    facts: dict[str, str] = field(default_factory=dict)  # what ${stage.field} resolves to


@dataclass(frozen=True, slots=True)
class Bundle:
    index: int
    name: str
    steps: tuple[Step, ...]

    @property
    def objects(self) -> tuple[Object, ...]:
        """In kind order; custom resources and unknown kinds last, steps' order among equals."""
        found = [o for s in self.steps for o in s.objects]
        return tuple(sorted(found, key=lambda o: kinds.rank(o.kind)))

    digits: int = 2  # of every bundle number in the plan, so that file names sort in apply order

    @property
    def filename(self) -> str:
        return f"{self.index:0{self.digits}d}-{self.name}.yaml"


@dataclass(frozen=True, slots=True)
class Program:
    doc: Document
    options: Options = Options()
    spec: spec_schema.Spec | None = None
    policy: spec_schema.Policy | None = None
    patterns: dict[str, str] = field(default_factory=dict)  # known pattern name -> folder
    raw_stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: tuple[Stage, ...] = ()
    steps: tuple[Step, ...] = ()
    bundles: tuple[Bundle, ...] = ()
    warnings: tuple[Diagnostic, ...] = ()
    revision: str = ""

    @property
    def instance(self) -> str:
        assert self.spec is not None
        return self.options.instance or self.spec.pipeline

    @property
    def data_policy(self) -> Literal["retain", "delete"]:
        """Whether teardown and prune may delete claims; ``retain`` until policy is known."""
        return self.policy.data if self.policy else "retain"

    @property
    def namespace(self) -> str:
        # An instance is an independent copy, so by default it gets a namespace of its own.
        assert self.spec is not None
        return self.spec.workspace.namespace or self.instance

    @property
    def objects(self) -> tuple[Object, ...]:
        return tuple(o for s in self.steps for o in s.objects)
