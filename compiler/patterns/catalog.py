"""The patterns a user can name: the built-ins, and with a spec also those its ``imports`` add.
What ``kc patterns`` and ``kc explain`` look in."""

from __future__ import annotations

import os

from kc.compiler.patterns import explain, registry


def known(spec: str | None = None, allow_outside: bool = False) -> dict[str, str]:
    """Pattern name -> folder. With a spec, its imports are resolved exactly as a compile does
    (same checks, same errors), so what is listed is what the spec can use."""
    if spec is None:
        return registry.builtins()
    from kc.compiler import ir, source
    from kc.compiler.passes import parse, validate

    program = ir.Program(doc=source.load_file(spec), options=ir.Options(allow_outside=allow_outside))
    return dict(validate.validate(parse.parse(program)).patterns)


def public(patterns: dict[str, str]) -> dict[str, registry.Pattern]:
    """The patterns a stage may name, loaded, by name (kc's internal ones are left out)."""
    loaded = {name: registry.load(folder) for name, folder in sorted(patterns.items())}
    return {name: p for name, p in loaded.items() if not p.manifest.internal}


def listing(patterns: dict[str, str]) -> str:
    """One line per pattern: its name, its summary, and where it comes from unless built in."""
    lines = []
    for name, pattern in public(patterns).items():
        origin = "" if pattern.builtin else f"  [{os.path.relpath(pattern.folder)}]"
        if not pattern.builtin and name in registry.builtins():
            origin += " (overrides the built-in)"
        lines.append(f"{name:<12} {explain.summary(pattern)}{origin}")
    return "\n".join(lines) + "\n"
