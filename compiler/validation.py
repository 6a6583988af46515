"""``kc validate``: a spec checked as it is compiled, and, when no ``--profile`` is given, once
more with each of its profiles, so that a profile nobody selects today is checked too."""

from __future__ import annotations

from typing import NamedTuple

from kc.compiler import diagnostics as diag
from kc.compiler import ir, passes, source
from kc.schemas import record


class Checked(NamedTuple):
    diagnostics: list[diag.Diagnostic]  # errors and warnings, each once
    pending: list[str]  # the passes that did not run, in any of the compiles
    invalid: bool


def _compile(doc: source.Document, options: ir.Options) -> tuple[list[diag.Diagnostic], list[str], bool]:
    try:
        return list(passes.run(doc, options).warnings), [], False
    except diag.CompileError as exc:
        return list(exc.diagnostics), [p for p in exc.pending.split(", ") if p], True


def check(doc: source.Document, options: ir.Options) -> Checked:
    """Every diagnostic of ``doc`` compiled with ``options``; without profiles in ``options``,
    also those each of the spec's profiles adds alone, each with a note naming the profile.
    The language has no combinations of profiles that a spec declares, so a combination is
    checked when it is asked for: ``--profile a,b``."""
    found, pending, invalid = _compile(doc, options)
    seen = {(d.code, d.pos, d.message) for d in found}
    profiles = doc.data.get("profiles") if isinstance(doc.data, dict) else None
    for name in profiles if isinstance(profiles, dict) and not options.profiles else ():
        more, later, failed = _compile(doc, record.replace(options, profiles=(str(name),)))
        invalid = invalid or failed
        pending += [p for p in later if p not in pending]
        note = diag.Note(doc.pos(("profiles", name), key=True), f"with --profile {name}")
        for d in more:
            if (d.code, d.pos, d.message) not in seen:
                seen.add((d.code, d.pos, d.message))
                found.append(record.replace(d, notes=(*d.notes, note)))
    return Checked(found, pending, invalid)
