"""profiles: overlay the profiles named with --profile, in order, then each --param and --set."""

from __future__ import annotations

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler import ir, merge
from kc.compiler.diagnostics import Pos
from kc.compiler.passes import references
from kc.schemas import record

CLI = "<command line>"


def _apply_profile(doc_data: dict[str, object], name: str, program: ir.Source) -> list[diag.Diagnostic]:
    doc = program.doc
    profile = doc_data["profiles"][name]  # type: ignore[index]
    if not isinstance(profile, dict):
        return []  # validate reports the wrong type
    errors = []
    base = ("profiles", name)
    stages = doc_data.get("stages") if isinstance(doc_data.get("stages"), dict) else {}
    for key, value in profile.items():
        if key == "stages" and isinstance(value, dict):
            for stage, overlay in value.items():
                if stage not in stages:  # type: ignore[operator]
                    errors.append(
                        diag.error(
                            "KC210",
                            doc.pos((*base, "stages", stage), key=True),
                            f"profile '{name}' changes stage '{stage}', which the spec does not have",
                            diag.did_you_mean(stage, stages),  # type: ignore[arg-type]
                        )
                    )
                    continue
                merge.overlay(doc, ("stages", stage), overlay, (*base, "stages", stage))
        elif key == "params" and isinstance(value, dict):
            # A profile gives declared parameters other defaults; it declares none of its own.
            for param in value:
                if param in _declared(doc_data):
                    merge.overlay(doc, ("params", param), value[param], (*base, "params", param))
                else:
                    where = doc.pos((*base, "params", param), key=True)
                    errors.append(_undeclared(doc_data, param, where, f"profile '{name}' sets"))
        elif key != "description":
            merge.overlay(doc, (key,), value, (*base, key))
    return errors


def _declared(data: dict[str, object]) -> dict[str, object]:
    """The parameters the spec declares (none while ``params`` is not a mapping: validate says so)."""
    found = data.get("params")
    return found if isinstance(found, dict) else {}


def _undeclared(data: dict[str, object], name: str, pos: Pos, who: str) -> diag.Diagnostic:
    hint = references.param_hint(name, [str(k) for k in _declared(data)])
    return diag.error("KC212", pos, f"{who} parameter '{name}', which the spec does not declare", hint)


def _apply_param(program: ir.Source, index: int, item: str) -> list[diag.Diagnostic]:
    """``--param NAME=VALUE``: the value is text as given, whatever it looks like."""
    doc = program.doc
    name, equals, text = item.partition("=")
    pos = Pos(f"--param {item}")
    if not equals or not name:
        return [diag.error("KC212", pos, "expected --param NAME=VALUE")]
    if not isinstance(doc.data.get("params", {}), dict):
        return []  # validate reports what 'params' is instead
    if name not in _declared(doc.data):
        return [_undeclared(doc.data, name, pos, "--param sets")]
    origin = ("--param", index)
    doc.values[origin] = doc.keys[origin] = pos
    merge.overlay(doc, ("params", name), text, origin)
    return []


# What --set reaches besides stages: what a profile may overlay. ``stages.NAME.field`` names a
# stage that shares its name with one of these.
TOP_LEVEL = ("workspace", "defaults", "policy", "flow", "stages")
# Maps whose values Kubernetes reads as strings, whatever they look like.
_STRING_MAPS = ("env", "labels", "annotations")


def split_set(item: str) -> tuple[str, str]:
    """``PATH=VALUE`` at the first ``=`` outside quotes, which a quoted key may hold."""
    quote, escaped = "", False
    for index, char in enumerate(item):
        if escaped:
            escaped = False
        elif quote:
            escaped = char == "\\"
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "=":
            return item[:index], item[index + 1 :]
    return item, ""


def set_path(target: str) -> tuple[str, ...] | None:
    """The keys of a ``--set`` path, split at dots outside quotes: ``api.annotations."example.com/owner"``
    is (api, annotations, example.com/owner). A quote is ``"`` or ``'``; inside one, a backslash
    keeps the next character as it is. None when a quote is not closed."""
    parts: list[str] = []
    current: list[str] = []
    quote = ""
    escaped = False
    for char in target:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\" and quote:
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
            else:
                current.append(char)
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if quote or escaped:
        return None
    return (*parts, "".join(current))


def _value(text: str, path: tuple[str, ...]) -> object:
    """The value of ``--set PATH=TEXT`` as a user means it: YAML, but a string where a string
    belongs (a value of env, labels or annotations, also in the mapping form ``env={A: 1}``), and
    YAML 1.1's yes/no/on/off are strings (as in YAML 1.2), not booleans."""
    if len(path) >= 2 and path[-2] in _STRING_MAPS:
        return text
    if path[-1] in _STRING_MAPS:
        try:
            as_text = yaml.load(text, Loader=yaml.BaseLoader)  # every scalar as it is written
        except yaml.YAMLError:
            return text
        if isinstance(as_text, dict) and all(isinstance(v, str) for v in as_text.values()):
            return as_text
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        return text
    if isinstance(value, bool) and text.lower() not in ("true", "false"):
        return text
    return value


def _apply_set(program: ir.Source, index: int, target: str, text: str) -> list[diag.Diagnostic]:
    doc = program.doc
    pos = Pos(f"--set {target}={text}")
    found = set_path(target)
    if found is None:
        return [diag.error("KC206", pos, "a quote in the path is not closed", 'quote a key as a whole: a."b.c"=VALUE')]
    parts = found
    if not all(parts) or (len(parts) < 2 and parts[0] != "flow"):
        return [diag.error("KC206", pos, "expected --set STAGE.FIELD=VALUE or --set workspace.FIELD=VALUE")]
    if parts[0] == "params":
        return [diag.error("KC206", pos, "--set does not reach parameters", f"use --param {target[7:]}={text}")]
    path = parts if parts[0] in TOP_LEVEL else ("stages", *parts)
    stages = doc.data.get("stages") if isinstance(doc.data.get("stages"), dict) else {}
    if path[0] == "stages" and (len(path) < 3 or path[1] not in stages):
        return [diag.error("KC206", pos, f"no stage '{path[1]}'", diag.did_you_mean(path[1], [*stages, *TOP_LEVEL]))]
    current: object = doc.data
    for depth, part in enumerate(path):
        if current is not None and not isinstance(current, dict):
            inside = ".".join(path[1 if path[0] == "stages" else 0 : depth])
            return [diag.error("KC206", pos, f"'{inside}' is not a mapping, so it has no '{part}'")]
        current = current.get(part) if current is not None else None
    origin = ("--set", index)
    doc.values[origin] = doc.keys[origin] = pos
    merge.overlay(doc, path, _value(text, path), origin)
    return []


def profiles(program: ir.Source) -> ir.Source:
    if program.options.profiles or program.options.params or program.options.sets:
        program = record.replace(program, doc=program.doc.copy())  # overlays change the data
    data = program.doc.data
    known = data.get("profiles") if isinstance(data.get("profiles"), dict) else {}
    errors: list[diag.Diagnostic] = []
    for name in program.options.profiles:
        if name not in known:
            hint = diag.did_you_mean(name, known) or (
                f"known profiles: {', '.join(known)}" if known else "the spec defines no profiles"
            )
            errors.append(diag.error("KC205", Pos(CLI), f"unknown profile '{name}'", hint))
        else:
            errors.extend(_apply_profile(data, name, program))
    for index, item in enumerate(program.options.params):
        errors.extend(_apply_param(program, index, item))
    for index, (target, text) in enumerate(program.options.sets):
        errors.extend(_apply_set(program, index, target, text))
    diag.raise_if_errors(errors)
    return program
