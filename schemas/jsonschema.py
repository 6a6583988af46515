"""The spec's JSON Schema, for editors: the top level, with each stage checked against the
parameters of the pattern it names."""

from __future__ import annotations

from typing import Any

from kc.compiler.patterns import registry
from kc.schemas import spec as spec_schema

REF = "#/$defs/{model}"


def spec_schema_dict() -> dict[str, Any]:
    top = spec_schema.Spec.model_json_schema(by_alias=True, ref_template=REF)
    defs = top.setdefault("$defs", {})
    variants: list[dict[str, Any]] = [
        {"type": "string", "pattern": r"^[a-z0-9-]+ \S+$", "description": "<pattern> <image>"}
    ]
    for name, folder in sorted(registry.builtins().items()):
        pattern = registry.load(folder)
        if pattern.manifest.internal:
            continue
        schema = pattern.model.model_json_schema(by_alias=True, ref_template=REF)
        defs.update(schema.pop("$defs", {}))
        schema["properties"]["pattern"] = {"const": name, "description": pattern.manifest.summary}
        variants.append(schema)
    top["properties"]["stages"]["additionalProperties"] = {"anyOf": variants}
    top["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    top["title"] = "kc pipeline spec, language v1"
    return top
