"""The passes, in the order they run. Each takes a Program and returns a new one; a pass that
finds errors raises them all together at its end."""

from __future__ import annotations

from collections.abc import Callable

from kc.compiler import diagnostics as diag
from kc.compiler import ir, source
from kc.compiler.passes import (
    annotate,
    defaults,
    labels,
    limits,
    naming,
    ordering,
    parse,
    patterns,
    policy,
    profiles,
    references,
    security,
    validate,
)

Pass = Callable[[ir.Program], ir.Program]

# Front end (parse, validate) around profiles; then the factoring passes in the order docs/design.md gives.
PASSES: tuple[Pass, ...] = (
    parse.parse,
    profiles.profiles,
    validate.validate,
    defaults.defaults,
    patterns.patterns,
    naming.naming,
    labels.labels,
    security.security,
    references.references,
    policy.policy,
    limits.limits,
    ordering.ordering,
    annotate.annotate,
)


def run(doc: source.Document, options: ir.Options | None = None) -> ir.Program:
    """Compile a loaded spec; raises CompileError with every error of the first failing pass,
    and, when that pass comes after validation, the reference errors that can be told already."""
    program = ir.Program(doc=doc, options=options or ir.Options())
    for index, step in enumerate(PASSES):
        try:
            program = step(program)
        except diag.CompileError as failed:
            found = list(failed.diagnostics)
            if validate.validate in PASSES[:index] and references.references in PASSES[index + 1 :]:
                seen = {(d.code, d.pos) for d in found}
                found += [d for d in references.unknown_targets(program) if (d.code, d.pos) not in seen]
            later = [s.__name__ for s in PASSES[index + 1 :]]
            raise diag.CompileError(found, ", ".join(later)) from None
    return program
