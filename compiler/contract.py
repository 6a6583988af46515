"""What ``kc compile`` writes and the cluster commands read back, defined once: kc's labels and
annotations, the ownership selector, how an object is named in messages, and ``kc/plan.json``
(its path, its format, its one writer and its one reader).

Ownership rests on kc's own ``kc.dev/`` labels only: other tools rewrite the recommended
``app.kubernetes.io`` ones (Argo CD sets ``app.kubernetes.io/instance`` to its application's name).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler import jsontext, yamlread
from kc.compiler.diagnostics import Pos
from kc.schemas.record import Record

# --- labels and annotations ----------------------------------------------------------------------

PIPELINE = "kc.dev/pipeline"
STAGE = "kc.dev/stage"
OWNER = "kc.dev/instance"
MANAGED_BY = "app.kubernetes.io/managed-by"
INSTANCE = "app.kubernetes.io/instance"

SOURCE = "kc.dev/source"  # the spec line (file:line) that produced the object
BUNDLE = "kc.dev/bundle"
REVISION = "kc.dev/revision"
# On a Job: the hash of its own content, without the part its name takes from the Jobs of the
# stages it reads (compiler/passes/seal.py), so that kc diff tells a Job that changed from one
# that runs again because a stage upstream of it does.
CONTENT = "kc.dev/content"
# On a Secret whose values kc apply generates when they are absent: JSON {"keys": [...],
# "length": N, "alphabet": "alnum" | "hex"}. The values are never in the plan or the output files.
GENERATE = "kc.dev/generate"

# On a Job: the results it declares (compiler/results.py), the items it fans out over, in index
# order (compiler/patterns/fanout.py), and when a finally step runs; kc apply reads them back.
RESULTS = "kc.dev/results"
ITEMS = "kc.dev/items"
WHEN = "kc.dev/when"  # on a finally step's Job: always or failed

Selector = tuple[tuple[str, str], ...]  # label key and value pairs, all of which must match


def ownership(instance: str) -> dict[str, str]:
    """The label that marks an object as this pipeline instance's: what diff and teardown select."""
    return {OWNER: instance}


def ownership_selector(instance: str) -> Selector:
    """What every diff listing and teardown step selects by; a step may add kc's stage label."""
    return tuple(ownership(instance).items())


def ownership_text(instance: str) -> str:
    return selector_text(ownership_selector(instance))


def selector_text(selector: Selector | Mapping[str, str]) -> str:
    """``kc.dev/instance=shop,kc.dev/stage=db``, as ``kubectl -l`` and the API's labelSelector take it."""
    pairs: Iterable[tuple[str, str]] = selector if isinstance(selector, tuple) else selector.items()
    return ",".join(f"{k}={v}" for k, v in pairs)


def carries(manifest: dict[str, Any], selector: Selector | Mapping[str, str]) -> bool:
    """Whether the object has every label of ``selector``."""
    pairs: Iterable[tuple[str, str]] = selector if isinstance(selector, tuple) else selector.items()
    found = (manifest.get("metadata") or {}).get("labels") or {}
    return all(found.get(k) == v for k, v in pairs)


# --- naming an object ----------------------------------------------------------------------------


class Ref(Record, kw_only=False):
    """An object as messages, reports and the teardown plan name it."""

    api_version: str
    kind: str
    namespace: str | None
    name: str
    source: str | None = None  # kc.dev/source, where the object carries it

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> Ref:
        meta = manifest.get("metadata") or {}
        return cls(
            str(manifest.get("apiVersion")),
            str(manifest.get("kind")),
            meta.get("namespace") or None,
            str(meta.get("name")),
            (meta.get("annotations") or {}).get(SOURCE),
        )

    @property
    def text(self) -> str:
        return ref_text(self.kind, self.namespace, self.name)


def ref_text(kind: str, namespace: str | None, name: str) -> str:
    """``Deployment shop/shop-web``; a cluster-scoped object has no namespace part."""
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


# --- kc/plan.json --------------------------------------------------------------------------------

# Relative to the output directory; `kubectl apply -f DIR` does not read kc/.
PLAN = "kc/plan.json"
TEARDOWN = "kc/teardown.yaml"  # its format is the teardown plan's own (compiler/teardown/model.py)
# Raised when a reader of another format could misread the file or miss what it needs: 2 gave
# each stage's dependencies their kind, which --rerun and kc diff read data edges from.
PLAN_FORMAT = 2
# Seconds a pod may wait to run (unscheduled, pulling its image, waiting for a ConfigMap) before
# kc apply fails the gate that waits on it, for a stage without `pending-timeout`. A plan's gate
# records the stage's own value only where the stage sets one (ir.Gate.pending_timeout).
PENDING_TIMEOUT = 300
_AGAIN = "compile into the directory again"


