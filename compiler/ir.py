"""The intermediate form that flows through the passes, in three phases: ``Source`` (the spec as
loaded, before validation), ``Draft`` (validated, being expanded and refined) and ``Program``
(ordered into bundles). A pass returns a new value (``record.replace``); manifests are plain
dicts that a pass copies before it changes them, so what a pass was given stays as it was.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

from kc.compiler import kinds
from kc.compiler.diagnostics import Diagnostic, Pos
from kc.compiler.patterns.registry import Library
from kc.compiler.source import Document
from kc.schemas import spec as spec_schema
from kc.schemas.pattern import GATE_TEXT, GateKind
from kc.schemas.record import Record, param

# Why a stage waits for another: `after`, a `${…}` reference (mounts and config too), a
# `{secret: stage/key}` entry (the Secret the stage generates must exist before the pod starts),
# a result it reads, a task's input, `flow: sequential`, the previous step of the same stage, or,
# for a finally step (`when:`), every other stage.
DepKind = Literal["after", "reference", "secret", "result", "input", "flow", "step", "finally"]
# The dependencies through which a stage reads what another one's run wrote (a task's input wired
# to another task's output, a result), and a finally step's on the stages it follows: a reader's
# Job name carries its producers' (seal), and running a producer again runs its readers again
# (kc apply --rerun). Other kinds only order.
DATA: frozenset[DepKind] = frozenset({"input", "result", "finally"})


class Options(Record, kw_only=False):
    """What the command line adds to the spec."""

    profiles: tuple[str, ...] = ()
    instance: str | None = None
    sets: tuple[tuple[str, str], ...] = ()
    params: tuple[str, ...] = ()  # each --param NAME=VALUE as given, checked by the profiles pass
    policy_file: str | None = None
    ordering_annotations: Literal["argocd", "kapp"] | None = None
    allow_outside: bool = False


class Dep(Record, kw_only=False):
    """An edge of the stage graph: this stage comes after ``target`` because of ``why`` at ``pos``,
    a reason of the sort ``kind``."""

    target: str
    pos: Pos
    why: str
    kind: DepKind


class Object(Record, kw_only=False):
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


class Gate(Record, kw_only=False):
    kind: GateKind
    objects: tuple[tuple[str, str], ...] = ()  # (kind, name) pairs the gate waits on
    # Seconds a pod of the step may wait to run before the gate fails: the stage's
    # pending-timeout; None for kc's default (contract.PENDING_TIMEOUT).
    pending_timeout: int | None = None

    @property
    def text(self) -> str:
        return GATE_TEXT[self.kind]


class Step(Record, kw_only=False):
    id: str  # "<stage>" for a pattern's first step, "<stage>-<step>" for the ones after it
    stage: str
    gate: Gate
    objects: tuple[Object, ...]
    deps: tuple[Dep, ...] = ()


class Stage(Record, kw_only=False):
    name: str
    pattern: str
    params: dict[str, Any]  # validated, keys as the spec spells them
    pos: Pos
    template_params: dict[str, Any] = param(factory=dict)  # ``p`` in its pattern's templates
    deps: tuple[Dep, ...] = ()
    facts: dict[str, str] = param(factory=dict)  # what ${stage.field} resolves to
    reads: tuple[tuple[str, str], ...] = ()  # (stage, field) of each ${stage.field} it refers to

    @property
    def producers(self) -> tuple[str, ...]:
        """The stages whose outputs or results this one reads (``DATA`` dependencies), once each."""
        return tuple(dict.fromkeys(d.target for d in self.deps if d.kind in DATA))


class Bundle(Record, kw_only=False):
    index: int
    name: str
    steps: tuple[Step, ...]

    @functools.cached_property  # read by the revision, the plan, the bundle file and the teardown
    def objects(self) -> tuple[Object, ...]:
        """In kind order; custom resources and unknown kinds last, steps' order among equals."""
        found = [o for s in self.steps for o in s.objects]
        return tuple(sorted(found, key=lambda o: kinds.rank(o.kind)))

    digits: int = 2  # of every bundle number in the plan, so that file names sort in apply order

    @property
    def filename(self) -> str:
        return f"{self.index:0{self.digits}d}-{self.name}.yaml"


class Fragment(Record, kw_only=False):
    """A spec fragment named in ``imports``: its entry's index there, and the file as loaded."""

    index: int
    doc: Document


class Inputs(Record, kw_only=False):
    """What the front end (``compiler/frontend.py``) read from disk before the passes run."""

    fragments: tuple[Fragment, ...] = ()
    policy_file: Document | None = None  # the organisation's policy, from --policy
    library: Library = param(factory=Library)
    problems: tuple[Diagnostic, ...] = ()  # imports that cannot be used; validate reports them


class Source(Record, kw_only=False):
    """The spec before validation: what ``parse`` and ``profiles`` work on."""

    doc: Document
    options: Options = Options()
    inputs: Inputs = Inputs()


def _instance(spec: spec_schema.Spec, options: Options) -> str:
    return options.instance or spec.pipeline


def _namespace(spec: spec_schema.Spec, options: Options) -> str:
    # An instance is an independent copy, so by default it gets a namespace of its own.
    return spec.workspace.namespace or _instance(spec, options)


class Draft(Record, kw_only=False):
    """The validated spec while the factoring passes expand and refine it: stages and their
    steps, not yet ordered."""

    doc: Document
    options: Options
    spec: spec_schema.Spec
    policy: spec_schema.Policy
    library: Library
    raw_stages: dict[str, dict[str, Any]]  # the stages' mappings, after profiles and defaults
    stages: tuple[Stage, ...] = ()
    steps: tuple[Step, ...] = ()  # the workspace's first
    # What the ``files`` and ``objects`` parameters read, by (stage, parameter): the front end
    # reads them once the stages are checked.
    files: dict[tuple[str, str], Any] = param(factory=dict)
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def instance(self) -> str:
        return _instance(self.spec, self.options)

    @property
    def namespace(self) -> str:
        return _namespace(self.spec, self.options)

    @property
    def objects(self) -> tuple[Object, ...]:
        return tuple(o for s in self.steps for o in s.objects)


class Program(Record, kw_only=False):
    """The ordered plan: bundles of steps, what the targets and the cluster commands read."""

    doc: Document
    options: Options
    spec: spec_schema.Spec
    policy: spec_schema.Policy
    stages: tuple[Stage, ...]
    bundles: tuple[Bundle, ...]
    warnings: tuple[Diagnostic, ...] = ()
    revision: str = ""  # set by annotate

    @property
    def instance(self) -> str:
        return _instance(self.spec, self.options)

    @property
    def namespace(self) -> str:
        return _namespace(self.spec, self.options)

    @property
    def data_policy(self) -> Literal["retain", "delete"]:
        """Whether teardown and prune may delete claims."""
        return self.policy.data

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(s for b in self.bundles for s in b.steps)

    @property
    def producers(self) -> dict[str, tuple[str, ...]]:
        """Each stage that reads other stages' outputs or results, and those stages."""
        return {s.name: s.producers for s in self.stages if s.producers}

    @property
    def objects(self) -> tuple[Object, ...]:
        return tuple(o for s in self.steps for o in s.objects)
