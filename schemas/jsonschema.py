"""The spec's JSON Schema, for editors: the top level from the spec's models, and each stage
checked against the parameters of the built-in pattern it names.

A stage selects its pattern with one ``if``/``then`` per built-in pattern, keyed on the
``pattern`` const, rather than with a ``oneOf`` of the patterns: a validator checks only the
branch the stage names and reports that pattern's own errors ("'replica' was unexpected"). With a
``oneOf``, jsonschema reports only that the stage matches none of the alternatives, and
yaml-language-server shows the errors of whichever alternative its heuristic ranks closest, or
"matches multiple schemas". Keywords stay within draft 7, which yaml-language-server implements
in full (no ``$ref`` beside other keywords, no ``unevaluatedProperties``); ``patternErrorMessage``
is its message for a pattern that does not match, and other validators ignore it. Optional
values and other unions of JSON types are one schema each (``type: [object, null]``;
``kc.schemas.jsonflat``), so an editor says what is wrong rather than "not valid under any of the
given schemas".

A profile's body is described too: ``workspace``, ``defaults`` and ``policy`` as partial records
(a profile gives some of their fields, merged into the spec's before the whole is checked), and a
stage's overlay as any field of the built-in patterns; without imports, no other field.
"""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

from kc.schemas import jsonflat, models, stage
from kc.schemas import spec as spec_schema
from kc.schemas import types as t

REF = "#/$defs/{model}"


class StagePattern(NamedTuple):
    """What the schema says of a built-in pattern: the record of its stages and its summary."""

    record: type
    summary: str


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _alternatives(names: list[str]) -> str:
    # Built-in pattern names hold no regex syntax; re.escape would turn "-" into an escape that
    # JavaScript's unicode regular expressions (yaml-language-server's) refuse.
    return "|".join(names)


def _line(lone: list[str], with_image: list[str], names: list[str]) -> dict[str, Any]:
    """The one-line form as kc's parser splits it: '<pattern> <image>' for a pattern that takes
    an image and needs nothing else, '<pattern>' alone for one whose parameters all have
    defaults. A first word that is no built-in may name an imported pattern."""
    forms = f"^(?:(?:{_alternatives(lone)})|(?:{_alternatives(with_image)})\\s+\\S+)$"
    return {
        "type": "string",
        "description": "One line: '<pattern> <image>', or '<pattern>' when its parameters all have defaults.",
        "if": {"pattern": f"^(?:{_alternatives(names)})(?:\\s|$)"},
        "then": {
            "pattern": forms,
            "patternErrorMessage": f"one line is '<pattern> <image>' ({', '.join(with_image)}) "
            f"or '<pattern>' alone ({', '.join(lone)})",
        },
        "else": {"pattern": r"^\S+(?:\s+\S+)?$"},
    }


