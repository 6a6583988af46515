"""defaults: the spec's ``defaults`` block onto every stage that does not say otherwise.

Explicit beats default: a stage's own value wins; for maps (env, labels, annotations) key by key.
Container fields go only to patterns that run a container; ``health`` only to long-running ones.
"""

from __future__ import annotations

from typing import Any

from kc.compiler import ir, kinds
from kc.schemas import record, shape

_CONTAINER = ("registry", "pull-policy", "pending-timeout")
_MAPS_ALL = ("labels", "annotations")


def defaults(program: ir.Draft) -> ir.Draft:
    given = shape.dump(program.spec.defaults, exclude_none=True)
    # Merged defaults get positions of their own; the tables given stay as they were.
    doc = record.replace(program.doc, values=dict(program.doc.values), keys=dict(program.doc.keys))
    stages: dict[str, dict[str, Any]] = {}
    for name, raw in program.raw_stages.items():
        stage = dict(raw)
        pattern = program.library.get(str(stage.get("pattern")))
        if pattern is None:
            stages[name] = stage  # the stages pass reports the unknown pattern
            continue
        manifest = pattern.manifest
        keys: list[str] = list(_MAPS_ALL)
        if manifest.container:
            keys += ["env", *_CONTAINER]
            if "size" not in stage and "resources" not in stage:
                keys += ["size", "resources"]
            if manifest.main is not None and kinds.long_running(manifest.main):
                keys.append("health")
        for key in keys:
            if key in manifest.omit:  # a field the pattern does not take (a database's ports, health)
                continue
            if key not in given or (key in ("env", *_MAPS_ALL) and not given[key]):
                continue
            path = ("stages", name, key)
            if isinstance(given[key], dict):
                mine = stage.get(key) or {}
                merged = {**given[key], **mine} if isinstance(mine, dict) else mine
                for sub in given[key]:
                    if not isinstance(mine, dict) or sub not in mine:
                        for table in (doc.values, doc.keys):
                            if ("defaults", key, sub) in table:
                                table[(*path, sub)] = table[("defaults", key, sub)]
                stage[key] = merged
            elif key not in stage:
                stage[key] = given[key]
                doc.values[path] = doc.keys[path] = doc.pos(("defaults", key), key=True)
        stages[name] = stage
    return record.replace(program, doc=doc, raw_stages=stages)
