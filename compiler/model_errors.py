"""Turning pydantic's validation errors into positioned diagnostics. Only a spec the plain check
(``kc.schemas.check``) could not vouch for gets here, so pydantic is imported here only then."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import expected, source
from kc.schemas import hosts, values
from kc.schemas import spec as spec_schema

_RANGE = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_short", "too_long"}


def _sentence(message: str) -> str:
    """pydantic's message inside kc's: its first letter lower-cased, and only that (the rest may
    quote values, whose case matters: 'IfNotPresent')."""
    return message[:1].lower() + message[1:]


def _closest(value: Any, choices: list[str]) -> str:
    """A "did you mean" among a field's allowed values; the same word in another case first."""
    same = [c for c in choices if c.lower() == str(value).lower()]
    return f"did you mean '{same[0]}'?" if same else diag.did_you_mean(str(value), choices)


def _at_fields(
    doc: source.Document, path: source.Path, fields: tuple[str, ...], fallback: diag.Pos
) -> tuple[diag.Pos, tuple[diag.Note, ...]]:
    """Where a check over several fields points: at the one written last (an overlay from a
    profile or --set counts as later than the spec), with the others as notes; at ``fallback``
    (the record's own place) when none of them is written anywhere."""
    given = [(f, (*path, *f.split("."))) for f in fields]
    found = [(f, doc.pos(p, key=True)) for f, p in given if p in doc.keys or p in doc.values]
    if not found:
        return fallback, ()
    found.sort(key=lambda item: (item[1].file != doc.file, item[1].line, item[1].col))
    *earlier, (_, last) = found
    return last, tuple(diag.Note(at, f"'{name}' is given here") for name, at in earlier)


def _bad_name(err: Any, pos: diag.Pos, value: Any, where: str, param: bool) -> diag.Diagnostic:
    """A key or name that is not one: a port name, an env name, a stage name, a parameter's."""
    context = err.get("ctx", {})
    pattern = str(context.get("pattern", spec_schema.PARAM_NAME if param else ""))
    if err["type"] == "string_too_long":
        what, hint = "name", f"at most {context.get('max_length')} characters"
    else:
        what, hint = expected.noun(pattern), expected.explain(pattern, value)[1]
    return diag.error("KC105", pos, f"'{value}' is not a valid {what}{where}", hint)


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
    found = [
        (err, _real_loc(doc, base, tuple(err["loc"]), err["type"] in ("missing", "extra_forbidden")))
        for err in exc.errors()
    ]
    # A value of a union that fits none of its members: when one member got further into the
    # value (the mapping form of `retries`, of `health`), its complaints are the ones to read,
    # not another member's "should be a number" about the whole value.
    inner = {loc[:i] for _, loc in found for i in range(len(loc))}
    for err, loc in found:
        kind = err["type"]
        if loc in seen or (loc in inner and len(loc) < len(err["loc"])):
            continue  # one error per place: a union reports each member's complaint
        seen.add(loc)
        is_key = bool(loc) and loc[-1] == "[key]"
        path = (*base, *(p for p in loc if p != "[key]"))
        # A check over several fields names the one to point at (the second of two).
        named = (err.get("ctx") or {}).get("field")
        if isinstance(named, str) and (*path, named) in doc.values:
            path = (*path, named)
        field = str(path[-1]) if path else ""
        if len(path) > 1 and isinstance(path[-1], int):  # an item of a list: `writable[0]`
            field = f"{path[-2]}[{path[-1]}]"
        pos = doc.pos(path, key=is_key or kind == "extra_forbidden")
        value = err.get("input")
        if kind == "extra_forbidden":
            hint = diag.did_you_mean(field, _fields_at(model, loc[:-1]))
            out.append(diag.error("KC101", pos, f"unknown field '{field}'{where}", hint))
        elif kind == "missing":
            out.append(diag.error("KC104", doc.pos(path[:-1], key=True), f"missing field '{field}'{where}"))
        elif kind == "kc_schedule":
            out.append(diag.error("KC107", pos, f"'{field}'{where}: {err['msg']}", values.SCHEDULE_HINT))
        elif kind == "kc_image":
            out.append(diag.error("KC108", pos, f"'{field}'{where}: {err['msg']}"))
        elif kind == "kc_timezone":
            hint = diag.did_you_mean(str(value), values.time_zones()) or "an IANA name such as Europe/Berlin or UTC"
            out.append(diag.error("KC107", pos, f"'{field}'{where}: {err['msg']}", hint))
        elif kind == "kc_host":
            host = hosts.suggestion(str(value))
            hint = f"did you mean '{host}'? {hosts.HELP}" if host else hosts.HELP
            out.append(diag.error("KC106", pos, f"invalid value for '{field}'{where}: {err['msg']}", hint))
        elif kind == "kc_below":
            ctx = err["ctx"]
            hint = f"make '{ctx['key']}' at least {ctx['bound']}, or lower '{ctx['other']}'"
            out.append(diag.error("KC103", pos, f"{err['msg']}{where}", hint))
        elif kind in ("kc_port_name", "kc_egress", "value_error"):
            at, notes = _at_fields(doc, path, err.get("ctx", {}).get("kc_fields") or (), pos)
            hint = str((err.get("ctx") or {}).get("hint", ""))
            message = f"{err['msg'].removeprefix('Value error, ')}{where}"
            out.append(diag.error("KC106", at, message, hint, notes=notes))
        elif kind in _RANGE:
            out.append(diag.error("KC103", pos, f"'{field}'{where} is out of range: {_sentence(err['msg'])}"))
        elif kind in ("string_pattern_mismatch", "string_too_long") and (is_key or field in ("pipeline", "namespace")):
            out.append(_bad_name(err, pos, value, where, path[:1] == ("params",)))
        elif kind == "string_pattern_mismatch":
            what, hint = expected.explain(str(err.get("ctx", {}).get("pattern", "")), value)
            out.append(diag.error("KC106", pos, f"invalid value for '{field}'{where}: {what}", hint))
        elif kind == "literal_error":
            hint = _closest(value, re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", ""))))
            out.append(diag.error("KC106", pos, f"invalid value for '{field}'{where}: {_sentence(err['msg'])}", hint))
        elif kind in ("enum", "string_too_long", "kc_duplicate"):
            out.append(diag.error("KC106", pos, f"invalid value for '{field}'{where}: {_sentence(err['msg'])}"))
        else:
            out.append(diag.error("KC102", pos, f"wrong type for '{field}'{where}: {_sentence(err['msg'])}"))
    # A profile's value overlaid onto the spec is checked in both places, and said once.
    return list(dict.fromkeys(out))
