"""Turning pydantic's validation errors into positioned diagnostics. Only a spec the plain check
(``kc.schemas.check``) could not vouch for gets here, so pydantic is imported here only then."""

from __future__ import annotations

import types
import typing
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import source
from kc.schemas import params

_RANGE = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_short", "too_long"}
_NAME_HELP = "lower-case letters, digits and '-', starting and ending with a letter or digit"
_PARAM_NAME_HELP = "use lower-case letters, digits, '-' and '_', starting with a letter, at most 63 characters"


def _is_model(value: Any) -> bool:
    import pydantic

    return isinstance(value, type) and issubclass(value, pydantic.BaseModel)


def _model_of(annotation: Any) -> Any:
    if _is_model(annotation):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _fields_at(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names (as spelt in the spec) of the model that ``loc`` points into."""
    current: Any = model
    for part in loc:
        if not _is_model(current):
            return []
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        if field is None:
            continue  # a dict key or list index: stay on the value type below
        annotation = field.annotation
        origin = typing.get_origin(annotation)
        if origin in (dict, list) or isinstance(annotation, types.UnionType):
            annotation = typing.get_args(annotation)[-1] if origin in (dict, list) else annotation
        current = _model_of(annotation)
    if _is_model(current):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _real_loc(doc: source.Document, base: source.Path, loc: tuple[Any, ...], names_field: bool) -> tuple[Any, ...]:
    """Drop pydantic's union-member tags from ``loc`` so it names a path in the document; a
    missing or unknown field keeps its own name last."""
    out: list[Any] = []
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if part == "[key]" or isinstance(part, int) or (*base, *out, part) in doc.values or (last and names_field):
            out.append(part)
    return tuple(out)


def diagnostics(
    exc: Any,
    doc: source.Document,
    base: source.Path,
    model: Any,
    where: str,
) -> list[diag.Diagnostic]:
    """``exc``, a pydantic ValidationError of ``model`` over the document at ``base``, as kc's
    diagnostics."""
    out: list[diag.Diagnostic] = []
    seen: set[tuple[Any, ...]] = set()
    for err in exc.errors():
        kind = err["type"]
        loc = _real_loc(doc, base, tuple(err["loc"]), kind in ("missing", "extra_forbidden"))
        if loc in seen:
            continue  # one error per place: a union reports each member's complaint
        seen.add(loc)
        is_key = bool(loc) and loc[-1] == "[key]"
        path = (*base, *(p for p in loc if p != "[key]"))
        field = str(path[-1]) if path else ""
        pos = doc.pos(path, key=is_key or kind == "extra_forbidden")
        value = err.get("input")
        if kind == "extra_forbidden":
            hint = diag.did_you_mean(field, _fields_at(model, loc[:-1]))
            out.append(diag.error("KC101", pos, f"unknown field '{field}'{where}", hint))
        elif kind == "missing":
            out.append(diag.error("KC104", doc.pos(path[:-1], key=True), f"missing field '{field}'{where}"))
        elif kind == "kc_schedule":
            out.append(diag.error("KC107", pos, f"'{field}'{where}: {err['msg']}", params.SCHEDULE_HINT))
        elif kind == "kc_image":
            out.append(diag.error("KC108", pos, f"'{field}'{where}: {err['msg']}"))
        elif kind == "kc_timezone":
            hint = diag.did_you_mean(str(value), params.time_zones()) or "an IANA name such as Europe/Berlin or UTC"
            out.append(diag.error("KC107", pos, f"'{field}'{where}: {err['msg']}", hint))
        elif kind in ("kc_port_name", "kc_egress", "value_error"):
            out.append(diag.error("KC106", pos, f"{err['msg'].removeprefix('Value error, ')}{where}"))
        elif kind in _RANGE:
            out.append(diag.error("KC103", pos, f"'{field}'{where} is out of range: {err['msg'].lower()}"))
        elif kind in ("string_pattern_mismatch", "string_too_long") and (is_key or field in ("pipeline", "namespace")):
            out.append(
                diag.error(
                    "KC105",
                    pos,
                    f"'{value}' is not a valid name{where}",
                    _PARAM_NAME_HELP
                    if path[:1] == ("params",)
                    else f"use {_NAME_HELP}, at most 63 characters"
                    if field != "pipeline"
                    else f"use {_NAME_HELP}, starting with a letter, at most 40 characters",
                )
            )
        elif kind in ("string_pattern_mismatch", "literal_error", "enum", "string_too_long", "kc_duplicate"):
            out.append(diag.error("KC106", pos, f"invalid value for '{field}'{where}: {err['msg'].lower()}"))
        else:
            out.append(diag.error("KC102", pos, f"wrong type for '{field}'{where}: {err['msg'].lower()}"))
    # A profile's value overlaid onto the spec is checked in both places, and said once.
    return list(dict.fromkeys(out))