def plan_text(index: dict[str, Any]) -> str:
    """``kc/plan.json``'s content: ``index`` (targets/plan.py builds it) under the current format."""
    return jsontext.dumps({"format": PLAN_FORMAT, **index}) + "\n"


class PlannedObject(Record, kw_only=False):
    manifest: dict[str, Any]  # as the bundle file holds it
    stage: str  # "" for the workspace's objects
    step: str


class PlannedBundle(Record, kw_only=False):
    index: int
    path: str  # the bundle file
    objects: tuple[PlannedObject, ...]  # in apply order


class Header(Record, kw_only=False):
    """What a compiled plan is of: the top of kc/plan.json, which the teardown plan repeats."""

    pipeline: str
    instance: str
    namespace: str
    namespace_created: bool  # kc creates the namespace (workspace.create), so teardown deletes it
    revision: str
    data_policy: Literal["retain", "delete"]

    def header_fields(self) -> dict[str, Any]:
        """The header's fields alone, for building a plan that repeats them."""
        return {name: getattr(self, name) for name in Header.__kc_params__}


class CompiledPlan(Header):
    """An earlier ``kc compile -o DIR``, read back: the index and the bundle files' manifests."""

    bundles: tuple[PlannedBundle, ...]
    deps: tuple[tuple[str, str, str], ...] = ()  # (stage, the stage it waits for, the dependency's kind)

    @property
    def manifests(self) -> list[dict[str, Any]]:
        return [o.manifest for b in self.bundles for o in b.objects]


def _unreadable(path: str, message: str, hint: str) -> diag.CompileError:
    return diag.CompileError([diag.error("KC603", Pos(path), message, hint)])


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _bundle(directory: str, entry: dict[str, Any]) -> PlannedBundle:
    path = os.path.join(directory, entry["file"])
    # Stage and step come from the index; the manifests, in apply order, from the file.
    where = {(o["apiVersion"], o["kind"], o["namespace"] or "", o["name"]): o for o in entry["objects"]}
    objects = []
    for manifest in yamlread.documents(_read(path)):
        if not manifest:
            continue
        meta: dict[str, Any] = manifest["metadata"]
        listed = where[(manifest["apiVersion"], manifest["kind"], meta.get("namespace") or "", meta["name"])]
        objects.append(PlannedObject(manifest, listed["stage"] or "", listed["step"]))
    return PlannedBundle(int(entry["index"]), path, tuple(objects))


def read_plan(directory: str) -> CompiledPlan:
    """The plan an earlier ``kc compile -o DIR`` wrote; a KC603 error at the file that is missing,
    of another format, or not what kc writes."""
    path = os.path.join(directory, PLAN)
    try:
        index = json.loads(_read(path))
        if index.get("format") != PLAN_FORMAT:
            raise _unreadable(path, f"plan format {index.get('format')!r} is not {PLAN_FORMAT}", _AGAIN)
        return CompiledPlan(
            pipeline=str(index["pipeline"]),
            instance=str(index["instance"]),
            namespace=str(index["namespace"]),
            namespace_created=bool(index["namespace_created"]),
            revision=str(index["revision"]),
            data_policy="delete" if index["data_policy"] == "delete" else "retain",
            bundles=tuple(_bundle(directory, entry) for entry in index["bundles"]),
            deps=tuple((str(s["name"]), str(d["stage"]), str(d["kind"])) for s in index["stages"] for d in s["after"]),
        )
    except FileNotFoundError as exc:
        message = f"not a kc output directory: {exc.filename} is missing"
        raise _unreadable(directory, message, "compile into the directory first") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, yaml.YAMLError) as exc:
        raise not_a_plan(directory, exc) from None


def of_another_instance(directory: str, plan: Header, pipeline: str, instance: str) -> diag.CompileError:
    """The error for comparing a spec with the plan of another pipeline or instance: every object
    of one would look like an orphan of the other, for ``kc apply --prune`` to delete."""
    theirs = f"instance '{plan.instance}' of pipeline '{plan.pipeline}'"
    ours = f"instance '{instance}' of pipeline '{pipeline}'"
    if plan.pipeline != pipeline:
        hint = f"name the directory pipeline '{pipeline}' was compiled into"
    else:
        flag = "compile without --instance" if plan.instance == pipeline else f"add --instance {plan.instance}"
        hint = f"compare the same instance ({flag}), or name the directory instance '{instance}' was compiled into"
    message = f"{directory} holds {theirs}, the spec compiles {ours}: their objects are not one another's"
    return diag.CompileError([diag.error("KC605", Pos(os.path.join(directory, PLAN)), message, hint)])


def not_a_plan(directory: str, exc: Exception) -> diag.CompileError:
    """The error for a plan that does not hold what kc writes (an edited bundle file, say)."""
    return _unreadable(os.path.join(directory, PLAN), f"not a plan kc wrote: {type(exc).__name__}: {exc}", _AGAIN)
