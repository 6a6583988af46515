"""profiles: overlay the profiles named with --profile, in order, then each --set."""

from __future__ import annotations

import dataclasses

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler import ir, merge
from kc.compiler.diagnostics import Pos

CLI = "<command line>"


def _apply_profile(doc_data: dict[str, object], name: str, program: ir.Program) -> list[diag.Diagnostic]:
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


def _apply_set(program: ir.Program, index: int, target: str, text: str) -> list[diag.Diagnostic]:
    doc = program.doc
    where = f"--set {target}={text}"
    pos = Pos(where)
    parts = target.split(".")
    stages = doc.data.get("stages") if isinstance(doc.data.get("stages"), dict) else {}
    if len(parts) < 2 or not all(parts):
        return [diag.error("KC206", pos, "expected --set STAGE.FIELD=VALUE")]
    if parts[0] not in stages:
        return [diag.error("KC206", pos, f"no stage '{parts[0]}'", diag.did_you_mean(parts[0], stages))]
    current = stages[parts[0]]
    for depth, part in enumerate(parts[1:], 1):
        if current is not None and not isinstance(current, dict):
            inside = ".".join(parts[:depth])
            return [diag.error("KC206", pos, f"'{inside}' is not a mapping, so it has no '{part}'")]
        current = current.get(part) if current is not None else None
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError:
        value = text
    origin = ("--set", index)
    doc.values[origin] = doc.keys[origin] = pos
    merge.overlay(doc, ("stages", *parts), value, origin)
    return []


def profiles(program: ir.Program) -> ir.Program:
    if program.options.profiles or program.options.sets:
        program = dataclasses.replace(program, doc=program.doc.copy())  # overlays change the data
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
