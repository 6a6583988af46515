"""The teardown plan as data: frozen steps that each carry the exact kubectl command they stand
for, the checks a plan read back from a file must pass, and its dict form (kc/teardown.yaml)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from kc.compiler import contract, kinds
from kc.compiler.contract import Selector, selector_text
from kc.schemas import record
from kc.schemas.record import Record

FORMAT = 1
# How long each explicit wait may take. Pods get 30 s to stop by default
# (terminationGracePeriodSeconds), so five minutes leaves room for slow shutdowns.
TIMEOUT = "300s"
KUBECTL = "kubectl"

Action = Literal["delete", "wait"]


class Step(Record, kw_only=False):
    """One kubectl command of the teardown."""

    number: int
    bundle: int
    phase: kinds.Phase
    action: Action
    api_version: str
    kind: str
    resource: str  # as kubectl names it: "deployments.apps", "services"
    namespace: str | None  # None: cluster-scoped
    name: str | None  # None: every object the selector matches in the namespace
    selector: Selector  # always the ownership labels first
    why: str
    foreground: bool = False  # delete dependents first (workloads)
    blocking: bool = True  # a delete waits until the objects are gone (kubectl's --wait)
    data: bool = False  # runs only when the plan deletes data
    guard: tuple[str, ...] = ()  # a kubectl get that must succeed and list nothing, else skip the step
    argv: tuple[str, ...] = ()

    @property
    def what(self) -> str:
        """``CronJob shop/shop-report``, or ``every Job in shop with kc.dev/stage=report``."""
        if self.name is not None:
            return contract.ref_text(self.kind, self.namespace, self.name)
        return f"every {self.kind} in {self.namespace} with {selector_text(self.selector[OWNED:])}"


class TeardownPlan(contract.Header):
    delete_data: bool  # the flag or the policy: claims are deleted
    steps: tuple[Step, ...]
    format: int = FORMAT

    @property
    def ownership(self) -> Selector:
        return contract.ownership_selector(self.instance)

    def runs(self, step: Step) -> bool:
        return self.delete_data or not step.data

    @property
    def runnable(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if self.runs(s))

    def commands(self) -> tuple[tuple[str, ...], ...]:
        """Every kubectl invocation of a run, in order, guards included, when every guard lists nothing."""
        return tuple(cmd for s in self.runnable for cmd in ((s.guard, s.argv) if s.guard else (s.argv,)))


OWNED = len(contract.ownership_selector(""))  # a step's selector starts with the ownership labels


def argv(step: Step) -> tuple[str, ...]:
    """The kubectl command a step stands for; the only place a command line is built.

    Never ``kubectl delete KIND NAME``, which deletes whatever has the name: the ownership labels
    (``-l``) and the name (``--field-selector metadata.name=``) select together, so kubectl
    deletes only an object that has both, and a selector that matches nothing is no error, so a
    stopped teardown can run again (docs/teardown.md, "Safety")."""
    out = (
        [KUBECTL, "delete", step.resource]
        if step.action == "delete"
        else [KUBECTL, "wait", "--for=delete", step.resource]
    )
    out += (["-n", step.namespace] if step.namespace else []) + ["-l", selector_text(step.selector)]
    if step.name is not None:
        out += ["--field-selector", f"metadata.name={step.name}"]
    if step.action == "wait":
        return (*out, f"--timeout={TIMEOUT}")
    if step.foreground:
        out.append("--cascade=foreground")
    if not step.blocking:
        out.append("--wait=false")
    return tuple(out)


# What a namespace commonly holds. Deleting a namespace deletes everything in it, so it goes only
# when none of these is left apart from what Kubernetes puts into every namespace (the "default"
# ServiceAccount and the "kube-root-ca.crt" ConfigMap).
# https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/
NAMESPACE_CONTENTS = ",".join(
    (
        "pods",
        "deployments.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "replicasets.apps",
        "jobs.batch",
        "cronjobs.batch",
        "services",
        "ingresses.networking.k8s.io",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "persistentvolumeclaims",
        "roles.rbac.authorization.k8s.io",
        "rolebindings.rbac.authorization.k8s.io",
        "poddisruptionbudgets.policy",
        "horizontalpodautoscalers.autoscaling",
        "networkpolicies.networking.k8s.io",
    )
)
# What Kubernetes itself puts in every namespace, as `kubectl get -o name` prints it: these two
# objects, and no other object that shares their names, do not keep a namespace.
NAMESPACE_AUTOMATIC = ("serviceaccount/default", "configmap/kube-root-ca.crt")


def guard(step: Step) -> tuple[str, ...]:
    """The kubectl get that must succeed and list nothing for the step to run; () for none.

    A delete that would take more than kc's own objects with it has one. Deleting a CRD deletes
    every custom resource of its kind, in every namespace, whoever made them (its name,
    ``<plural>.<group>``, is also what kubectl lists them by); deleting a namespace deletes all it
    holds. kc's own objects are gone by the time either runs, so whatever is listed is someone
    else's, and the CRD or namespace stays."""
    if step.action != "delete" or step.name is None:
        return ()
    if step.kind == "CustomResourceDefinition":
        return (KUBECTL, "get", step.name, "--all-namespaces", "-o", "name")
    if step.kind == "Namespace":
        return (
            KUBECTL,
            "get",
            NAMESPACE_CONTENTS,
            "-n",
            step.name,
            "-o",
            "name",
        )
    return ()


def deleting_data(teardown: TeardownPlan) -> TeardownPlan:
    """The same plan, run with ``--delete-data``."""
    return record.replace(teardown, delete_data=True)