def _stage_defs(patterns: dict[str, StagePattern]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    lone: list[str] = []
    with_image: list[str] = []
    for name, pattern in patterns.items():
        schema = models.model_of(pattern.record).model_json_schema(by_alias=True, ref_template=REF)
        defs.update(schema.pop("$defs", {}))
        schema["properties"]["pattern"] = {"const": name, "description": pattern.summary}
        defs[schema["title"]] = schema
        selects = {"type": "object", "properties": {"pattern": {"const": name}}, "required": ["pattern"]}
        branches.append({"if": selects, "then": _ref(schema["title"])})
        needs = set(schema.get("required", [])) - {"pattern"}
        if not needs:
            lone.append(name)
        if "image" in schema["properties"] and needs <= {"image"}:
            with_image.append(name)
    names = list(patterns)
    # A pattern the schema does not know may come from the spec's imports: only the fields every
    # stage has are checked; kc validate checks the rest.
    imported = models.model_of(stage.StageBase).model_json_schema(by_alias=True, ref_template=REF)
    del imported["additionalProperties"]
    imported["title"] = "ImportedStage"
    imported["properties"]["pattern"] = {"type": "string", "description": "A pattern from the spec's imports."}
    defs["ImportedStage"] = imported
    other = {"type": "object", "properties": {"pattern": {"not": {"enum": names}}}, "required": ["pattern"]}
    branches.append({"if": other, "then": _ref("ImportedStage")})
    defs["StageMapping"] = {
        "type": "object",
        "required": ["pattern"],
        "properties": {"pattern": {"type": "string", "description": "The pattern this stage is built from."}},
        "allOf": branches,
    }
    defs["StageLine"] = _line(lone, with_image, names)
    defs["Stage"] = {"if": {"type": "string"}, "then": _ref("StageLine"), "else": _ref("StageMapping")}
    # kc refuses a pattern that is neither built in nor imported.
    defs["BuiltinPattern"] = {
        "if": {"type": "string"},
        "then": {
            "pattern": f"^(?:{_alternatives(names)})(?:\\s|$)",
            "patternErrorMessage": f"no such pattern without imports; the built-in ones: {', '.join(names)}",
        },
        "else": {"properties": {"pattern": {"enum": names}}},
    }
    return defs


def _partial(name: str, defs: dict[str, Any]) -> str:
    """The reference to ``Partial<name>``, made once: ``name``'s schema with nothing required, no
    defaults, and its nested records partial too. A profile overlays part of a record, which is
    merged into the spec's before the whole is checked."""
    target = f"Partial{name}"
    if target not in defs:
        defs[target] = {}  # taken before it is filled, for a record that holds itself
        defs[target] = _partial_body(copy.deepcopy(defs[name]), defs)
        defs[target]["title"] = target
    return REF.format(model=target)


def _partial_body(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with nothing required and no defaults, down through its records; the values of
    its maps and lists are whole values (an env entry, a list item) and keep their schemas."""
    if isinstance(node, list):
        return [_partial_body(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key in ("required", "default") and not isinstance(value, dict):
            continue
        if key in _WHOLE:
            out[key] = value
        elif key == "$ref" and isinstance(value, str) and value.startswith(REF.format(model="")):
            out[key] = _partial(value.removeprefix(REF.format(model="")), defs)
        else:
            out[key] = _partial_body(value, defs)
    return out


# Where a record's schema holds whole values rather than fields of its own.
_WHOLE = frozenset({"patternProperties", "additionalProperties", "items", "propertyNames"})


def _bare(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    return {k: v for k, v in schema.items() if k not in ("title", "description")}


def _profile_stage(titles: dict[str, str], defs: dict[str, Any]) -> dict[str, Any]:
    """What a profile may say of a stage: any field of the built-in patterns, each with its
    schema where every pattern that has the field agrees on it (``size``, ``env``), else its type
    where they agree on that; the stage's own pattern decides the rest (kc validate)."""
    found: dict[str, list[tuple[str, Any]]] = {}
    for pattern, title in titles.items():
        for field, schema in _partial_body(defs[title], defs)["properties"].items():
            found.setdefault(field, []).append((pattern, schema))
    properties: dict[str, Any] = {}
    for field, schemas in found.items():
        first = schemas[0][1]
        if field == "pattern":
            properties[field] = {"type": "string", "description": "Another pattern for the stage."}
        elif all(_bare(schema) == _bare(first) for _, schema in schemas):
            properties[field] = first
        else:  # each pattern's own, once
            kinds = list({json.dumps(_bare(schema), sort_keys=True): _bare(schema) for _, schema in schemas}.values())
            names = ", ".join(p for p, _ in schemas)
            properties[field] = {"anyOf": kinds, "description": f"As the stage's pattern takes it ({names})."}
    return {
        "type": ["object", "null"],
        "title": "ProfileStage",
        "description": "Fields a profile changes in one of the spec's stages.",
        "properties": properties,
    }


def _profiles(top: dict[str, Any], titles: dict[str, str]) -> list[str]:
    """Profile bodies described: the records they overlay, partial; the fields of a stage. Returns
    the fields a stage overlay may name, which the schema enforces when there are no imports."""
    defs = top["$defs"]
    profile = defs["Profile"]["properties"]
    for key, record in (("workspace", "Workspace"), ("defaults", "Defaults"), ("policy", "Policy")):
        profile[key] = {"anyOf": [{"$ref": _partial(record, defs)}, {"type": "null"}], "title": record}
    defs["ProfileStage"] = _profile_stage(titles, defs)
    profile["stages"]["additionalProperties"] = _ref("ProfileStage")
    return list(defs["ProfileStage"]["properties"])


def spec_schema_dict(patterns: dict[str, StagePattern]) -> dict[str, Any]:
    """The schema, with a stage checked against each of ``patterns`` (the built-in ones)."""
    top = models.model_of(spec_schema.Spec).model_json_schema(by_alias=True, ref_template=REF)
    top.setdefault("$defs", {}).update(_stage_defs(patterns))
    top["properties"]["stages"] = {
        "type": "object",
        "title": "Stages",
        "description": "The stages by name, in order.",
        "propertyNames": {
            "pattern": t.DNS_LABEL,
            "maxLength": 63,
            "not": {"enum": sorted(spec_schema.RESERVED_STAGES)},
        },
        "additionalProperties": _ref("Stage"),
    }
    # A parameter's name is checked as such, not only when it happens to match (patternProperties).
    for table in (top["properties"]["params"], top["$defs"]["Profile"]["properties"]["params"]["anyOf"][0]):
        (value,) = table.pop("patternProperties").values()
        table["additionalProperties"] = value
        table["propertyNames"] = {"pattern": spec_schema.PARAM_NAME, "maxLength": 63}
    titles = {name: models.model_of(p.record).__name__ for name, p in patterns.items()}
    overlaid = _profiles(top, titles)
    # With no imports, every stage names a built-in pattern, and a profile names their fields only.
    top["if"] = {"properties": {"imports": {"maxItems": 0}}}
    known = {"properties": {field: {} for field in overlaid}, "additionalProperties": False}
    top["then"] = {
        "properties": {
            "stages": {"additionalProperties": _ref("BuiltinPattern")},
            "profiles": {"additionalProperties": {"properties": {"stages": {"additionalProperties": known}}}},
        }
    }
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    top["title"] = "kc pipeline spec, language v1"
    return jsonflat.flattened(top)
