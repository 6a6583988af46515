"""The passes, in the order they run, and the driver that runs them. Each pass is a pure function
from one phase of the intermediate form to the next (``ir.Source`` → ``ir.Draft`` →
``ir.Program``); the front end reads from disk, before the passes and once the stages are
checked. A pass that finds errors raises them all together at its end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import frontend, ir, source
from kc.compiler.passes import (
    annotate,
    budget,
    defaults,
    dependencies,
    expand,
    images,
    labels,
    limits,
    naming,
    network,
    ordering,
    parameters,
    parse,
    policy,
    profiles,
    references,
    seal,
    security,
    stages,
    validate,
)
from kc.schemas import record

SOURCE_PASSES: tuple[Callable[[ir.Source], ir.Source], ...] = (parse.parse, profiles.profiles)
# validate: Source -> Draft. Then the factoring passes, in the order docs/design.md gives; the
# front end reads the files the stages name after ``stages``.
CHECK_PASSES: tuple[Callable[[ir.Draft], ir.Draft], ...] = (
    defaults.defaults,
    parameters.parameters,
    images.images,
    stages.stages,
)
DRAFT_PASSES: tuple[Callable[[ir.Draft], ir.Draft], ...] = (
    expand.expand,
    naming.naming,
    labels.labels,
    security.security,
    dependencies.dependencies,
    references.references,
    network.network,
    seal.seal,
    policy.policy,
    limits.limits,
    budget.budget,
)
# ordering: Draft -> Program. Then:
PROGRAM_PASSES: tuple[Callable[[ir.Program], ir.Program], ...] = (annotate.annotate,)

NAMES: tuple[str, ...] = tuple(
    p.__name__
    for p in (
        *SOURCE_PASSES,
        validate.validate,
        *CHECK_PASSES,
        *DRAFT_PASSES,
        ordering.ordering,
        *PROGRAM_PASSES,
    )
)


def _run(step: Callable[[Any], Any], value: Any, after: str = "") -> Any:
    """One pass (or a read ``after`` one); its errors name the passes that did not run, and,
    once the spec validates, the reference errors that can be told already (an unknown stage)."""
    try:
        return step(value)
    except diag.CompileError as failed:
        found = list(failed.diagnostics)
        index = NAMES.index(after or step.__name__)
        if isinstance(value, ir.Draft) and index < NAMES.index("dependencies"):
            seen = {(d.code, d.pos) for d in found}
            found += [d for d in dependencies.unknown_targets(value) if (d.code, d.pos) not in seen]
        raise diag.CompileError(found, ", ".join(NAMES[index + 1 :])) from None


def run(doc: source.Document, options: ir.Options | None = None) -> ir.Program:
    """Compile a loaded spec; raises CompileError with every error of the first failing pass."""
    src = frontend.read(doc, options or ir.Options())
    for source_pass in SOURCE_PASSES:
        src = _run(source_pass, src)
    draft: ir.Draft = _run(validate.validate, src)
    for check in CHECK_PASSES:
        draft = _run(check, draft)
    draft = record.replace(draft, files=_run(frontend.files, draft, after="stages"))
    for draft_pass in DRAFT_PASSES:
        draft = _run(draft_pass, draft)
    program: ir.Program = _run(ordering.ordering, draft)
    for program_pass in PROGRAM_PASSES:
        program = _run(program_pass, program)
    return program
