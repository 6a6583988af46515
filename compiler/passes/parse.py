"""parse: the raw document's shape, and the one-line stage shorthand ``name: <pattern> <image>``."""

from __future__ import annotations

import dataclasses

from kc.compiler import diagnostics as diag
from kc.compiler import ir


def parse(program: ir.Program) -> ir.Program:
    doc = program.doc
    if not isinstance(doc.data, dict):
        raise diag.CompileError(
            [
                diag.error(
                    "KC102",
                    doc.pos(()),
                    "the spec must be a mapping of keys such as 'kc', 'pipeline', 'stages'",
                )
            ]
        )
    stages = doc.data.get("stages")
    errors = []
    if isinstance(stages, dict):
        for name, stage in stages.items():
            path = ("stages", name)
            if isinstance(stage, str):
                words = stage.split()
                if len(words) != 2:
                    errors.append(
                        diag.error(
                            "KC106",
                            doc.pos(path),
                            f"stage '{name}': the one-line form is '<pattern> <image>'",
                            f"for example '{name}: service nginx:1.27.3'",
                        )
                    )
                    continue
                stages[name] = {"pattern": words[0], "image": words[1]}
                for key in ("pattern", "image"):
                    doc.values[(*path, key)] = doc.keys[(*path, key)] = doc.pos(path)
            elif stage is None:
                errors.append(
                    diag.error(
                        "KC104",
                        doc.pos(path, key=True),
                        f"stage '{name}' is empty",
                        "give it at least 'pattern:'",
                    )
                )
    diag.raise_if_errors(errors)
    return dataclasses.replace(program)
