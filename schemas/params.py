"""Pattern parameters: the small schema language of ``pattern.yaml`` and the records it turns into
(``kc.schemas.shape``). A pattern's stage record is the common stage fields, the container fields
when the pattern runs a container (``kc.schemas.stage``), and the pattern's own parameters, of the
types ``kc.schemas.values`` names."""

from __future__ import annotations

import keyword
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from kc.schemas import shape
from kc.schemas import stage as stage_fields
from kc.schemas import values as v
from kc.schemas.record import REQUIRED, param
from kc.schemas.shape import Invalid, Range

# What a parameter declaration may say; anything else is a mistake in the pattern, not ignored.
DECL_KEYS = {
    "type",
    "enum",
    "default",
    "required",
    "description",
    "minimum",
    "maximum",
    "items",
    "values",
    "keys",
    "properties",
    "conflicts",  # other parameter -> why the two cannot both be given
    "at-least",  # another parameter of the same block that this one may not be below
}


class ParamError(ValueError):
    """A pattern.yaml parameter declaration kc cannot understand, and where in pattern.yaml."""

    def __init__(self, message: str, path: tuple[str, ...] = ("parameters",)) -> None:
        super().__init__(message)
        self.path = path


def _field_type(name: str, decl: dict[str, Any]) -> Any:
    kind = decl.get("type", "string")
    if "enum" in decl:
        return Literal[tuple(decl["enum"])]
    if kind in v.SCALARS:
        base = v.SCALARS[kind]
        bounds = {k: decl[k] for k in ("minimum", "maximum") if k in decl}
        if bounds:
            return Annotated[base, Range(ge=bounds.get("minimum"), le=bounds.get("maximum"))]
        return base
    if kind == "list":
        return list[_field_type(name, decl.get("items", {"type": "string"}))]  # type: ignore[misc]
    if kind == "map":
        key = _field_type(name, decl["keys"]) if "keys" in decl else str
        return dict[key, _field_type(name, decl.get("values", {"type": "string"}))]  # type: ignore[misc,valid-type]
    if kind == "object":
        return record_for(name.title().replace("-", ""), decl.get("properties", {}))
    raise ParamError(f"parameter '{name}': unknown type '{kind}'", ("parameters", name))


def _conflicts(parameters: dict[str, Any]) -> tuple[Callable[[Any, frozenset[str]], None], ...]:
    """A check refusing two parameters given together that a declaration's ``conflicts`` names,
    rather than silently preferring one."""
    pairs = [(k, other, why) for k, d in parameters.items() for other, why in (d.get("conflicts") or {}).items()]
    if not pairs:
        return ()

    def check(stage: Any, given: frozenset[str]) -> None:
        for one, other, why in pairs:
            if one.replace("-", "_") in given and other.replace("-", "_") in given:
                raise Invalid("value_error", f"'{one}' and '{other}' cannot both be given: {why}", fields=(one, other))

    return (check,)


def _at_least(parameters: dict[str, Any]) -> tuple[Callable[[Any, frozenset[str]], None], ...]:
    """A check refusing a value below the one its ``at-least`` names (``autoscale``'s ``max``
    below its ``min``), at the first one's line."""
    pairs = [(k, d["at-least"]) for k, d in parameters.items() if isinstance(d, dict) and "at-least" in d]
    for key, other in pairs:
        if other not in parameters or other == key:
            raise ParamError(
                f"parameter '{key}': at-least names '{other}', no other parameter here", ("parameters", key)
            )
    if not pairs:
        return ()

    def check(stage: Any, given: frozenset[str]) -> None:
        for key, other in pairs:
            value, bound = getattr(stage, _field_name(key)), getattr(stage, _field_name(other))
            if value is not None and bound is not None and value < bound:
                raise Invalid(
                    "kc_below",
                    "'{key}' is {value}, less than '{other}' ({bound})",
                    {"key": key, "value": value, "other": other, "bound": bound, "field": key},
                )

    return (check,)


def _field_name(key: str) -> str:
    name = key.replace("-", "_")
    return name + "_" if keyword.iskeyword(name) else name  # `class`: spelt `class` in the spec


def _declared(parameters: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Field name -> (type, ``param``) for a parameter block; keys keep their kebab-case
    spelling in the spec."""
    out: dict[str, tuple[Any, Any]] = {}
    for key, decl in parameters.items():
        if not isinstance(decl, dict):
            raise ParamError(f"parameter '{key}' must be a mapping", ("parameters", key))
        unknown = sorted(set(decl) - DECL_KEYS)
        if unknown:
            raise ParamError(
                f"parameter '{key}': unknown key '{unknown[0]}' (a declaration has {', '.join(sorted(DECL_KEYS))})",
                ("parameters", key, unknown[0]),
            )
        typ = _field_type(key, decl)
        required = decl.get("required", False) and "default" not in decl
        if not required and "default" not in decl:
            typ = typ | None
        default = REQUIRED if required else decl.get("default")
        if default is not None and default is not REQUIRED and decl.get("type") in v.NORMAL:
            default = v.NORMAL[decl["type"]](default)
        name = _field_name(key)
        if not name.isidentifier():
            raise ParamError(f"parameter '{key}': use letters, digits and '-'", ("parameters", key))
        out[name] = (typ, param(default, spelling=key, description=decl.get("description") or ""))
    return out


def _inherited(base: type) -> dict[str, tuple[Any, Any]]:
    """A record's fields, to build another record from."""
    return {
        f.name: (f.type, param(f.default, factory=f.factory, spelling=f.alias, description=f.description))
        for f in shape.fields(base)
    }


def record_for(name: str, parameters: dict[str, Any]) -> type:
    """The record of an ``object`` parameter's properties."""
    return shape.made(name, _declared(parameters), _conflicts(parameters) + _at_least(parameters))


def stage_record(pattern: str, container: bool, parameters: dict[str, Any], omit: Sequence[str] = ()) -> type:
    """The record a stage of ``pattern`` is checked against: the common fields, the container
    fields (without those the pattern leaves out, so a stage that sets one gets "unknown field"
    rather than a silently ignored value), and the pattern's own parameters."""
    fields = _inherited(stage_fields.StageBase)
    checks: tuple[Any, ...] = ()
    if container:
        own = {f.name for f in shape.fields(stage_fields.StageBase)}
        extra = [f for f in shape.fields(stage_fields.ContainerStage) if f.name not in own]
        unknown = [o for o in omit if not any(o in (f.name, f.alias) for f in extra)]
        if unknown or any(f.required for f in extra if f.alias in omit):
            raise ParamError(
                f"omit: {', '.join(unknown) or 'image'} cannot be left out of the container fields", ("omit",)
            )
        fields.update((n, spec) for n, spec in _inherited(stage_fields.ContainerStage).items() if n not in own)
        for f in extra:
            if f.alias in omit:
                del fields[f.name]
        checks = tuple(c for c in shape.checks(stage_fields.ContainerStage) if not stage_fields.READS[c] & set(omit))
    fields.update(_declared(parameters))
    cross = _conflicts(parameters) + _at_least(parameters)
    return shape.made(f"{pattern.title().replace('-', '')}Stage", fields, checks + cross)
