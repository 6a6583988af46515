"""parse: the raw document's shape, stages from imported spec fragments, and the one-line stage
shorthand ``name: <pattern> [<image>]``."""

from __future__ import annotations

from kc.compiler import diagnostics as diag
from kc.compiler import ir
from kc.schemas import record


def _fragments(program: ir.Source) -> list[diag.Diagnostic]:
    """Stages from imported spec fragments (files) come first, in import order, then the spec's
    own; each keeps the positions of the file it was written in."""
    doc = program.doc
    merged: dict[str, object] = {}
    errors: list[diag.Diagnostic] = []
    for fragment in (f.doc for f in program.inputs.fragments):
        data = fragment.data if isinstance(fragment.data, dict) else {}
        for key in data:
            if key != "stages":
                errors.append(
                    diag.error(
                        "KC101", fragment.pos((key,), key=True), f"a spec fragment holds only 'stages', not '{key}'"
                    )
                )
        stages = data.get("stages")
        if not isinstance(stages, dict):
            errors.append(diag.error("KC104", fragment.pos(()), "a spec fragment needs a 'stages' mapping"))
            continue
        for name, stage in stages.items():
            if name in merged:
                errors.append(
                    diag.error("KC211", fragment.pos(("stages", name), key=True), f"stage '{name}' is defined twice")
                )
            merged[name] = stage
        own = doc.data.get("stages") if isinstance(doc.data.get("stages"), dict) else {}
        for table, theirs in ((doc.values, fragment.values), (doc.keys, fragment.keys)):
            table.update((p, v) for p, v in theirs.items() if len(p) > 1 and p[0] == "stages" and p[1] not in own)
    own = doc.data.get("stages")
    if merged and isinstance(own, dict):
        for name in own:
            if name in merged:
                errors.append(
                    diag.error(
                        "KC211",
                        doc.pos(("stages", name), key=True),
                        f"stage '{name}' is also defined in an imported fragment",
                    )
                )
        doc.data["stages"] = {**merged, **own}
    return errors


def parse(program: ir.Source) -> ir.Source:
    program = record.replace(program, doc=program.doc.copy())  # the caller's document stays as it was
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
    errors = _fragments(program)
    stages = doc.data.get("stages")
    if isinstance(stages, dict):
        for name, stage in stages.items():
            path = ("stages", name)
            if isinstance(stage, str):
                words = stage.split()
                if not 1 <= len(words) <= 2:
                    errors.append(
                        diag.error(
                            "KC106",
                            doc.pos(path),
                            f"stage '{name}': the one-line form is '<pattern>' or '<pattern> <image>'",
                            f"for example '{name}: service nginx:1.27.3', or '{name}: redis' for a pattern"
                            " whose parameters all have defaults",
                        )
                    )
                    continue
                # The pattern alone leaves its image to the pattern's default; the patterns pass
                # reports a missing one, as it does any required parameter.
                stages[name] = dict(zip(("pattern", "image"), words, strict=False))
                for key in stages[name]:
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
    return program
