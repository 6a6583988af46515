"""Field-level semantics: label and field selectors, merge and JSON patches, and the
bookkeeping of which manager owns which fields (a simplified server-side apply)."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
Path = tuple[str, ...]
MISSING = object()


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- selectors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # in, notin, exists, !
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        hit = present and labels[self.key] in self.values
        return {"exists": present, "!": not present, "in": hit, "notin": not hit}[self.op]


_KEY = r"[A-Za-z0-9][-A-Za-z0-9_./]*"
_SET_RE = re.compile(rf"({_KEY})\s+(in|notin)\s+\(([^)]*)\)")
_EQ_RE = re.compile(rf"({_KEY})\s*(==|=|!=)\s*([-A-Za-z0-9_.]*)")
_EXISTS_RE = re.compile(rf"(!?)\s*({_KEY})")


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside `in (a,b)` value lists."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def parse_label_selector(text: str) -> list[Requirement]:
    reqs = []
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            continue
        if m := _SET_RE.fullmatch(part):
            values = frozenset(v.strip() for v in m[3].split(",") if v.strip())
            reqs.append(Requirement(m[1], m[2], values))
        elif m := _EQ_RE.fullmatch(part):
            reqs.append(Requirement(m[1], "notin" if m[2] == "!=" else "in", frozenset([m[3]])))
        elif m := _EXISTS_RE.fullmatch(part):
            reqs.append(Requirement(m[2], "!" if m[1] else "exists"))
        else:
            raise ValueError(f"unable to parse requirement: {part!r}")
    return reqs


# Beyond metadata.name/namespace the real server supports a few fields per kind.
FIELD_LABELS = {
    "Pod": ("spec.nodeName", "spec.restartPolicy", "status.phase", "status.podIP"),
    "Secret": ("type",),
    "Namespace": ("status.phase",),
}


def parse_field_selector(text: str, kind: str) -> list[tuple[str, bool, str]]:
    """(field, wanted-equal, value) triples."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([\w.]+)\s*(==|=|!=)\s*(.*)", part)
        if not m:
            raise ValueError(f"invalid field selector: {part!r}")
        allowed = ("metadata.name", "metadata.namespace", *FIELD_LABELS.get(kind, ()))
        if m[1] not in allowed:
            raise ValueError(f'"{m[1]}" is not a known field selector: only ' + ", ".join(f'"{f}"' for f in allowed))
        out.append((m[1], m[2] != "!=", m[3]))
    return out


# --- managed fields (a simplified server-side apply bookkeeping) -----------------------------


def field_leaves(obj: Obj) -> dict[Path, Any]:
    """The fields a manager can own: everything but status and server-set metadata.

    Lists are atomic leaves (the real server merges some lists by key; we keep it simple)."""
    out: dict[Path, Any] = {}

    def walk(value: Any, path: Path) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(v, (*path, k))
        else:
            out[path] = value

    for key, value in obj.items():
        if key not in ("apiVersion", "kind", "status", "metadata"):
            walk(value, (key,))
    meta = obj.get("metadata", {})
    for key in ("labels", "annotations"):
        if key in meta:
            walk(meta[key], ("metadata", key))
    for key in ("ownerReferences", "finalizers"):
        if key in meta:
            out[("metadata", key)] = meta[key]
    return out


def fields_v1(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def paths_of(tree: Obj, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for key, sub in tree.items():
        if key.startswith("f:"):
            path = (*prefix, key[2:])
            out |= paths_of(sub, path) if sub else {path}
    return out


def owners(obj: Obj) -> dict[tuple[str, str], set[Path]]:
    return {
        (e["manager"], e["operation"]): paths_of(e.get("fieldsV1", {}))
        for e in obj.get("metadata", {}).get("managedFields") or []
    }


def remove_path(obj: Obj, path: Path) -> None:
    """Delete a field and any maps the deletion leaves empty."""
    parents = [obj]
    for key in path[:-1]:
        if not isinstance(parents[-1].get(key), dict):
            return
        parents.append(parents[-1][key])
    parents[-1].pop(path[-1], None)
    for parent, key in zip(reversed(parents[:-1]), reversed(path[:-1]), strict=True):
        if parent[key] == {}:
            del parent[key]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; null deletes, lists replace."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def essence(obj: Obj) -> Obj:
    """What a write must change for the server to count it as a change (no-op writes are free)."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata", {})
    meta.pop("resourceVersion", None)
    for entry in meta.get("managedFields") or []:
        entry.pop("time", None)
    return out


def track(
    api_version: str,
    old: Obj | None,
    new: Obj,
    manager: str,
    applied: set[Path] | None = None,
    forced: frozenset[Path] = frozenset(),
) -> None:
    """Record in new.metadata.managedFields who owns which fields (FieldsV1, lists atomic).

    An update (applied is None) takes every field it changes from the other managers; an apply
    owns exactly the fields it applied, sharing equal values and taking only forced conflicts."""
    before, after = field_leaves(old) if old else {}, field_leaves(new)
    gone = set(before) - set(after)
    entries = owners(old) if old else {}
    previous = {(e["manager"], e["operation"]): e for e in (old or {}).get("metadata", {}).get("managedFields") or []}
    if applied is None:
        key = (manager, "Update")
        taken = {p for p, v in after.items() if before.get(p, MISSING) != v}
        entries[key] = entries.get(key, set()) | taken
    else:
        key, taken = (manager, "Apply"), set(forced)
        entries[key] = applied & set(after)
    rendered = []
    for (name, op), paths in entries.items():
        paths = paths - gone if (name, op) == key else paths - taken - gone
        if not paths:
            continue
        entry = {
            "manager": name,
            "operation": op,
            "apiVersion": api_version,
            "time": now(),
            "fieldsType": "FieldsV1",
            "fieldsV1": fields_v1(paths),
        }
        kept = previous.get((name, op))
        rendered.append(kept if kept and kept["fieldsV1"] == entry["fieldsV1"] else entry)
    new["metadata"]["managedFields"] = rendered


# --- patches ----------------------------------------------------------------------------------


def json_patch(doc: Obj, ops: Any) -> Obj:
    """RFC 6902: add, remove, replace and test are what clients send in practice. Raises
    KeyError, IndexError, TypeError or ValueError when the patch does not apply."""
    doc = copy.deepcopy(doc)
    for op in ops:
        keys = [k.replace("~1", "/").replace("~0", "~") for k in op["path"].split("/")[1:]]
        parent: Any = doc
        for key in keys[:-1]:
            parent = parent[int(key)] if isinstance(parent, list) else parent[key]
        last: Any = keys[-1]
        if isinstance(parent, list):
            last = len(parent) if last == "-" else int(last)
        if op["op"] == "test" and parent[last] != op["value"]:
            raise ValueError(f"test failed at {op['path']}")
        if op["op"] == "remove":
            del parent[last]
        elif op["op"] == "add" and isinstance(parent, list):
            parent.insert(last, op["value"])
        elif op["op"] in ("add", "replace"):
            parent[last] = op["value"]
    return doc
