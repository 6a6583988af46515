"""seal: a Job's name carries a hash of its content, computed once the content is final, so that
a changed Job is a new Job (its spec cannot change in place) and an unchanged one is left alone."""

from __future__ import annotations

from kc.compiler import ir, jsontext, object_names
from kc.schemas import record


def _sealed(obj: ir.Object) -> ir.Object:
    manifest = obj.manifest
    content = jsontext.canonical(manifest)
    name = object_names.job_name(obj.name, object_names.digest(content))
    return record.replace(obj, manifest={**manifest, "metadata": {**manifest["metadata"], "name": name}})


def seal(draft: ir.Draft) -> ir.Draft:
    steps = tuple(
        record.replace(step, objects=tuple(_sealed(o) if o.kind == "Job" else o for o in step.objects))
        for step in draft.steps
    )
    return record.replace(draft, steps=steps)