def problems(teardown: TeardownPlan) -> list[str]:
    """Why a plan (perhaps read back from a file someone edited) must not run; empty when sound."""
    out = []
    for step in teardown.steps:
        if step.selector[:OWNED] != teardown.ownership:
            out.append(f"step {step.number}: does not select by the instance's ownership labels")
        if step.name is None and (step.namespace is None or len(step.selector) <= OWNED):
            out.append(f"step {step.number}: selects neither by name nor by stage label and namespace")
        if step.argv != argv(step) or step.guard != guard(step):
            out.append(f"step {step.number}: its command is not the one its fields describe")
    numbers = [s.number for s in teardown.steps]
    if numbers != list(range(1, len(numbers) + 1)):
        out.append("steps are not numbered 1, 2, 3, …")
    return out


def objects_named(teardown: TeardownPlan) -> Iterable[tuple[str, str, str, str]]:
    """(apiVersion, kind, namespace, name) of every delete step that names its object."""
    for step in teardown.steps:
        if step.action == "delete" and step.name is not None:
            yield (step.api_version, step.kind, step.namespace or "", step.name)


# --- kc/teardown.yaml: the plan as data (docs/teardown.md documents every key) -------------------

_STEP_KEYS = (
    "number",
    "bundle",
    "phase",
    "action",
    "apiVersion",
    "kind",
    "resource",
    "namespace",
    "name",
    "selector",
    "foreground",
    "blocking",
    "data",
    "runs",
    "why",
    "guard",
    "argv",
)


def head_dict(teardown: TeardownPlan) -> dict[str, Any]:
    """The plan's keys in ``kc/teardown.yaml`` but its steps."""
    return {
        "format": teardown.format,
        "pipeline": teardown.pipeline,
        "instance": teardown.instance,
        "namespace": teardown.namespace,
        "namespace_created": teardown.namespace_created,
        "revision": teardown.revision,
        "data_policy": teardown.data_policy,
        "delete_data": teardown.delete_data,
        "ownership": dict(teardown.ownership),
        "timeout": TIMEOUT,
    }


def as_dict(teardown: TeardownPlan) -> dict[str, Any]:
    """The plan as ``kc/teardown.yaml`` holds it."""
    return {
        **head_dict(teardown),
        "steps": [
            {
                "number": s.number,
                "bundle": s.bundle,
                "phase": s.phase,
                "action": s.action,
                "apiVersion": s.api_version,
                "kind": s.kind,
                "resource": s.resource,
                "namespace": s.namespace,
                "name": s.name,
                "selector": dict(s.selector),
                "foreground": s.foreground,
                "blocking": s.blocking,
                "data": s.data,
                "runs": teardown.runs(s),
                "why": s.why,
                "guard": list(s.guard),
                "argv": list(s.argv),
            }
            for s in teardown.steps
        ],
    }


class Invalid(ValueError):
    """A teardown file that kc cannot read back as a plan; the message says why."""


def _get(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if key not in data or not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Invalid(f"{where}: '{key}' is missing or of the wrong type")
    return value


def from_dict(data: Any) -> TeardownPlan:
    """Read back what ``as_dict`` wrote; raises Invalid, including for a plan that would not be safe."""
    if not isinstance(data, dict):
        raise Invalid("not a mapping")
    if data.get("format") != FORMAT:
        raise Invalid(f"format {data.get('format')!r} is not {FORMAT}, the one this kc reads")
    steps = []
    for i, raw in enumerate(_get(data, "steps", list, "plan"), 1):
        where = f"step {i}"
        if not isinstance(raw, dict) or set(raw) != set(_STEP_KEYS):
            raise Invalid(f"{where}: needs exactly the keys {', '.join(_STEP_KEYS)}")
        if raw["phase"] not in kinds.PHASES or raw["action"] not in ("delete", "wait"):
            raise Invalid(f"{where}: unknown phase or action")
        selector = _get(raw, "selector", dict, where)
        steps.append(
            Step(
                number=_get(raw, "number", int, where),
                bundle=_get(raw, "bundle", int, where),
                phase=raw["phase"],
                action=raw["action"],
                api_version=_get(raw, "apiVersion", str, where),
                kind=_get(raw, "kind", str, where),
                resource=_get(raw, "resource", str, where),
                namespace=_get(raw, "namespace", (str, type(None)), where),
                name=_get(raw, "name", (str, type(None)), where),
                selector=tuple((str(k), str(v)) for k, v in selector.items()),
                why=_get(raw, "why", str, where),
                foreground=_get(raw, "foreground", bool, where),
                blocking=_get(raw, "blocking", bool, where),
                data=_get(raw, "data", bool, where),
                guard=tuple(str(a) for a in _get(raw, "guard", list, where)),
                argv=tuple(str(a) for a in _get(raw, "argv", list, where)),
            )
        )
    policy = data.get("data_policy")
    if policy not in ("retain", "delete"):
        raise Invalid("'data_policy' is neither retain nor delete")
    out = TeardownPlan(
        pipeline=_get(data, "pipeline", str, "plan"),
        instance=_get(data, "instance", str, "plan"),
        namespace=_get(data, "namespace", str, "plan"),
        namespace_created=_get(data, "namespace_created", bool, "plan"),
        revision=_get(data, "revision", str, "plan"),
        data_policy=policy,
        delete_data=_get(data, "delete_data", bool, "plan"),
        steps=tuple(steps),
    )
    found = problems(out)
    if found:
        raise Invalid("; ".join(found))
    return out
