"""Reading a teardown plan back from an earlier ``kc compile -o DIR``: its ``kc/teardown.yaml``, or,
for a directory that predates it, a plan rebuilt from ``kc/plan.json`` and the bundle files."""

from __future__ import annotations

import os

import yaml
from kc.compiler import contract, ir
from kc.compiler import diagnostics as diag
from kc.compiler.diagnostics import Pos
from kc.compiler.teardown import build, model


def _fail(path: str, message: str, hint: str = "") -> diag.CompileError:
    return diag.CompileError([diag.error("KC603", Pos(path), message, hint)])


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot read: {exc}") from None


def _from_plan_json(root: str) -> model.TeardownPlan:
    compiled = contract.read_plan(root)
    try:
        return _rebuilt(compiled)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # manifests kc would not write
        raise contract.not_a_plan(root, exc) from None


def _rebuilt(compiled: contract.CompiledPlan) -> model.TeardownPlan:
    bundles = [
        (b.index, [ir.Object(o.manifest, o.stage, o.step, Pos(b.path)) for o in b.objects]) for b in compiled.bundles
    ]
    return build.build(compiled, delete_data=False, bundles=bundles)


def load(root: str, delete_data: bool = False) -> model.TeardownPlan:
    """The teardown plan of an output directory; ``delete_data`` as ``--delete-data``."""
    teardown_path = os.path.join(root, contract.TEARDOWN)
    if os.path.isfile(teardown_path):
        try:
            found = model.from_dict(yaml.safe_load(_read(teardown_path)))
        except (model.Invalid, yaml.YAMLError) as exc:
            raise _fail(teardown_path, f"not a teardown plan kc can run: {exc}", "compile the spec again") from None
    elif os.path.isfile(os.path.join(root, contract.PLAN)):
        found = _from_plan_json(root)
    else:
        raise _fail(root, "not a kc output directory: it has no kc/teardown.yaml or kc/plan.json")
    return model.deleting_data(found) if delete_data else found
