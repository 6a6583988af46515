"""Before ``kc apply`` changes anything: a server-side dry run (``dryRun=All``) of every object of
the plan, so that an object the API server refuses stops the apply before the first bundle
(docs/cluster.md, "The dry run before the first bundle").

Only what is new or changed is dry-run: an object whose live twin already has its essence was
taken by the server before, and applying it again changes nothing the spec says. So a re-apply of
a settled pipeline costs no dry run at all, and objects in a namespace that does not exist yet are
known not to be checkable without asking (docs/cluster.md, "Requests and concurrency").

Objects of later bundles may need what earlier bundles create: their namespace, or the
CustomResourceDefinition of their kind. Their dry run cannot succeed yet, and says so ("namespace
not found", a kind the server does not serve): those are skipped with a note. Any other refusal
stops the apply, naming the object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kc.cluster import client as cluster_client
from kc.cluster import essence, live, pool
from kc.cluster.errors import ClusterError, Refused
from kc.compiler import contract, ir

# A server or proxy that takes no dry runs or no apply patches: nothing can be checked.
_NO_DRY_RUN = (405, 415)
# The object is what the server refuses: invalid (422), or not decodable as its kind (400).
_INVALID = (400, 422)


@dataclass
class Result:
    checked: int = 0
    unchanged: int = 0  # not dry-run: the live object already is what the plan says
    not_yet: dict[str, list[str]] = field(default_factory=dict)  # why -> the objects
    note: str = ""  # why nothing was checked, when so

    def summary(self) -> str:
        if self.note:
            return f"dry run: {self.note}"
        out = f"dry run: the API server accepts {self.checked} object(s)"
        if self.unchanged:
            out += f" ({self.unchanged} unchanged, not checked again)"
        if self.not_yet:
            count = sum(len(refs) for refs in self.not_yet.values())
            out += f"; {count} cannot be checked until an earlier bundle is applied"
        return out

    def details(self) -> list[str]:
        """One line per reason: "not checked yet: 14 object(s): namespace shop does not exist yet"."""
        return [
            f"  not checked yet: {refs[0] if len(refs) == 1 else f'{len(refs)} objects'}: {why}"
            for why, refs in self.not_yet.items()
        ]


def _not_yet(exc: ClusterError, obj: ir.Object) -> str:
    """Why a refusal means "cannot be checked yet", or "" when it is a real refusal."""
    text = str(exc)
    if exc.status == 404 and obj.namespace and "namespaces" in text and "not found" in text:
        return f"namespace {obj.namespace} does not exist yet"
    if exc.status == 404 and "no matches for kind" in text:
        return f"the cluster does not serve {obj.kind} yet"
    return ""


def _skipped(obj: ir.Object, found: live.Live) -> str | None:
    """Why ``obj`` needs no dry run, without asking the server: "" when its live twin already has
    its essence (the server took that object, and applying it again changes nothing of what the
    spec says), or why it cannot be checked yet. None: it needs its dry run."""
    if obj.namespace and obj.namespace in found.absent and (kind := found.kind_of(obj.manifest)) and kind.namespaced:
        return f"namespace {obj.namespace} does not exist yet"  # what the server would answer (404)
    twin = found.twins.get(live.key_of(obj.manifest))
    if twin is not None and not essence.drift(obj.manifest, twin, cluster_client.FIELD_MANAGER):
        return ""
    return None


def dry_run(client: cluster_client.Client, objects: Iterable[ir.Object], found: live.Live) -> Result:
    """Dry-run apply each object that is new or changed, side by side (``pool``); Refused (exit
    2) at the first one, in plan order, that the server refuses for a reason other than what an
    earlier bundle creates."""
    result = Result()
    asked: list[tuple[ir.Object, cluster_client.Kind]] = []
    for obj in objects:
        api_version = str(obj.manifest["apiVersion"])
        ref = contract.Ref.of(obj.manifest).text
        kind = found.kind_of(obj.manifest) or client.kind(api_version, obj.kind)
        if kind is None:
            result.not_yet.setdefault(f"the cluster does not serve {obj.kind} in {api_version} yet", []).append(ref)
            continue
        why = _skipped(obj, found)
        if why is None:
            asked.append((obj, kind))
        elif why:
            result.not_yet.setdefault(why, []).append(ref)
        else:
            result.unchanged += 1
    outcomes = pool.each(lambda at: client.apply(at[1], at[0].manifest, dry_run=True), asked)
    for (obj, _), outcome in zip(asked, outcomes, strict=True):
        ref = contract.Ref.of(obj.manifest).text
        exc = outcome.error
        if exc is None:
            result.checked += 1
            continue
        if exc.status in _NO_DRY_RUN:
            result.note = f"not available here ({exc}); nothing was checked"
            return result
        why = _not_yet(exc, obj)
        if not why:
            if exc.status not in _INVALID:
                raise exc  # no answer, forbidden, …: the cluster's error, not the object's
            raise Refused(
                f"the API server refuses {ref} (dry run; nothing was applied): {exc}"
                + (
                    f"\n  it comes from {obj.manifest['metadata'].get('annotations', {}).get(contract.SOURCE)}"
                    if (obj.manifest["metadata"].get("annotations") or {}).get(contract.SOURCE)
                    else ""
                )
            ) from None
        result.not_yet.setdefault(why, []).append(ref)
    return result
