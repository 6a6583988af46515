"""A compiled output directory (``kc compile -o DIR``) as ``kc apply DIR`` and ``kc diff DIR`` act
on it: exactly the objects of its bundle files, in its bundle order, with the gates its
kc/plan.json records; refused when a bundle file was edited since kc wrote it (docs/cluster.md,
"Applying what was reviewed")."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Literal

from kc.cluster import view
from kc.cluster.errors import Refused
from kc.compiler import contract, ir

# What annotate adds after it took each object's digest: these are not part of the digest.
_BOOKKEEPING = (
    contract.SOURCE,
    contract.BUNDLE,
    contract.REVISION,
    "argocd.argoproj.io/sync-wave",
    "kapp.k14s.io/change-group",
    "kapp.k14s.io/change-rule",
)


@dataclass(frozen=True, slots=True)
class Compiled:
    """What ``kc apply`` and ``kc diff`` read of a compiled program, read from a directory."""

    directory: str
    pipeline: str
    instance: str
    namespace: str
    data_policy: Literal["retain", "delete"]
    bundles: tuple[ir.Bundle, ...]
    producers: dict[str, tuple[str, ...]]  # as ir.Program.producers: each stage that reads others' data, and those

    @property
    def objects(self) -> tuple[ir.Object, ...]:
        return tuple(o for b in self.bundles for s in b.steps for o in s.objects)


def digest(manifest: dict[str, Any]) -> str:
    """The digest kc/plan.json records for a bundle file's object: of the manifest without the
    annotations kc adds after taking it (compiler/passes/annotate.py)."""
    from kc.compiler.passes.annotate import content_digest

    # Only metadata.annotations changes: a new top level, metadata and annotations over the
    # manifest's own values (a deep copy of a thousand objects cost more than the digests).
    bare = dict(manifest)
    meta = dict(bare["metadata"]) if isinstance(bare.get("metadata"), dict) else {}
    if meta:
        bare["metadata"] = meta
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations = meta["annotations"] = {k: v for k, v in annotations.items() if k not in _BOOKKEEPING}
        if not annotations:
            del meta["annotations"]
    return content_digest(bare)


def _recorded(directory: str) -> dict[tuple[int, str, str, str, str], str]:
    path = os.path.join(directory, contract.PLAN)
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
        return {
            (int(b["index"]), o["apiVersion"], o["kind"], o["namespace"] or "", o["name"]): str(o["digest"])
            for b in index["bundles"]
            for o in b["objects"]
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise contract.not_a_plan(directory, exc) from None


def check(directory: str, plan: contract.CompiledPlan) -> None:
    """Every object of every bundle file is the one kc wrote: its digest is the one kc/plan.json
    records, and no object kc/plan.json lists is missing. Raises Refused naming the object and file."""
    recorded = _recorded(directory)
    seen = set()
    for bundle in plan.bundles:
        for obj in bundle.objects:
            meta = obj.manifest.get("metadata") or {}
            key = (bundle.index, str(obj.manifest["apiVersion"]), str(obj.manifest["kind"]),
                   str(meta.get("namespace") or ""), str(meta["name"]))  # fmt: skip
            seen.add(key)
            found = digest(obj.manifest)
            if recorded.get(key) != found:
                raise Refused(
                    f"{bundle.path}: {contract.Ref.of(obj.manifest).text} was edited since kc compile wrote it "
                    f"(its digest is {found}, {contract.PLAN} records {recorded.get(key)}); refusing to act on "
                    "a plan that is not the one compiled: change the spec and compile again"
                )
    for key in recorded.keys() - seen:
        index, _, kind, namespace, name = key
        ref = contract.Ref("", kind, namespace or None, name).text
        raise Refused(
            f"{ref} of bundle {index} is missing from its bundle file in {directory}, though {contract.PLAN} lists "
            "it; compile again"
        )


def load(directory: str) -> Compiled:
    """The compiled plan in ``directory``, checked (``check``); a KC603 CompileError when it is not
    a plan kc wrote, Refused when a bundle file was edited."""
    plan = contract.read_plan(directory)
    check(directory, plan)
    shown = view.of_directory(directory, plan)
    bundles = tuple(
        ir.Bundle(b.index, b.name, tuple(ir.Step(s.id, s.stage, s.gate, s.objects) for s in b.steps))
        for b in shown.bundles
    )
    producers: dict[str, tuple[str, ...]] = {}
    for stage, target, kind in plan.deps:
        if kind in ir.DATA and target not in producers.get(stage, ()):
            producers[stage] = (*producers.get(stage, ()), target)
    return Compiled(directory, plan.pipeline, plan.instance, plan.namespace, plan.data_policy, bundles, producers)


def is_directory(argument: str) -> bool:
    """How the cluster commands tell a compiled DIR from a SPEC: an existing directory is a DIR."""
    return os.path.isdir(argument)
