"""profiles: overlay the profiles named with --profile, in order, then each --set."""

from __future__ import annotations

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler import ir, merge
from kc.compiler.diagnostics import Pos
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
        elif key != "description":
            merge.overlay(doc, (key,), value, (*base, key))
    return errors


# What --set reaches besides stages: what a profile may overlay. ``stages.NAME.field`` names a
# stage that shares its name with one of these.
TOP_LEVEL = ("workspace", "defaults", "policy", "flow", "stages")
# Maps whose values Kubernetes reads as strings, whatever they look like.
_STRING_MAPS = ("env", "labels", "annotations")


def _value(text: str, path: tuple[str, ...]) -> object:
    """The value of ``--set PATH=TEXT`` as a user means it: YAML, but a string where a string
    belongs, and YAML 1.1's yes/no/on/off are strings (as in YAML 1.2), not booleans."""
    if len(path) >= 2 and path[-2] in _STRING_MAPS:
        return text
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
    parts = tuple(target.split("."))
    if not all(parts) or (len(parts) < 2 and parts[0] != "flow"):
        return [diag.error("KC206", pos, "expected --set STAGE.FIELD=VALUE or --set workspace.FIELD=VALUE")]
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
    if program.options.profiles or program.options.sets:
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
    for index, (target, text) in enumerate(program.options.sets):
        errors.extend(_apply_set(program, index, target, text))
    diag.raise_if_errors(errors)
    return program
