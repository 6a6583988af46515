"""The front end: everything a compile reads from disk, read once, so that the passes do no I/O.

``read`` runs before the passes: the spec fragments and pattern folders that ``imports`` names,
the organisation's policy file, the patterns the spec names, loaded, and what kc knows of widely
used images. ``files`` runs once the stages are checked, for the files that ``files`` and
``objects`` parameters name.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import imports, ir, source
from kc.compiler.diagnostics import Pos
from kc.compiler.patterns import files as file_params
from kc.compiler.patterns import registry


def read(doc: source.Document, options: ir.Options) -> ir.Source:
    fragments: list[ir.Fragment] = []
    folders: list[tuple[str, Pos]] = []
    problems: list[diag.Diagnostic] = []
    for index, entry in imports.entries(doc):
        pos = doc.pos(("imports", index))
        path, problem = imports.resolve(doc, entry, pos, options.allow_outside)
        if problem is not None or path is None:
            problems.extend([problem] if problem else [])
        elif os.path.isfile(path):
            fragments.append(ir.Fragment(index, source.load_file(path, imports.display(doc, entry))))
        else:
            found = imports.fragments_in(doc, path)
            if not found and not registry.pattern_folders(path):
                problems.append(imports.empty_folder(entry, pos))
            fragments += [ir.Fragment(index, source.load_file(f, imports.display(doc, entry, f))) for f in found]
            folders.append((path, pos))
    known, shadowing = registry.with_imports(folders) if not problems else (registry.builtins(), [])
    policy_file = source.load_file(options.policy_file) if options.policy_file else None
    named = set(_pattern_names(doc, fragments, options)) | {registry.WORKSPACE}
    loaded = {n: registry.load(known[n]) for n in sorted(named) if n in known}
    library = registry.Library(known, loaded, registry.known_images())
    return ir.Source(doc, options, ir.Inputs(tuple(fragments), policy_file, library, tuple(problems + shadowing)))


def _pattern_names(doc: source.Document, fragments: list[ir.Fragment], options: ir.Options) -> Iterator[str]:
    """Every pattern name a stage may end up with: in the spec's and its fragments' stages, in
    the profiles' overlays, and in ``--set …pattern=``."""
    tables = [doc.data, *(f.doc.data for f in fragments)] if isinstance(doc.data, dict) else []
    profiles = doc.data.get("profiles") if isinstance(doc.data, dict) else None
    if isinstance(profiles, dict):
        tables += [p for p in profiles.values() if isinstance(p, dict)]
    for table in tables:
        stages = table.get("stages") if isinstance(table, dict) else None
        for stage in stages.values() if isinstance(stages, dict) else ():
            if isinstance(stage, str) and stage.split():
                yield stage.split()[0]
            elif isinstance(stage, dict) and "pattern" in stage:
                yield str(stage["pattern"])
    yield from (value for key, value in options.sets if key.endswith(".pattern"))


def files(draft: ir.Draft) -> dict[tuple[str, str], Any]:
    """What each ``files`` parameter (text by base name) and ``objects`` parameter (Kubernetes
    objects) of an expanded stage reads, by (stage, parameter)."""
    readers = {"files": file_params.read_texts, "objects": file_params.read_objects}
    out: dict[tuple[str, str], Any] = {}
    errors: list[diag.Diagnostic] = []
    where = file_params.Where(draft.doc, draft.options.allow_outside, draft.namespace)
    for stage in draft.stages:
        for key, decl in draft.library[stage.pattern].manifest.parameters.items():
            reader = readers.get(str(decl.get("type")))
            if reader is not None:
                out[(stage.name, key)], found = reader(where, stage.name, key, stage.params.get(key) or [])
                errors.extend(found)
    diag.raise_if_errors(errors)
    return out


def known_patterns(spec: str | None = None, allow_outside: bool = False) -> dict[str, str]:
    """Pattern name -> folder: the built-ins, and with a spec those its imports add, resolved
    exactly as a compile does (same checks, same errors)."""
    if spec is None:
        return registry.builtins()
    inputs = read(source.load_file(spec), ir.Options(allow_outside=allow_outside)).inputs
    diag.raise_if_errors(list(inputs.problems))
    return inputs.library.folders
