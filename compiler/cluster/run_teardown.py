"""``kc teardown``: the teardown plan of ``kc.compiler.teardown`` executed step by step with the
Python client, as ``kc/teardown.sh`` runs it with kubectl (docs/teardown.md): the same steps, the
same selectors, the same guards, the same waits, and the same messages.

Where the script relies on kubectl's label and field selectors to leave alone a same-named object
that kc did not create, kc looks at the object first, says that it keeps it, and deletes it with a
UID precondition, so an object made under that name in between is not deleted either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kc.cluster import client as cluster_client
from kc.cluster import progress as progress_display
from kc.cluster import timing
from kc.cluster.errors import ClusterError, GateTimeout
from kc.compiler import contract
from kc.compiler.teardown import model
from kc.schemas import units

_KEEP_LISTED = 3  # blocking objects named in a "kept" message


@dataclass
class Outcome:
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{len(self.deleted)} deleted, {len(self.kept)} kept"


def describe(plan: model.TeardownPlan, where: str) -> str:
    """What a confirmation asks about."""
    data = "claims and their data included" if plan.delete_data else "claims (data) kept"
    namespace = f", namespace {plan.namespace}" if plan.namespace_created else ""
    return (
        f"delete pipeline {plan.pipeline} (instance {plan.instance}{namespace}) from {where}: "
        f"{len(plan.runnable)} steps, {data}"
    )


def _ident(obj: dict[str, Any]) -> tuple[str | None, str, str]:
    meta = obj["metadata"]
    return meta.get("namespace"), str(meta["name"]), str(meta.get("uid", ""))


def _guard(client: cluster_client.Client, step: model.Step) -> list[str]:
    """What keeps the step from running: others' objects that the deletion would take along.
    A list that fails counts as a blocker: when in doubt, keep."""
    if step.kind == "Namespace" and step.name:
        resources = model.NAMESPACE_CONTENTS.split(",")
        namespace: str | None = step.name
    elif step.kind == "CustomResourceDefinition" and step.name:
        resources, namespace = [step.name], None
    else:
        return []
    found: list[str] = []
    for resource in resources:
        try:
            kind = client.by_resource(resource)
            items = client.list(kind, namespace) if kind else []
        except ClusterError as exc:
            return [f"({exc})"]
        singular = resource.split(".")[0].removesuffix("s")  # as `kubectl get -o name` prints it
        found += [
            f"{resource}/{item['metadata']['name']}"
            for item in items
            if f"{singular}/{item['metadata']['name']}" not in model.NAMESPACE_AUTOMATIC
        ]
    return found


def _wait_gone(
    client: cluster_client.Client,
    kind: cluster_client.Kind,
    objects: list[dict[str, Any]],
    timeout: float,
    progress: progress_display.Progress,
    label: str,
) -> None:
    """Until none of ``objects`` (by UID) is left: deletions finish when finalizers and the
    garbage collector are done with them."""
    deadline = timing.Deadline(timeout)
    pending = list(objects)
    for interval in timing.intervals():
        left = []
        for obj in pending:
            namespace, name, uid = _ident(obj)
            now = client.get(kind, namespace, name)
            if now is not None and (not uid or now["metadata"].get("uid") == uid):
                left.append(obj)
        if not left:
            return
        pending = left
        what = contract.Ref.of(left[0]).text
        if deadline.passed:
            raise GateTimeout(f"{label}: {what} was still there after {timing.text(timeout)}")
        progress.status(f"teardown: {label}: waiting until {what} is gone ({timing.text(deadline.elapsed)})")
        deadline.sleep(interval)


def run(
    client: cluster_client.Client,
    plan: model.TeardownPlan,
    *,
    timeout: float | None,
    progress: progress_display.Progress,
) -> Outcome:
    """Run every step that runs in this plan, in order; stop at the first failure (which is
    raised), as the script does. ``timeout`` overrides the plan's wait limit."""
    limit = timeout if timeout is not None else float(units.seconds(model.TIMEOUT))
    outcome = Outcome()
    total = len(plan.steps)
    for step in plan.steps:
        label = f"{step.number}/{total}"

        def say(text: str, code: str = "", label: str = label) -> None:
            progress.line(f"teardown: {label}: {text}", code)

        if not plan.runs(step):
            say(f"kept {step.what} (data: --delete-data deletes it)", "2")
            outcome.kept.append(step.what)
            continue
        kind = client.kind(step.api_version, step.kind)
        if kind is None:
            say(f"{step.action} {step.what}: the cluster does not serve {step.kind}, nothing to do", "2")
            continue
        if step.action == "wait":
            say(f"wait until gone: {step.what}")
            found = client.get(kind, step.namespace, step.name or "")
            gone = [found] if found is not None and contract.carries(found, step.selector) else []
            _wait_gone(client, kind, gone, limit, progress, label)
            continue
        blockers = _guard(client, step)
        if blockers:
            listed = ", ".join(blockers[:_KEEP_LISTED]) + (" …" if len(blockers) > _KEEP_LISTED else "")
            say(f"kept {step.what}: it holds objects kc did not create, or they could not be listed: {listed}", "33")
            outcome.kept.append(step.what)
            continue
        _delete(client, kind, step, limit, progress, label, say, outcome)
    progress.clear()
    return outcome


def _delete(
    client: cluster_client.Client,
    kind: cluster_client.Kind,
    step: model.Step,
    limit: float,
    progress: progress_display.Progress,
    label: str,
    say: Callable[..., None],
    outcome: Outcome,
) -> None:
    say(f"delete {step.what}" + (", foreground" if step.foreground else ""))
    if step.name is not None:
        found = client.get(kind, step.namespace, step.name)
        if found is not None and not contract.carries(found, step.selector):
            say(f"kept {step.what}: it lacks the pipeline's labels, so kc did not create it", "33")
            outcome.kept.append(step.what)
            return
        targets = [found] if found is not None else []
    else:
        targets = client.list(kind, step.namespace, contract.selector_text(step.selector))
    propagation = "Foreground" if step.foreground else "Background"
    for obj in targets:
        namespace, name, uid = _ident(obj)
        what = contract.Ref.of(obj).text
        if client.delete(kind, namespace, name, propagation, uid or None):
            outcome.deleted.append(what)
        else:  # gone already, or replaced since it was read: the new one is not kc's to delete
            outcome.kept.append(f"{what}: gone or replaced since it was read")
    if step.blocking:
        _wait_gone(client, kind, targets, limit, progress, label)
