"""annotations: each object's source line, bundle and the plan's revision; with
``--ordering-annotations`` also Argo CD sync waves or kapp change groups."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Any

from kc.compiler import ir, jsontext, object_names
from kc.compiler.contract import BUNDLE, REVISION, SOURCE
from kc.compiler.diagnostics import Pos
from kc.schemas import record


def content_digest(manifest: dict[str, Any]) -> str:
    return object_names.digest(jsontext.canonical(manifest), 12)


def revision(bundles: tuple[ir.Bundle, ...], digests: dict[int, str]) -> str:
    """A digest of everything the plan applies, and in what order (``digests`` by object's id)."""
    content = [[b.index, [s.gate.kind for s in b.steps], [digests[id(o)] for o in b.objects]] for b in bundles]
    return object_names.digest(json.dumps(content, separators=(",", ":")), 12)


def _ordering(kind: str | None, index: int) -> dict[str, str]:
    if kind == "argocd":
        return {"argocd.argoproj.io/sync-wave": str(index)}
    if kind == "kapp":
        out = {"kapp.k14s.io/change-group": f"kc.dev/bundle-{index:02d}"}
        if index:
            out["kapp.k14s.io/change-rule"] = f"upsert after upserting kc.dev/bundle-{index - 1:02d}"
        return out
    return {}


def _sources(program: ir.Program) -> Callable[[Pos], str]:
    """Where an object comes from, relative to the spec's folder, so the output is the same
    wherever the spec is compiled from. Nearly every object comes from the spec itself."""
    root = os.path.dirname(os.path.abspath(program.doc.file))
    relative = functools.cache(lambda file: os.path.relpath(os.path.abspath(file), root))
    return lambda pos: f"{relative(pos.file) if pos.line else pos.file}:{pos.line}"


def annotate(program: ir.Program) -> ir.Program:
    # Each object is digested as the passes left it, before the annotations that carry the revision.
    digests = {id(o): content_digest(o.manifest) for o in program.objects}
    rev = revision(program.bundles, digests)
    source = _sources(program)
    bundles = []
    for bundle in program.bundles:
        extra = {
            BUNDLE: str(bundle.index),
            REVISION: rev,
            **_ordering(program.options.ordering_annotations, bundle.index),
        }
        steps = []
        for step in bundle.steps:
            objects = []
            for obj in step.objects:
                meta: dict[str, Any] = dict(obj.manifest["metadata"])
                meta["annotations"] = {
                    **(meta.get("annotations") or {}),
                    SOURCE: source(obj.pos),
                    **extra,
                }
                manifest = {**obj.manifest, "metadata": meta}
                objects.append(record.replace(obj, manifest=manifest, digest=digests[id(obj)]))
            steps.append(record.replace(step, objects=tuple(objects)))
        bundles.append(record.replace(bundle, steps=tuple(steps)))
    return record.replace(program, bundles=tuple(bundles), revision=rev)
