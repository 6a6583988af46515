"""Reading a teardown plan back from an earlier ``kc compile -o DIR``: its ``kc/teardown.yaml``, or,
for a directory that predates it, a plan rebuilt from ``kc/plan.json`` and the bundle files."""

from __future__ import annotations

import json
import os
from typing import Any

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler import ir
from kc.compiler.diagnostics import Pos
from kc.compiler.teardown import build, model

TEARDOWN = os.path.join("kc", "teardown.yaml")
PLAN = os.path.join("kc", "plan.json")
PLAN_FORMAT = 1


def _fail(path: str, message: str, hint: str = "") -> diag.CompileError:
    return diag.CompileError([diag.error("KC603", Pos(path), message, hint)])


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read: {exc}") from None


def _from_plan_json(root: str) -> model.TeardownPlan:
    path = os.path.join(root, PLAN)
    try:
        index = json.loads(_read(path))
        if index.get("format") != PLAN_FORMAT:
            raise _fail(path, f"plan format {index.get('format')!r} is not {PLAN_FORMAT}")
        bundles: list[tuple[int, list[ir.Object]]] = []
        for bundle in index["bundles"]:
            file = os.path.join(root, bundle["file"])
            # Stage and step come from the index; the manifests, in apply order, from the file.
            where = {(o["kind"], o["namespace"] or "", o["name"]): o for o in bundle["objects"]}
            objects = []
            for manifest in yaml.safe_load_all(_read(file)):
                if not manifest:
                    continue
                meta: dict[str, Any] = manifest["metadata"]
                entry = where[(manifest["kind"], meta.get("namespace") or "", meta["name"])]
                objects.append(ir.Object(manifest, entry["stage"] or "", entry["step"], Pos(file)))
            bundles.append((int(bundle["index"]), objects))
        return build.build(
            pipeline=index["pipeline"],
            instance=index["instance"],
            namespace=index["namespace"],
            namespace_created=bool(index["namespace_created"]),
            revision=index["revision"],
            data_policy="delete" if index["data_policy"] == "delete" else "retain",
            delete_data=False,
            bundles=bundles,
        )
    except (KeyError, TypeError, ValueError, AttributeError, yaml.YAMLError) as exc:
        raise _fail(path, f"not a plan kc wrote: {type(exc).__name__}: {exc}") from None


def load(root: str, delete_data: bool = False) -> model.TeardownPlan:
    """The teardown plan of an output directory; ``delete_data`` as ``--delete-data``."""
    teardown_path = os.path.join(root, TEARDOWN)
    if os.path.isfile(teardown_path):
        try:
            found = model.from_dict(yaml.safe_load(_read(teardown_path)))
        except (model.Invalid, yaml.YAMLError) as exc:
            raise _fail(teardown_path, f"not a teardown plan kc can run: {exc}", "compile the spec again") from None
    elif os.path.isfile(os.path.join(root, PLAN)):
        found = _from_plan_json(root)
    else:
        raise _fail(root, "not a kc output directory: it has no kc/teardown.yaml or kc/plan.json")
    return model.deleting_data(found) if delete_data else found
