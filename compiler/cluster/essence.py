"""The essence of an object: what ``kc diff`` compares, and the comparison itself (docs/cluster.md).

What the server and its controllers write about an object is not part of what the spec asked
for: status, the bookkeeping metadata, the controllers' annotations and kc's own. Of the rest,
a live object holds more than the compiled one (the server's defaults), so the compiled object is
compared as a subset of the live one, and a field counts as removed only when kc applied it
before (its managed fields say so). Quantities compare by value. Secret data is never shown.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

from kc.compiler import contract
from kc.schemas import units

# Written by the API server; none of it is the user's intent.
# https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/object-meta/
SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "selfLink",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
# Annotations that controllers and clients write about an object.
# https://kubernetes.io/docs/reference/labels-annotations-taints/
CONTROLLER_ANNOTATIONS = frozenset(
    {
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "kubectl.kubernetes.io/last-applied-configuration",
        "batch.kubernetes.io/job-tracking",
        "pv.kubernetes.io/bind-completed",
        "pv.kubernetes.io/bound-by-controller",
        "volume.kubernetes.io/selected-node",
        "volume.kubernetes.io/storage-provisioner",
        "volume.beta.kubernetes.io/storage-provisioner",
        "autoscaling.alpha.kubernetes.io/conditions",
        "endpoints.kubernetes.io/last-change-trigger-time",
    }
)
# kc's bookkeeping: where an object came from and which plan wrote it, not what it is.
KC_ANNOTATIONS = frozenset({contract.SOURCE, contract.BUNDLE, contract.REVISION})
SECRET_FIELDS = ("data", "stringData", "binaryData")


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True)
class Named:
    """An item of a list keyed by its ``name`` (containers, env, ports, volumes)."""

    name: str


Segment = str | int | Named
Path = tuple[Segment, ...]


def path_text(path: Path) -> str:
    """``spec.template.spec.containers[api].env[LOG_LEVEL].value``, ``metadata.labels["a/b"]``."""
    out = ""
    for seg in path:
        if isinstance(seg, Named):
            out += f"[{seg.name}]"
        elif isinstance(seg, int):
            out += f"[{seg}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", seg):
            out += f".{seg}" if out else seg
        else:
            out += f"[{json.dumps(seg)}]"
    return out


@dataclass(frozen=True, slots=True)
class Change:
    """One field that differs: ``before`` is the live (or earlier) value, ``after`` what the
    plan makes it; ABSENT on one side means the field is added or removed."""

    path: Path
    before: Any
    after: Any
    redacted: bool = False

    @property
    def op(self) -> str:
        if self.before is ABSENT:
            return "added"
        return "removed" if self.after is ABSENT else "changed"

    @property
    def text(self) -> str:
        return path_text(self.path)


# --- the essence ------------------------------------------------------------------------------


def essence(manifest: dict[str, Any]) -> dict[str, Any]:
    """The object without status, server metadata, controllers' and kc's annotations; a Secret's
    write-only ``stringData`` folded into ``data`` as the server stores it. A new top level and
    metadata over the manifest's own values, which it shares: read it, never change it (copying
    a thousand live objects whole, managed fields and all, was most of what a diff cost)."""
    out = {k: v for k, v in manifest.items() if k != "status"}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in SERVER_METADATA}
    out["metadata"] = meta
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in CONTROLLER_ANNOTATIONS | KC_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    if out.get("kind") == "Secret" and "stringData" in out:
        data = dict(out.get("data") or {})
        for key, value in (out.pop("stringData") or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        out["data"] = data
    return out


# --- quantities -------------------------------------------------------------------------------

# A value is a quantity under these keys: resources, quotas, limit ranges, volume sizes.
_QUANTITY_PARENTS = frozenset(
    {"requests", "limits", "hard", "used", "default", "defaultRequest", "max", "min", "maxLimitRequestRatio"}
)
_QUANTITY_KEYS = frozenset({"sizeLimit", "storage", "averageValue"})


def _is_quantity(path: Path) -> bool:
    last = path[-1] if path else ""
    parent = path[-2] if len(path) > 1 else ""
    return last in _QUANTITY_KEYS or parent in _QUANTITY_PARENTS


def _same(path: Path, want: Any, have: Any) -> bool:
    if want == have and type(want) is type(have):
        return True
    if _is_quantity(path):
        a, b = units.quantity(want), units.quantity(have)
        return a is not None and a == b
    return bool(want == have and not isinstance(want, bool) and not isinstance(have, bool))


# --- comparison -------------------------------------------------------------------------------


def _keyed(*lists: list[Any]) -> bool:
    """Whether the items are all objects with a distinct ``name``, so they match by name."""
    for items in lists:
        names = [i.get("name") for i in items if isinstance(i, dict)]
        if len(names) != len(items) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
            return False
    return True


def _empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def _compare(want: Any, have: Any, path: Path, symmetric: bool, out: list[Change]) -> None:
    if isinstance(want, dict) and isinstance(have, dict):
        for key, value in want.items():
            if key in have:
                _compare(value, have[key], (*path, key), symmetric, out)
            elif not _empty(value):
                out.append(Change((*path, key), ABSENT, value))
        if symmetric:
            out.extend(Change((*path, k), v, ABSENT) for k, v in have.items() if k not in want and not _empty(v))
    elif isinstance(want, list) and isinstance(have, list):
        if want and have and _keyed(want, have):
            by_name = {i["name"]: i for i in have}
            for item in want:
                key = (*path, Named(item["name"]))
                if item["name"] in by_name:
                    _compare(item, by_name[item["name"]], key, symmetric, out)
                else:
                    out.append(Change(key, ABSENT, item))
            if symmetric:
                wanted = {i["name"] for i in want}
                out.extend(Change((*path, Named(i["name"])), i, ABSENT) for i in have if i["name"] not in wanted)
        elif len(want) != len(have):
            out.append(Change(path, have, want))
        else:
            for i, (a, b) in enumerate(zip(want, have, strict=True)):
                _compare(a, b, (*path, i), symmetric, out)
    elif not _same(path, want, have):
        out.append(Change(path, have, want))


def _resolve(obj: Any, path: Path) -> Any:
    for seg in path:
        obj = _step(obj, seg)
        if obj is ABSENT:
            return ABSENT
    return obj


def _step(obj: Any, seg: Segment) -> Any:
    """What ``seg`` names in ``obj``; ABSENT when it names nothing (or ``obj`` is ABSENT)."""
    if isinstance(seg, Named):
        if not isinstance(obj, list):
            return ABSENT
        return next((i for i in obj if isinstance(i, dict) and i.get("name") == seg.name), ABSENT)
    if isinstance(seg, int):
        return obj[seg] if isinstance(obj, list) and seg < len(obj) else ABSENT
    return obj.get(seg, ABSENT) if isinstance(obj, dict) else ABSENT


def owned_paths(live: dict[str, Any], manager: str, absent_from: Any = None) -> set[Path]:
    """The fields ``manager`` applied, from the live object's managedFields (FieldsV1). Items of
    lists keyed by anything but their name, and sets, stop the walk: the list counts as owned.
    With ``absent_from``, only the fields that object does not have: it is walked beside the
    fields, a step at a time, rather than each path resolved from its root.
    https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management"""
    out: set[Path] = set()
    everything = absent_from is None

    def walk(tree: dict[str, Any], prefix: Path, node: Any) -> None:
        for key, sub in tree.items():
            seg: Segment | None = None
            if key.startswith("f:"):
                seg = key[2:]
            elif key.startswith("k:"):
                try:
                    item = json.loads(key[2:])
                except ValueError:
                    item = None
                if isinstance(item, dict) and set(item) == {"name"}:
                    seg = Named(str(item["name"]))
            elif key == ".":
                continue
            if seg is None:
                if everything or node is ABSENT:
                    out.add(prefix)
                continue
            below = node if everything else _step(node, seg)
            if isinstance(sub, dict) and any(k != "." for k in sub):
                walk(sub, (*prefix, seg), below)
            elif everything or below is ABSENT:
                out.add((*prefix, seg))

    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            walk(entry.get("fieldsV1") or {}, (), absent_from)
    return out


def _redact(kind: str, changes: list[Change]) -> tuple[Change, ...]:
    if kind != "Secret":
        return tuple(changes)
    return tuple(
        Change(c.path, ABSENT if c.before is ABSENT else None, ABSENT if c.after is ABSENT else None, True)
        if c.path and c.path[0] in SECRET_FIELDS
        else c
        for c in changes
    )


def drift(compiled: dict[str, Any], live: dict[str, Any], manager: str) -> tuple[Change, ...]:
    """How a live object differs from its compiled twin: fields the plan sets to something else
    or that are missing, and fields ``manager`` applied before that the plan no longer sets.
    Fields only the server set (its defaults) are not differences."""
    want, have = essence(compiled), essence(live)
    out: list[Change] = []
    _compare(want, have, (), False, out)
    reported = {c.path for c in out}
    # A field the plan still has (its whole path resolves) is no removal: only the others are
    # looked at closely, in the order of their text.
    gone = owned_paths(live, manager, absent_from=want)
    for path in sorted(gone, key=path_text):
        # The whole list item when the plan dropped it, else the field itself: a map the plan no
        # longer has may still hold other managers' fields, which stay.
        missing = False
        for depth in range(1, len(path) + 1):
            prefix = path[:depth]
            missing = missing or _resolve(want, prefix) is ABSENT
            if missing and (isinstance(prefix[-1], Named) or depth == len(path)):
                value = _resolve(have, prefix)
                if value is not ABSENT and prefix not in reported and not _under_kc_annotation(prefix):
                    reported.add(prefix)
                    out.append(Change(prefix, value, ABSENT))
                break
    return _redact(str(compiled.get("kind")), out)


def _under_kc_annotation(path: Path) -> bool:
    return len(path) >= 3 and path[:2] == ("metadata", "annotations") and path[2] in KC_ANNOTATIONS


def difference(before: dict[str, Any], after: dict[str, Any]) -> tuple[Change, ...]:
    """Every field that differs between two whole objects (an earlier compile and this one, or a
    live object and what a dry-run apply would make of it)."""
    out: list[Change] = []
    _compare(essence(after), essence(before), (), True, out)
    return _redact(str(after.get("kind")), out)


def value_text(value: Any, width: int = 100) -> str:
    """A value on one line, shortened to ``width`` characters."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=False, separators=(", ", ": "))
    return text if len(text) <= width else text[: width - 1] + "…"
