"""The JSON Schema's unions, written as editors can explain them.

pydantic writes an optional field as ``anyOf: [<the schema>, {type: null}]`` and a union of kinds
as ``anyOf`` of one schema per kind. For a value that is wrong, a validator can then say only
that it is "not valid under any of the given schemas" (yaml-language-server shows that, or the
errors of the member it guesses closest). Most of kc's unions join values of different JSON
types (text or a list, a number or null, a path or a mapping), and the keywords of each member
apply only to values of its own type (``pattern`` to strings, ``minimum`` to numbers,
``properties`` to objects). Such a union is one schema: ``type: [string, null]`` with the
members' keywords side by side, which validates exactly the same values and reports the real
reason (``'10GB' does not match …``, ``expected object``). An object member given by ``$ref``
goes under ``if: {type: object}, then: {$ref}``, since draft 7 (yaml-language-server's) ignores
keywords beside a ``$ref``; two object members are told apart by the field each requires
(``{secret: …}`` or ``{config: …}``). A union this cannot express exactly stays an ``anyOf``.
"""

from __future__ import annotations

import copy
from typing import Any

REF_PREFIX = "#/$defs/"
# Keywords that apply to values of every type: a member that has one cannot share a schema.
_EVERY_TYPE = {"enum", "const", "not", "allOf", "anyOf", "oneOf", "if", "then", "else", "$ref"}
# Words about the value, not checks: the union's own win over a member's.
_NOTES = {"title", "description", "default", "examples"}


def _types(member: dict[str, Any]) -> list[str] | None:
    kind = member.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list) and all(isinstance(k, str) for k in kind):
        return list(kind)
    return None


def _overlap(one: list[str], other: list[str]) -> bool:
    """Whether a value can be of a type in both: an integer is a number too."""
    widen = {"integer": "number"}
    return bool({widen.get(k, k) for k in one} & {widen.get(k, k) for k in other})


def _required(defs: dict[str, Any], ref: str) -> list[str]:
    target = defs.get(ref.removeprefix(REF_PREFIX), {})
    required = target.get("required", [])
    return list(required) if isinstance(required, list) else []


def _objects(defs: dict[str, Any], refs: list[str]) -> dict[str, Any] | None:
    """The schema an object must meet among ``refs``: the one whose required field it has."""
    if len(refs) == 1:
        return {"$ref": refs[0]}
    keys = [_required(defs, r) for r in refs]
    if any(len(k) != 1 for k in keys[:-1]) or len({k[0] for k in keys[:-1] if k}) != len(refs) - 1:
        return None
    chosen: dict[str, Any] = {"$ref": refs[-1]}
    for ref, (key,) in reversed(list(zip(refs[:-1], keys[:-1], strict=True))):
        chosen = {"if": {"required": [key]}, "then": {"$ref": ref}, "else": chosen}
    return chosen


def merged(members: list[Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """One schema that takes exactly what ``anyOf: members`` takes, or None."""
    order: list[str] = []
    out: dict[str, Any] = {}
    refs: list[str] = []
    enum: list[Any] | None = None
    for member in members:
        if not isinstance(member, dict):
            return None
        if set(member) == {"$ref"}:  # objects, told apart below
            if not refs and _overlap(["object"], order):
                return None
            order += [] if refs else ["object"]
            refs.append(member["$ref"])
            continue
        kinds = _types(member)
        if kinds is None or _overlap(kinds, order):
            return None
        order += kinds
        for key, value in member.items():
            if key == "type" or key in _NOTES:
                continue
            if key == "enum" and enum is None and isinstance(value, list):
                enum = list(value)
            elif key in _EVERY_TYPE or key in out:
                return None
            else:
                out[key] = value
    conditions: list[dict[str, Any]] = []  # what a value of one type must also meet
    if enum is not None:
        own = _enum_types(enum)
        if set(order) - {"null"} == own:
            out["enum"] = enum + ([None] if "null" in order else [])
        elif "other" in own or "object" in own:
            return None
        else:  # the enum's own type meets it; the other members' values are not asked to
            conditions.append({"if": {"type": sorted(own)}, "then": {"enum": enum}})
    if refs:
        chosen = _objects(defs, refs)
        if chosen is None:
            return None
        conditions.append({"if": {"type": "object"}, "then": chosen})
    if len(conditions) == 1:
        out.update(conditions[0])
    elif conditions:
        out["allOf"] = conditions
    return {"type": order, **out}


def _enum_types(values: list[Any]) -> set[str]:
    names = {str: "string", bool: "boolean", int: "integer", float: "number"}
    return {names.get(type(v), "other") for v in values}


def flattened(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each ``anyOf`` that one schema can say written as that schema."""
    out = copy.deepcopy(schema)
    defs = out.get("$defs", {})

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
            if isinstance(node.get("anyOf"), list):
                one = merged(node["anyOf"], defs)
                if one is not None and not set(one) & (set(node) - {"anyOf"}):
                    del node["anyOf"]
                    node.update(one)

    walk(out)
    return out
