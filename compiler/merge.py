"""Merging data: profiles and defaults onto the spec (keeping positions), patches onto objects."""

from __future__ import annotations

from typing import Any

from kc.compiler import source


def _copy_positions(doc: source.Document, src: source.Path, dst: source.Path) -> None:
    for table in (doc.values, doc.keys):
        moved = {dst + p[len(src) :]: pos for p, pos in table.items() if p[: len(src)] == src}
        table.update(moved)


def overlay(doc: source.Document, target: source.Path, value: Any, origin: source.Path) -> None:
    """Deep-merge ``value`` (found at ``origin`` in ``doc``) onto the data at ``target``.

    Mappings merge key by key; anything else replaces what was there. The merged values keep
    the positions they had where they were written, so errors point at the profile or --set.
    """
    parent: Any = doc.data
    for depth, key in enumerate(target[:-1], 1):
        if key not in parent:  # a mapping the overlay creates is positioned where the overlay is
            doc.values[target[:depth]] = doc.keys[target[:depth]] = doc.pos(origin)
        parent = parent.setdefault(key, {})
    last = target[-1]
    current = parent.get(last) if isinstance(parent, dict) else None
    if isinstance(current, dict) and isinstance(value, dict):
        for key, sub in value.items():
            overlay(doc, (*target, key), sub, (*origin, key))
        return
    parent[last] = source.copied(value)
    _copy_positions(doc, origin, target)
    if origin in doc.keys:
        doc.keys[target] = doc.keys[origin]


def patch(target: Any, change: Any) -> Any:
    """A JSON merge patch (RFC 7386), except that lists of named items (containers, ports,
    env, volumes) merge item by item on ``name``, as kubectl's strategic merge does."""
    if isinstance(change, dict) and isinstance(target, dict):
        out = dict(target)
        for key, value in change.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = patch(target.get(key), value)
        return out
    if _named_list(change) and _named_list(target):
        by_name = {item["name"]: item for item in change}
        merged = [patch(item, by_name.pop(item["name"])) if item["name"] in by_name else item for item in target]
        return merged + [item for item in change if item["name"] in by_name]
    if isinstance(change, dict):  # onto nothing: a new mapping, without the patch's nulls
        return patch({}, change)
    return source.copied(change)


def _named_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in value)
    )
